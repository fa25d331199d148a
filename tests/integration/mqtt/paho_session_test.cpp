// Issue 6 with Eclipse Paho MQTT C++ as the client: clean session 0 keeps subscriptions across
// reconnects and gateway restarts (CONNACK session present), clean session 1 discards them, and
// the keep-alive is enforced at 1.5 times the client's value.

#include <mqtt/async_client.h>
#include <signal.h>

#include <chrono>

#include "edgehub/identity/sas_token.hpp"
#include "edgehub/mqtt_proto/codec.hpp"
#include "integration/mqtt/mqtt_test_client.hpp"
#include "integration/tls/tls_fixture.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

class PahoSession : public TlsGatewayTest {
 protected:
  void SetUp() override {
    test::write_file(dir_ / "identities.toml", sas_device_entry("dev1"),
                     std::filesystem::perms(0600));
    start();
  }
  void start() {
    // Paho verifies the host it dials (127.0.0.1) against the certificate: an IP SAN.
    gateway_ = start_gateway("identities = \"file://" + (dir_ / "identities.toml").string() +
                             "\"\nserver_cert_extra_sans = [\"127.0.0.1\"]\n");
  }
  void TearDown() override {
    if (gateway_ && gateway_->running()) {
      gateway_->signal(SIGTERM);
      EXPECT_EQ(gateway_->wait_for(15s), 0);
    }
  }

  // Connects dev1 and returns whether the gateway said "session present".
  bool connect(mqtt::async_client& client, bool clean_session) {
    const auto password = sas_password("dev1");
    mqtt::ssl_options ssl;
    ssl.set_trust_store(pki_.files.root_cert.string());
    ssl.set_enable_server_cert_auth(true);
    auto options =
        mqtt::connect_options_builder()
            .mqtt_version(MQTTVERSION_3_1_1)
            .clean_session(clean_session)
            .keep_alive_interval(60s)
            .user_name("hub.azure-devices.net/dev1/?api-version=2021-04-12")
            .password(std::string(reinterpret_cast<const char*>(password.data()), password.size()))
            .ssl(ssl)
            .finalize();
    auto tok = client.connect(options);
    tok->wait_for(20s);
    return tok->get_connect_response().is_session_present();
  }

  std::string uri() const { return "ssl://127.0.0.1:" + std::to_string(ports_.mqtt); }

  std::unique_ptr<ChildProcess> gateway_;
};

TEST_F(PahoSession, CleanSessionZeroKeepsSubscriptionsAcrossReconnectsAndRestarts) {
  {
    mqtt::async_client client(uri(), "dev1", mqtt::create_options(MQTTVERSION_3_1_1));
    EXPECT_FALSE(connect(client, false)) << "a first connection has no session";
    auto sub = client.subscribe("devices/dev1/messages/devicebound/#", 1);
    ASSERT_TRUE(sub->wait_for(10s));
    EXPECT_EQ(sub->get_subscribe_response().get_reason_codes().at(0),
              mqtt::ReasonCode::GRANTED_QOS_1);
    client.disconnect()->wait_for(10s);
  }
  {
    mqtt::async_client client(uri(), "dev1", mqtt::create_options(MQTTVERSION_3_1_1));
    EXPECT_TRUE(connect(client, false)) << "clean session 0 resumes the session";
    client.disconnect()->wait_for(10s);
  }
  // kill -9 and restart: the session is durable.
  gateway_->signal(SIGKILL);
  gateway_->wait_for(10s);
  start();
  {
    mqtt::async_client client(uri(), "dev1", mqtt::create_options(MQTTVERSION_3_1_1));
    EXPECT_TRUE(connect(client, false)) << "the session survives a crash of the gateway";
    client.disconnect()->wait_for(10s);
  }
  {
    mqtt::async_client client(uri(), "dev1", mqtt::create_options(MQTTVERSION_3_1_1));
    EXPECT_FALSE(connect(client, true)) << "clean session 1 starts afresh";
    client.disconnect()->wait_for(10s);
  }
  {
    mqtt::async_client client(uri(), "dev1", mqtt::create_options(MQTTVERSION_3_1_1));
    EXPECT_FALSE(connect(client, false)) << "and the old session is gone";
    client.disconnect()->wait_for(10s);
  }
}

TEST_F(PahoSession, KeepAliveIsEnforcedAtOneAndAHalfTimesTheClientsValue) {
  // Keep-alive 2 s: the gateway closes after 3 s of silence.
  const auto bytes = encoded(sas_connect("dev1", "", 2));
  TlsClient client(client_options(ports_.mqtt));
  ASSERT_TRUE(client.connect()) << client.error();
  ASSERT_TRUE(client.write(bytes));
  ASSERT_NE(client.read_until(std::string("\x20\x02\x00\x00", 4)).size(), 0u);
  // A PINGREQ after 1.5 s keeps the connection alive past the first 3 s ...
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE(client.write(std::string("\xc0\x00", 2)));
  EXPECT_NE(client.read_until(std::string("\xd0\x00", 2)).find(std::string("\xd0\x00", 2)),
            std::string::npos);
  // ... and silence afterwards ends it.
  EXPECT_TRUE(client.wait_closed(10s))
      << "an idle client must be disconnected after 1.5 × keep-alive";
}

}  // namespace
}  // namespace edgehub::testing
