// Issue 11, the session's write path and its single timer: acknowledgements that become ready
// together go out together, yet every PUBLISH still gets its PUBACK, in PUBLISH order (MQTT 4.6),
// also when the backpressure bound stops and restarts reading; the one timer a session keeps
// serves both the SAS token's expiry and the keep-alive.

#include <signal.h>

#include <chrono>
#include <string>

#include "edgehub/identity/sas_token.hpp"
#include "edgehub/mqtt_proto/codec.hpp"
#include "integration/mqtt/mqtt_test_client.hpp"
#include "integration/tls/tls_fixture.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;
namespace proto = mqtt_proto;

constexpr std::string_view kConnackAccepted("\x20\x02\x00\x00", 4);

class MqttPipelining : public TlsGatewayTest {
 protected:
  void SetUp() override {
    test::write_file(dir_ / "identities.toml", sas_device_entry("dev1"),
                     std::filesystem::perms(0600));
    // A small bound, so that a pipelined burst stops and restarts reading many times.
    gateway_ =
        start_gateway("identities = \"file://" + (dir_ / "identities.toml").string() + "\"\n",
                      "max_inflight_per_connection = 4\n");
  }
  void TearDown() override {
    gateway_->signal(SIGTERM);
    EXPECT_EQ(gateway_->wait_for(15s), 0);
  }

  std::unique_ptr<TlsClient> connected(const proto::Connect& connect) {
    auto c = std::make_unique<TlsClient>(client_options(ports_.mqtt));
    EXPECT_TRUE(c->connect()) << c->error();
    EXPECT_TRUE(c->write(encoded(connect)));
    const auto connack = c->read_until(std::string(kConnackAccepted));
    EXPECT_NE(connack.find(kConnackAccepted), std::string::npos) << gateway_->stderr_text();
    return c;
  }

  std::unique_ptr<ChildProcess> gateway_;
};

std::string puback(std::uint16_t id) {
  return encoded(proto::Puback{id});
}

TEST_F(MqttPipelining, APipelinedBurstIsAcknowledgedWholeAndInOrder) {
  auto client = connected(sas_connect("dev1"));
  constexpr std::uint16_t kMessages = 300;
  // A QoS 0 message in the middle takes its place in the order without an acknowledgement.
  proto::Publish qos0;
  qos0.topic = "devices/dev1/messages/events/";
  qos0.payload = {std::byte{'0'}};
  std::string burst;
  std::string expected;
  for (std::uint16_t id = 1; id <= kMessages; ++id) {
    proto::Publish p;
    p.qos = proto::QoS::at_least_once;
    p.packet_id = id;
    p.topic = "devices/dev1/messages/events/";
    const std::string body = "{\"n\":" + std::to_string(id) + "}";
    p.payload.assign(reinterpret_cast<const std::byte*>(body.data()),
                     reinterpret_cast<const std::byte*>(body.data()) + body.size());
    burst += encoded(p);
    expected += puback(id);
    if (id == kMessages / 2) burst += encoded(qos0);
  }
  ASSERT_TRUE(client->write(burst));

  std::string received;
  while (received.size() < expected.size()) {
    const auto more = client->read_some();
    if (more.empty()) break;
    received += more;
  }
  EXPECT_EQ(received.size(), expected.size()) << gateway_->stderr_text();
  EXPECT_TRUE(received == expected) << "PUBACKs missing, duplicated or out of PUBLISH order";
}

// Read-ahead (net/tls_socket_stream): two PUBLISH packets in two TLS records, one TCP segment.
// The gateway's first receive takes both; the second must be answered from what OpenSSL holds,
// as no further byte arrives to wake the session.
TEST_F(MqttPipelining, TwoPacketsInOneSegmentAreBothAnsweredWithoutMoreData) {
  auto client = connected(sas_connect("dev1"));
  std::vector<std::string> records;
  for (std::uint16_t id : {1, 2}) {
    proto::Publish p;
    p.qos = proto::QoS::at_least_once;
    p.packet_id = id;
    p.topic = "devices/dev1/messages/events/";
    p.payload = {std::byte{'{'}, std::byte{'}'}};
    records.push_back(encoded(p));
  }
  ASSERT_TRUE(client->write_records_together(records));
  const auto expected = puback(1) + puback(2);
  const auto received = client->read_until(expected);
  EXPECT_TRUE(received == expected)
      << "the second PUBLISH was not answered; " << gateway_->stderr_text();
}

TEST_F(MqttPipelining, TheConnectionClosesWhenItsSasTokenExpires) {
  auto connect = sas_connect("dev1");
  const auto token = identity::make_sas_token("hub.azure-devices.net/devices/dev1", kTestKey,
                                              std::chrono::system_clock::now() + 3s);
  ASSERT_TRUE(token);
  connect.password =
      std::vector<std::byte>(reinterpret_cast<const std::byte*>(token->data()),
                             reinterpret_cast<const std::byte*>(token->data()) + token->size());
  auto client = connected(connect);
  // Keep-alive 60 s is far away: only the token's expiry can close it.
  EXPECT_TRUE(client->wait_closed(20s)) << gateway_->stderr_text();
  EXPECT_NE(gateway_->stderr_text().find("SAS token expired"), std::string::npos);
}

TEST_F(MqttPipelining, KeepAliveStillClosesAnIdleConnectionWithALongLivedToken) {
  auto client = connected(sas_connect("dev1", "", /*keep_alive=*/2));
  // Idle: closed after 1.5 × 2 s, long before the token's hour.
  EXPECT_TRUE(client->wait_closed(20s)) << gateway_->stderr_text();
  EXPECT_EQ(gateway_->stderr_text().find("SAS token expired"), std::string::npos);
}

}  // namespace
}  // namespace edgehub::testing
