// Issue 12: malformed MQTT over real TLS, in the manner of mosquitto's malformed-packet tests.
// Every case asserts the exact reaction (the CONNACK MQTT 3.1.1 defines for it, or a close with
// nothing sent), that a counter on /metrics named the broken rule, and that a client connected
// before the case still publishes and gets its PUBACK. One daemon serves each test.

#include <gtest/gtest.h>

#include <chrono>

#include "integration/mqtt_malformed/gateway_under_test.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;
namespace proto = mqtt_proto;

// Metric labels: edgehubd_mqtt_protocol_errors_total{reason} carries the error's message.
constexpr const char* kProtocolErrors = "edgehubd_mqtt_protocol_errors_total";
constexpr const char* kConnects = "edgehubd_mqtt_connects_total";
constexpr const char* kRefused = "edgehubd_mqtt_refused_total";
constexpr const char* kConnectFailed = "edgehub_client_connect_failed_total";

std::string u16(std::size_t n) {
  return std::string{static_cast<char>((n >> 8) & 0xff), static_cast<char>(n & 0xff)};
}
std::string str(std::string_view s) {
  return u16(s.size()) + std::string(s);
}

std::string remaining_length(std::size_t n) {
  std::string out;
  do {
    auto digit = static_cast<std::uint8_t>(n % 128);
    n /= 128;
    if (n > 0) digit |= 0x80;
    out += static_cast<char>(digit);
  } while (n > 0);
  return out;
}

/// A packet with a correct Remaining Length around `body`.
std::string packet(std::uint8_t first_byte, const std::string& body) {
  return static_cast<char>(first_byte) + remaining_length(body.size()) + body;
}

/// A CONNECT with the given protocol name, level, flags and payload (keep-alive 60).
std::string connect_packet(std::string_view name, std::uint8_t level, std::uint8_t flags,
                           const std::string& payload) {
  return packet(
      0x10, str(name) + static_cast<char>(level) + static_cast<char>(flags) + u16(60) + payload);
}

std::string publish_packet(std::uint8_t first_byte, std::string_view topic,
                           const std::string& rest) {
  return packet(first_byte, str(topic) + rest);
}

struct Expected {
  std::string reply;  ///< exactly what the gateway sends before closing ("" = nothing)
  std::string metric;
  std::map<std::string, std::string> labels;
};

Expected closed(std::string reason) {
  return {"", kProtocolErrors, {{"reason", reason}}};
}

struct Case {
  std::string name;
  std::string bytes;
  Expected expected;
};

class MqttMalformed : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    GatewayUnderTestOptions o;
    o.identities = sas_device_entry("dev1") + sas_device_entry("dev2");
    // connect_timeout_ms is short so the "no CONNECT" case is quick; max_message_bytes small so
    // the oversize cases are cheap to send.
    o.limits = "connect_timeout_ms = 1500\nmax_message_bytes = 4096\n";
    gateway_ = new GatewayUnderTest(std::move(o));
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
  }

  // Runs each case on a fresh connection (CONNECTed first when `after_connect`), then checks the
  // reaction, the metric and the witness.
  void run(const std::vector<Case>& cases, bool after_connect) {
    auto& gw = *gateway_;
    WitnessClient witness(gw, "dev2");
    ASSERT_TRUE(witness.connected()) << gw.process().stderr_text();
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name);
      const auto before = gw.metric(c.expected.metric, c.expected.labels);
      std::unique_ptr<TlsClient> bad;
      if (after_connect) {
        bad = connect_mqtt(gw, sas_connect("dev1", "", 0));
      } else {
        bad = gw.open();
      }
      ASSERT_NE(bad, nullptr);
      if (!c.bytes.empty()) {
        ASSERT_TRUE(bad->write(c.bytes));
      }
      EXPECT_EQ(read_to_close(*bad), c.expected.reply) << "exact reply before the close";
      EXPECT_TRUE(bad->wait_closed(1s)) << "the offending connection is closed";
      EXPECT_EQ(gw.metric(c.expected.metric, c.expected.labels), before + 1)
          << c.expected.metric << " counts the case";
      EXPECT_TRUE(witness.check()) << "a client connected before is unaffected";
    }
    EXPECT_TRUE(gw.process().running());
  }

  static GatewayUnderTest* gateway_;
};

GatewayUnderTest* MqttMalformed::gateway_ = nullptr;

TEST_F(MqttMalformed, BeforeConnackEachViolationGetsItsReactionAndIsCounted) {
  const auto sas = encoded(sas_connect("dev1"));
  auto with_client_id = [](const std::string& id) {
    auto c = sas_connect("dev1");
    c.client_id = id;
    return encoded(c);
  };
  proto::Publish publish;
  publish.topic = "devices/dev1/messages/events/";
  // Valid connect flags for tests that break one other rule: clean session.
  const std::string payload_a = str("dev1");
  const std::vector<Case> cases = {
      {"reserved packet type 0", hex("00 00"), closed("reserved MQTT packet type")},
      {"reserved packet type 15", hex("f0 00"), closed("reserved MQTT packet type")},
      {"CONNECT fixed-header flags 0001", static_cast<char>(0x11) + sas.substr(1),
       closed("invalid fixed-header flags for the packet type")},
      {"remaining length with a fifth byte", hex("10 ff ff ff ff 7f"),
       closed("malformed remaining length (more than 4 bytes)")},
      {"remaining length beyond the packet limit", hex("10 ff ff ff 7f"),
       closed("packet exceeds the maximum packet size")},
      {"variable header truncated (protocol name cut short)", hex("10 03 00 04 4d"),
       closed("packet shorter than its fields")},
      {"CONNECT without keep-alive bytes", packet(0x10, str("MQTT") + "\x04\x02"),
       closed("packet shorter than its fields")},
      {"protocol name MQTX", connect_packet("MQTX", 4, 0x02, payload_a),
       closed("CONNECT protocol name is not MQTT")},
      {"protocol name in lower case", connect_packet("mqtt", 4, 0x02, payload_a),
       closed("CONNECT protocol name is not MQTT")},
      {"protocol level 3 with name MQTT",
       connect_packet("MQTT", 3, 0x02, payload_a),
       {connack(0x01),
        kProtocolErrors,
        {{"reason", "unsupported MQTT protocol level (only 3.1.1 is accepted)"}}}},
      {"protocol level 5 (MQTT 5.0)",
       connect_packet("MQTT", 5, 0x02, payload_a),
       {connack(0x01),
        kProtocolErrors,
        {{"reason", "unsupported MQTT protocol level (only 3.1.1 is accepted)"}}}},
      {"MQTT 3.1 (MQIsdp level 3)",
       connect_packet("MQIsdp", 3, 0x02, payload_a),
       {connack(0x01),
        kProtocolErrors,
        {{"reason", "unsupported MQTT protocol level (only 3.1.1 is accepted)"}}}},
      {"CONNECT flags reserved bit 0", connect_packet("MQTT", 4, 0x03, payload_a),
       closed("invalid CONNECT flags")},
      {"will QoS 3", connect_packet("MQTT", 4, 0x02 | 0x04 | 0x18, payload_a + str("w") + str("x")),
       closed("invalid QoS or QoS flags")},
      {"will QoS without the will flag", connect_packet("MQTT", 4, 0x02 | 0x08, payload_a),
       closed("invalid CONNECT flags")},
      {"will retain without the will flag", connect_packet("MQTT", 4, 0x02 | 0x20, payload_a),
       closed("invalid CONNECT flags")},
      {"password without user name", connect_packet("MQTT", 4, 0x02 | 0x40, payload_a + str("pw")),
       closed("invalid CONNECT flags")},
      {"will topic with a wildcard",
       connect_packet("MQTT", 4, 0x02 | 0x04, payload_a + str("devices/dev1/#") + str("x")),
       closed("invalid topic name")},
      {"client id not UTF-8", connect_packet("MQTT", 4, 0x02, str("dev\xc3\x28")),
       closed("string is not valid MQTT UTF-8")},
      {"client id with U+0000", connect_packet("MQTT", 4, 0x02, str(std::string("de\0v", 4))),
       closed("string is not valid MQTT UTF-8")},
      {"user name flag but no user name", connect_packet("MQTT", 4, 0x02 | 0x80, payload_a),
       closed("packet shorter than its fields")},
      {"bytes after the last CONNECT field", connect_packet("MQTT", 4, 0x02, payload_a + "zz"),
       closed("unexpected bytes after the last field of the packet")},
      {"empty client id with clean session 0",
       connect_packet("MQTT", 4, 0x00, str("")),
       {connack(0x02), kProtocolErrors, {{"reason", "client identifier rejected"}}}},
      {"empty client id with clean session 1 (IoT Hub needs the device id)",
       with_client_id(""),
       {connack(0x05), kConnects, {{"result", "client_id_mismatch"}}}},
      {"1,000-byte client id",
       with_client_id(std::string(1000, 'd')),
       {connack(0x05), kConnects, {{"result", "client_id_mismatch"}}}},
      {"CONNECT without a user name (no IoT Hub identity)",
       connect_packet("MQTT", 4, 0x02, payload_a),
       {connack(0x05), kConnects, {{"result", "bad_username"}}}},
      {"PUBLISH before CONNECT", encoded(publish),
       closed("packet not allowed in this connection state")},
      {"PINGREQ before CONNECT", hex("c0 00"),
       closed("packet not allowed in this connection state")},
      {"SUBSCRIBE before CONNECT", packet(0x82, u16(1) + str("a") + std::string(1, '\0')),
       closed("packet not allowed in this connection state")},
      {"no CONNECT within connect_timeout_ms", "", closed("no CONNECT within the connect timeout")},
  };
  run(cases, false);
}

TEST_F(MqttMalformed, AfterConnackEachViolationClosesSilentlyAndIsCounted) {
  const std::string own = "devices/dev1/messages/events/";
  const std::vector<Case> cases = {
      {"second CONNECT", encoded(sas_connect("dev1")),
       closed("packet not allowed in this connection state")},
      {"PUBLISH QoS 3", publish_packet(0x36, own, u16(1) + "x"),
       closed("invalid QoS or QoS flags")},
      {"PUBLISH QoS 2 (IoT Hub refuses it)", publish_packet(0x34, own, u16(1) + "x"),
       closed("QoS 2 PUBLISH is not supported")},
      {"PUBLISH QoS 0 with DUP", publish_packet(0x38, own, "x"),
       closed("invalid fixed-header flags for the packet type")},
      {"PUBLISH topic with +", publish_packet(0x30, "devices/+/messages/events/", "x"),
       closed("invalid topic name")},
      {"PUBLISH topic with #", publish_packet(0x30, "devices/dev1/messages/#", "x"),
       closed("invalid topic name")},
      {"PUBLISH empty topic", publish_packet(0x30, "", "x"), closed("invalid topic name")},
      {"PUBLISH topic with U+0000", publish_packet(0x30, std::string("devices/dev1\0/m", 15), "x"),
       closed("string is not valid MQTT UTF-8")},
      {"PUBLISH topic with invalid UTF-8", publish_packet(0x30, "devices/d\xc3\x28/m", "x"),
       closed("string is not valid MQTT UTF-8")},
      {"PUBLISH topic with an overlong encoding", publish_packet(0x30, "devices/\xc0\xaf", "x"),
       closed("string is not valid MQTT UTF-8")},
      {"PUBLISH topic with a UTF-16 surrogate", publish_packet(0x30, "devices/\xed\xa0\x80", "x"),
       closed("string is not valid MQTT UTF-8")},
      {"PUBLISH QoS 1 with packet id 0", publish_packet(0x32, own, u16(0) + "x"),
       closed("packet identifier 0")},
      {"PUBLISH topic length past the packet end", packet(0x30, u16(200) + "devices/"),
       closed("packet shorter than its fields")},
      {"PUBLISH announcing more than the packet limit", hex("30 80 80 10") + std::string(64, 'x'),
       closed("packet exceeds the maximum packet size")},
      {"PUBLISH payload over max_message_bytes", publish_packet(0x30, own, std::string(5000, 'x')),
       closed("packet exceeds the maximum packet size")},
      {"SUBSCRIBE without topics", packet(0x82, u16(1)),
       closed("SUBSCRIBE/UNSUBSCRIBE without topic filters")},
      {"SUBSCRIBE requesting QoS 3", packet(0x82, u16(1) + str("$iothub/methods/POST/#") + "\x03"),
       closed("invalid QoS or QoS flags")},
      {"SUBSCRIBE options with reserved bits",
       packet(0x82, u16(1) + str("$iothub/twin/res/#") + "\x41"),
       closed("invalid QoS or QoS flags")},
      {"SUBSCRIBE fixed-header flags 0000",
       packet(0x80, u16(1) + str("$iothub/twin/res/#") + "\x01"),
       closed("invalid fixed-header flags for the packet type")},
      {"SUBSCRIBE filter with # not last", packet(0x82, u16(1) + str("devices/#/x") + "\x01"),
       closed("invalid topic filter")},
      {"SUBSCRIBE filter with + inside a level",
       packet(0x82, u16(1) + str("devices/a+/x") + "\x01"), closed("invalid topic filter")},
      {"SUBSCRIBE with packet id 0", packet(0x82, u16(0) + str("$iothub/twin/res/#") + "\x01"),
       closed("packet identifier 0")},
      {"SUBSCRIBE option byte missing", packet(0x82, u16(1) + str("$iothub/twin/res/#")),
       closed("packet shorter than its fields")},
      {"UNSUBSCRIBE without topics", packet(0xa2, u16(1)),
       closed("SUBSCRIBE/UNSUBSCRIBE without topic filters")},
      {"UNSUBSCRIBE fixed-header flags 0000", packet(0xa0, u16(1) + str("$iothub/twin/res/#")),
       closed("invalid fixed-header flags for the packet type")},
      {"PUBREL fixed-header flags 0000", hex("60 02 00 01"),
       closed("invalid fixed-header flags for the packet type")},
      {"PUBREL for a QoS 2 flow that cannot exist", hex("62 02 00 01"),
       closed("packet not allowed in this connection state")},
      {"PUBREC from the client", hex("50 02 00 01"),
       closed("packet not allowed in this connection state")},
      {"PUBACK with packet id 0", hex("40 02 00 00"), closed("packet identifier 0")},
      {"PUBACK with a trailing byte", hex("40 03 00 01 00"),
       closed("unexpected bytes after the last field of the packet")},
      {"PINGREQ with a body", hex("c0 01 00"),
       closed("unexpected bytes after the last field of the packet")},
      {"DISCONNECT with flags", hex("e2 00"),
       closed("invalid fixed-header flags for the packet type")},
      {"CONNACK sent by the client", connack(0),
       closed("packet not allowed in this connection state")},
      {"SUBACK sent by the client", hex("90 03 00 01 00"),
       closed("packet not allowed in this connection state")},
      {"PUBLISH to a topic IoT Hub does not have",
       publish_packet(0x30, "some/broker/topic", "x"),
       {"", kRefused, {{"reason", "topic"}}}},
      {"PUBLISH to another device's topic",
       publish_packet(0x30, "devices/dev2/messages/events/", "x"),
       {"", kRefused, {{"reason", "foreign_topic"}}}},
      {"PUBLISH with a malformed property bag",
       publish_packet(0x30, own + "a=%zz", "x"),
       {"", kRefused, {{"reason", "bad_property_bag"}}}},
  };
  run(cases, true);
}

TEST_F(MqttMalformed, KeepAliveExpiryClosesTheSilentClientOnly) {
  auto& gw = *gateway_;
  WitnessClient witness(gw, "dev2");
  ASSERT_TRUE(witness.connected());
  const auto before = gw.metric(kProtocolErrors, {{"reason", "keep-alive timeout"}});
  // Keep-alive 1 s: the gateway closes after 1.5 s of silence (IoT Hub's rule).
  auto silent = connect_mqtt(gw, sas_connect("dev1", "", 1));
  ASSERT_NE(silent, nullptr);
  EXPECT_TRUE(silent->wait_closed(10s)) << "the silent client is closed";
  EXPECT_EQ(gw.metric(kProtocolErrors, {{"reason", "keep-alive timeout"}}), before + 1);
  EXPECT_TRUE(witness.check());
}

TEST_F(MqttMalformed, RefusedCredentialsAreCountedByTheIdentityMetric) {
  auto& gw = *gateway_;
  WitnessClient witness(gw, "dev2");
  ASSERT_TRUE(witness.connected());
  auto c = sas_connect("dev1");
  c.password = std::vector<std::byte>{std::byte{'x'}};
  const auto before = gw.metric(kConnectFailed, {{"id", "dev1"}, {"reason", "malformed_token"}});
  auto bad = gw.open();
  ASSERT_NE(bad, nullptr);
  ASSERT_TRUE(bad->write(encoded(c)));
  EXPECT_EQ(read_to_close(*bad), connack(0x05));
  EXPECT_EQ(gw.metric(kConnectFailed, {{"id", "dev1"}, {"reason", "malformed_token"}}), before + 1);
  EXPECT_TRUE(witness.check());
}

}  // namespace
}  // namespace edgehub::testing
