// Issue 6, wire level: malformed or forbidden MQTT input closes only the offending connection,
// with a log line and a metric, while a well-behaved client on the same gateway keeps working.

#include <signal.h>

#include <chrono>

#include "edgehub/identity/sas_token.hpp"
#include "edgehub/mqtt_proto/codec.hpp"
#include "integration/mqtt/mqtt_test_client.hpp"
#include "integration/tls/tls_fixture.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;
namespace proto = mqtt_proto;

std::string hex(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 3) {
    out += static_cast<char>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16));
  }
  return out;
}

class MqttWire : public TlsGatewayTest {
 protected:
  void SetUp() override {
    test::write_file(dir_ / "identities.toml", sas_device_entry("dev1") + sas_device_entry("dev2"),
                     std::filesystem::perms(0600));
    gateway_ =
        start_gateway("identities = \"file://" + (dir_ / "identities.toml").string() + "\"\n",
                      "connect_timeout_ms = 1000\nmax_message_bytes = 4096\n");
  }
  void TearDown() override {
    gateway_->signal(SIGTERM);
    EXPECT_EQ(gateway_->wait_for(15s), 0);
  }

  std::unique_ptr<TlsClient> open() {
    auto c = std::make_unique<TlsClient>(client_options(ports_.mqtt));
    EXPECT_TRUE(c->connect()) << c->error();
    return c;
  }

  std::unique_ptr<TlsClient> connected(const std::string& device) {
    auto c = open();
    EXPECT_TRUE(c->write(encoded(sas_connect(device, "", 60, false))));
    const auto connack = c->read_until(std::string("\x20\x02\x00\x00", 4));
    EXPECT_NE(connack.find(std::string("\x20\x02\x00\x00", 4)), std::string::npos)
        << gateway_->stderr_text();
    return c;
  }

  // A well-behaved client still connects, publishes at QoS 1 and gets its PUBACK.
  void expect_good_client_works() {
    auto good = connected("dev2");
    proto::Publish p;
    p.qos = proto::QoS::at_least_once;
    p.packet_id = 7;
    p.topic = "devices/dev2/messages/events/";
    p.payload = {std::byte{'h'}, std::byte{'i'}};
    ASSERT_TRUE(good->write(encoded(p)));
    const auto puback = std::string("\x40\x02\x00\x07", 4);
    EXPECT_NE(good->read_until(puback).find(puback), std::string::npos) << gateway_->stderr_text();
  }

  double protocol_errors() {
    auto reply = http_get(ports_.metrics, "/metrics");
    if (!reply) return -1;
    double total = 0;
    for (const auto& [name, fam] : parse_prometheus_text(reply->body).families) {
      if (name != "edgehubd_mqtt_protocol_errors_total") continue;
      for (const auto& s : fam.samples)
        total += s.value;
    }
    return total;
  }

  std::unique_ptr<ChildProcess> gateway_;
};

struct Case {
  const char* name;
  bool after_connect;
  std::string bytes;
};

TEST_F(MqttWire, MalformedInputClosesOnlyThatConnectionWithAMetric) {
  proto::Publish publish;
  publish.topic = "devices/dev1/messages/events/";
  const std::string publish_qos0 = encoded(publish);
  const std::string cases_before[][2] = {
      {"publish before CONNECT", publish_qos0},
      {"reserved flag in the CONNECT fixed header",
       hex("11 10 00 04 4d 51 54 54 04 02 00 3c 00 04 64 65 76 31 ")},
      {"remaining length longer than four bytes", hex("10 ff ff ff ff 7f ")},
      {"CONNECT with protocol level 3",
       hex("10 10 00 04 4d 51 54 54 03 02 00 3c 00 04 64 65 76 31 ")},
      {"truncated CONNECT (never completed)", hex("10 20 00 04 4d 51 54 54 ")},
  };
  for (const auto& c : cases_before) {
    SCOPED_TRACE(c[0]);
    const auto before = protocol_errors();
    auto bad = open();
    ASSERT_TRUE(bad->write(c[1]));
    EXPECT_TRUE(bad->wait_closed(5s)) << "the offending connection must be closed";
    expect_good_client_works();
    EXPECT_GT(protocol_errors(), before) << "each violation is counted";
  }

  proto::Publish qos2 = publish;
  qos2.qos = proto::QoS::at_least_once;  // encoded as QoS 1, then the QoS bits are set to 2
  qos2.packet_id = 1;
  std::string qos2_bytes = encoded(qos2);
  qos2_bytes[0] = static_cast<char>((qos2_bytes[0] & ~0x06) | 0x04);
  std::string bad_utf8 =
      hex("30 0a 00 07 64 65 76 c3 28 2f 61 78 ");  // topic "dev\xc3(/a", payload "x"
  // Remaining length 262,144: over max_message_bytes + the largest header, refused from the
  // fixed header alone, before any body is buffered.
  const std::string oversize_header = hex("30 80 80 10 ");
  // A complete PUBLISH whose 5,000-byte payload exceeds max_message_bytes = 4096.
  const std::string topic = "devices/dev1/messages/events/";
  const std::string oversize_payload = hex("30 a7 27 00 1d ") + topic + std::string(5000, 'x');
  const std::string cases_after[][2] = {
      {"second CONNECT", encoded(sas_connect("dev1"))},
      {"PUBLISH with QoS 2", qos2_bytes},
      {"invalid UTF-8 in a topic", bad_utf8},
      {"PUBLISH announcing more than the packet limit", oversize_header + std::string(64, 'x')},
      {"PUBLISH larger than max_message_bytes", oversize_payload},
      {"PUBLISH to another device's topic",
       [] {
         proto::Publish p;
         p.topic = "devices/dev2/messages/events/";
         return encoded(p);
       }()},
      {"SUBSCRIBE with a reserved-flag violation", hex("80 09 00 01 00 04 61 2f 62 63 00 ")},
  };
  for (const auto& c : cases_after) {
    SCOPED_TRACE(c[0]);
    auto bad = connected("dev1");
    ASSERT_TRUE(bad->write(c[1]));
    EXPECT_TRUE(bad->wait_closed(5s)) << "the offending connection must be closed";
    expect_good_client_works();
  }
  const auto log = gateway_->stderr_text();
  EXPECT_NE(log.find("MQTT connection closing"), std::string::npos) << log;
  EXPECT_TRUE(gateway_->running());
}

TEST_F(MqttWire, SubscriptionsOutsideTheIdentitysSpaceAreRefusedWith0x80) {
  auto c = connected("dev1");
  proto::Subscribe s;
  s.packet_id = 3;
  s.subscriptions = {{"devices/dev1/messages/devicebound/#", proto::QoS::at_least_once},
                     {"devices/dev2/messages/devicebound/#", proto::QoS::at_least_once},
                     {"some/broker/topic", proto::QoS::at_most_once},
                     {"$iothub/methods/POST/#", proto::QoS::exactly_once}};
  ASSERT_TRUE(c->write(encoded(s)));
  const auto suback = hex("90 06 00 03 01 80 80 01 ");
  EXPECT_NE(c->read_until(suback).find(suback), std::string::npos)
      << "own C2D granted QoS 1, foreign and unknown filters 0x80, QoS 2 granted as 1";
}

}  // namespace
}  // namespace edgehub::testing

namespace edgehub::testing {
namespace {

// A full store (quota reached, when_full = "refuse") is a retryable refusal: the device gets no
// PUBACK for the refused message and its connection is closed with a logged reason, so the SDK
// reconnects and resends; nothing acknowledged is dropped to make room.
class MqttStoreFull : public TlsGatewayTest {};

TEST_F(MqttStoreFull, RefusedMessagesAreNotAcknowledgedAndTheConnectionIsClosed) {
  test::write_file(dir_ / "identities.toml", sas_device_entry("dev1"),
                   std::filesystem::perms(0600));
  auto text_extra = "identities = \"file://" + (dir_ / "identities.toml").string() + "\"\n";
  auto gateway = start_gateway(text_extra);
  auto config = read_file(dir_ / "config.toml");
  config +=
      "[gateway.store]\nmax_disk_mb = 1\nwhen_full = \"refuse\"\n[gateway.routes]\nall = "
      "\"FROM /messages/* INTO $upstream\"\n";
  gateway->signal(SIGTERM);
  ASSERT_EQ(gateway->wait_for(15s), 0);
  write_file(dir_ / "config.toml", config);
  std::filesystem::remove(dir_ / "state/store.db");
  gateway = std::make_unique<ChildProcess>(
      std::vector<std::string>{EDGEHUBD_BINARY, "--config", (dir_ / "config.toml").string(),
                               "--log-target", "stderr"},
      std::vector<std::string>{notify_.env()}, dir_.path());
  ASSERT_TRUE(notify_.wait_for("READY=1", 20s)) << gateway->stderr_text();

  const auto c = sas_connect("dev1");
  TlsClient client(client_options(ports_.mqtt));
  ASSERT_TRUE(client.connect());
  ASSERT_TRUE(client.write(encoded(c)));
  ASSERT_NE(client.read_until(std::string("\x20\x02\x00\x00", 4)).size(), 0u);

  // 16 KiB messages, one at a time: a 1 MiB quota refuses one within a few hundred.
  int acknowledged = 0;
  bool closed = false;
  for (std::uint16_t id = 1; id < 2000 && !closed; ++id) {
    proto::Publish p;
    p.qos = proto::QoS::at_least_once;
    p.packet_id = id;
    p.topic = "devices/dev1/messages/events/";
    p.payload.assign(16 * 1024, std::byte{'x'});
    if (!client.write(encoded(p))) {
      closed = true;
      break;
    }
    const std::string puback{'\x40', '\x02', static_cast<char>(id >> 8),
                             static_cast<char>(id & 0xff)};
    if (client.read_until(puback).find(puback) != std::string::npos) {
      ++acknowledged;
    } else {
      closed = true;
    }
  }
  EXPECT_TRUE(closed) << "the store never filled";
  EXPECT_GT(acknowledged, 10) << "messages within the quota are acknowledged";
  EXPECT_TRUE(client.wait_closed(5s));
  const auto log = gateway->stderr_text();
  EXPECT_NE(log.find("message not accepted"), std::string::npos) << log;
  gateway->signal(SIGTERM);
  EXPECT_EQ(gateway->wait_for(15s), 0);
}

}  // namespace
}  // namespace edgehub::testing
