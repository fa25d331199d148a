// Issue 6 with Eclipse Paho MQTT C++ as the client: clean session 0 keeps subscriptions across
// reconnects and gateway restarts (CONNACK session present), clean session 1 discards them, and
// the keep-alive is enforced at 1.5 times the client's value.

#include <mqtt/async_client.h>
#include <signal.h>

#include <chrono>

#include "edgehub/identity/sas_token.hpp"
#include "edgehub/mqtt_proto/codec.hpp"
#include "integration/tls/tls_fixture.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

class PahoSession : public TlsGatewayTest {
 protected:
  void SetUp() override {
    test::write_file(
        dir_ / "identities.toml",
        std::string("[[device]]\nid = \"dev1\"\nauth = \"sas\"\nprimary_key = \"") + kKey + "\"\n",
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
    auto token = identity::make_sas_token("hub.azure-devices.net/devices/dev1", kKey,
                                          std::chrono::system_clock::now() + 1h);
    mqtt::ssl_options ssl;
    ssl.set_trust_store(pki_.files.root_cert.string());
    ssl.set_enable_server_cert_auth(true);
    auto options = mqtt::connect_options_builder()
                       .mqtt_version(MQTTVERSION_3_1_1)
                       .clean_session(clean_session)
                       .keep_alive_interval(60s)
                       .user_name("hub.azure-devices.net/dev1/?api-version=2021-04-12")
                       .password(*token)
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
  mqtt_proto::Connect c;
  c.client_id = "dev1";
  c.keep_alive = 2;  // seconds: the gateway closes after 3 s of silence
  c.username = "hub.azure-devices.net/dev1/?api-version=2021-04-12";
  auto token = identity::make_sas_token("hub.azure-devices.net/devices/dev1", kKey,
                                        std::chrono::system_clock::now() + 1h);
  c.password =
      std::vector<std::byte>(reinterpret_cast<const std::byte*>(token->data()),
                             reinterpret_cast<const std::byte*>(token->data()) + token->size());
  auto bytes = mqtt_proto::encode(c);
  ASSERT_TRUE(bytes);
  TlsClient client(client_options(ports_.mqtt));
  ASSERT_TRUE(client.connect()) << client.error();
  ASSERT_TRUE(
      client.write(std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size())));
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
