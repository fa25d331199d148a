// Issue 12: malformed HTTP/1.1 and WebSocket input on 443 over real TLS, against one edgehubd.
// Every case asserts the exact reaction (the status and IoT Hub error body, or the WebSocket close
// code, and whether the connection closes), that a counter on /metrics named it, and that two
// clients connected before the case — an HTTPS keep-alive device and an MQTT-over-WebSocket
// device — are still served.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "edgehub/identity/sas_token.hpp"
#include "integration/http_malformed/https_wire.hpp"
#include "integration/mqtt_malformed/gateway_under_test.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kRequests = "edgehubd_http_requests_total";
constexpr const char* kHttpErrors = "edgehubd_http_protocol_errors_total";
constexpr const char* kUpgrades = "edgehubd_websocket_upgrades_total";
constexpr const char* kMqttErrors = "edgehubd_mqtt_protocol_errors_total";

const std::string kEvents = "/devices/dev1/messages/events?api-version=2021-04-12";

std::string auth(const std::string& device) {
  return "Authorization: " +
         *identity::make_sas_token("hub.azure-devices.net/devices/" + device, kTestKey,
                                   std::chrono::system_clock::now() + std::chrono::hours(1));
}

std::map<std::string, std::string> route(const std::string& r, int status) {
  return {{"route", r}, {"status", std::to_string(status)}};
}
std::map<std::string, std::string> reason(const std::string& r) {
  return {{"reason", r}};
}

/// A TLS connection on 443 that has completed the WebSocket upgrade for `subprotocol`.
std::unique_ptr<TlsClient> open_websocket(GatewayUnderTest& gw, const std::string& subprotocol) {
  auto c = gw.open(gw.client_options(gw.ports().https));
  if (!c || !c->write(ws_upgrade("/$iothub/websocket", subprotocol))) return nullptr;
  const auto reply = read_reply(*c);
  if (!reply || reply->status != 101) return nullptr;
  return c;
}

/// The next frames until `bytes` arrived in binary frames (an MQTT answer split or not).
bool read_binary_until(TlsClient& c, std::string& pending, const std::string& bytes) {
  std::string data;
  while (data.find(bytes) == std::string::npos) {
    const auto f = ws::read_frame(c, pending);
    if (!f || f->opcode != ws::kBinary) return false;
    data += f->payload;
  }
  return true;
}

/// MQTT over WebSocket, CONNECTed as `device`.
struct WsMqtt {
  std::unique_ptr<TlsClient> client;
  std::string pending;

  WsMqtt(GatewayUnderTest& gw, const std::string& device) {
    client = open_websocket(gw, "mqtt");
    if (!client || !client->write(ws::frame(ws::kBinary, encoded(sas_connect(device)))) ||
        !read_binary_until(*client, pending, connack(0))) {
      client.reset();
    }
  }
};

/// A device that publishes over MQTT-over-WebSocket throughout the suite; check() sends the next
/// QoS 1 telemetry and waits for its PUBACK.
class WebSocketWitness {
 public:
  WebSocketWitness(GatewayUnderTest& gw, std::string device)
      : device_(std::move(device)), ws_(gw, device_) {}
  bool connected() const { return ws_.client != nullptr; }
  bool check() {
    if (!ws_.client) return false;
    ++packet_id_;
    return ws_.client->write(ws::frame(ws::kBinary, telemetry(device_, packet_id_))) &&
           read_binary_until(*ws_.client, ws_.pending, puback(packet_id_));
  }

 private:
  std::string device_;
  WsMqtt ws_;
  std::uint16_t packet_id_ = 0;
};

/// A device that posts telemetry on one HTTPS keep-alive connection throughout the suite.
class HttpsWitness {
 public:
  HttpsWitness(GatewayUnderTest& gw, std::string device)
      : device_(std::move(device)), client_(gw.open(gw.client_options(gw.ports().https))) {}
  bool check() {
    if (!client_) return false;
    const auto target = "/devices/" + device_ + "/messages/events?api-version=2021-04-12";
    if (!client_->write(http_request("POST", target, {auth(device_)}, "witness"))) return false;
    const auto reply = read_reply(*client_, pending_);
    return reply && reply->status == 204;
  }

 private:
  std::string device_;
  std::unique_ptr<TlsClient> client_;
  std::string pending_;
};

/// The reaction to one malformed request: `status` 0 means the connection closes with no answer.
struct HttpCase {
  std::string name;
  std::string bytes;
  int status;
  std::string error;       ///< IoT Hub's ErrorCode name in the JSON body
  std::string plain_body;  ///< or, for Beast's own WebSocket handshake answers, the text body
  bool closes;             ///< else the same connection serves a good request afterwards
  std::string metric;
  std::map<std::string, std::string> labels;
};

/// The reaction to one broken WebSocket stream: the close code the gateway sends (0: none).
struct WsCase {
  std::string name;
  std::string frames;
  std::uint16_t close_code;
  std::string metric;
  std::map<std::string, std::string> labels;
};

class HttpMalformed : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    GatewayUnderTestOptions o;
    o.identities = sas_device_entry("dev1") + sas_device_entry("dev2") + sas_device_entry("dev3");
    // A small message limit keeps the oversize cases cheap: the listener's body limit is then
    // 192 KiB and the WebSocket message limit 68 KiB (docs/http.md).
    o.limits = "max_message_bytes = 4096\n";
    gateway_ = new GatewayUnderTest(std::move(o));
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
  }

  void SetUp() override {
    https_witness_ = std::make_unique<HttpsWitness>(*gateway_, "dev2");
    ws_witness_ = std::make_unique<WebSocketWitness>(*gateway_, "dev3");
    ASSERT_TRUE(https_witness_->check()) << gateway_->process().stderr_text();
    ASSERT_TRUE(ws_witness_->connected()) << gateway_->process().stderr_text();
  }

  void expect_witnesses_served() {
    EXPECT_TRUE(https_witness_->check()) << "the HTTPS keep-alive client is unaffected";
    EXPECT_TRUE(ws_witness_->check()) << "the MQTT-over-WebSocket client is unaffected";
  }

  void run(const std::vector<HttpCase>& cases) {
    auto& gw = *gateway_;
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name);
      const auto before = gw.metric(c.metric, c.labels);
      auto client = gw.open(gw.client_options(gw.ports().https));
      ASSERT_NE(client, nullptr);
      ASSERT_TRUE(client->write(c.bytes));
      std::string pending;
      if (c.status != 0) {
        const auto reply = read_reply(*client, pending);
        if (!reply) {
          ADD_FAILURE() << "no answer, a silent close";
          continue;
        }
        EXPECT_EQ(reply->status, c.status) << reply->head << "\n" << reply->body;
        if (!c.error.empty()) {
          EXPECT_EQ(reply->error_code(), c.error) << reply->body;
        }
        if (!c.plain_body.empty()) {
          EXPECT_EQ(reply->body, c.plain_body);
        }
        if (c.closes && !c.error.empty()) {
          EXPECT_EQ(reply->header("Connection"), "close") << reply->head;
        }
      }
      if (c.closes) {
        EXPECT_TRUE(client->wait_closed(3s)) << "the offending connection is closed";
      } else {
        ASSERT_TRUE(client->write(http_request("POST", kEvents, {auth("dev1")}, "next")));
        const auto next = read_reply(*client, pending);
        ASSERT_TRUE(next) << "the connection stays usable";
        EXPECT_EQ(next->status, 204) << next->body;
      }
      EXPECT_EQ(gw.metric(c.metric, c.labels), before + 1) << c.metric << " counts the case";
      expect_witnesses_served();
    }
    EXPECT_TRUE(gw.process().running());
  }

  void run(const std::vector<WsCase>& cases) {
    auto& gw = *gateway_;
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name);
      const auto before = gw.metric(c.metric, c.labels);
      WsMqtt bad(gw, "dev1");
      ASSERT_NE(bad.client, nullptr);
      ASSERT_TRUE(bad.client->write(c.frames));
      std::uint16_t close_code = 0;
      while (auto f = ws::read_frame(*bad.client, bad.pending)) {
        if (f->opcode == ws::kClose) {
          close_code = f->close_code();
          break;
        }
      }
      EXPECT_EQ(close_code, c.close_code) << "the close frame the gateway sends";
      EXPECT_TRUE(bad.client->wait_closed(3s)) << "the offending connection is closed";
      EXPECT_EQ(gw.metric(c.metric, c.labels), before + 1) << c.metric << " counts the case";
      expect_witnesses_served();
    }
    EXPECT_TRUE(gw.process().running());
  }

  static GatewayUnderTest* gateway_;
  std::unique_ptr<HttpsWitness> https_witness_;
  std::unique_ptr<WebSocketWitness> ws_witness_;
};

GatewayUnderTest* HttpMalformed::gateway_ = nullptr;

HttpCase broken(std::string name, std::string bytes, std::string why) {
  return {std::move(name), std::move(bytes), 400, "BadRequest", "", true, kHttpErrors, reason(why)};
}

TEST_F(HttpMalformed, BrokenHttpRequestsGetTheirStatusAndAreCounted) {
  const std::string post = "POST " + kEvents + " HTTP/1.1\r\nHost: gw\r\n" + auth("dev1") + "\r\n";
  std::string many_properties;
  for (int i = 100; i < 600; ++i)
    many_properties += "iothub-app-p" + std::to_string(i) + ": 0123456789\r\n";
  const std::vector<HttpCase> cases = {
      broken("request line garbage", "\x01\x02\x03 garbage\r\n\r\n", "bad method"),
      broken("HTTP/0.9 request line", "GET /\r\n\r\n", "bad target"),
      broken("HTTP version 1.x spelled wrong", "GET / HTTP/1.X\r\nHost: gw\r\n\r\n", "bad version"),
      broken("HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "bad version"),
      broken("header line without a colon", "GET / HTTP/1.1\r\nHost gw\r\n\r\n", "bad field"),
      {"header line folded (obs-fold, read as a space as RFC 7230 allows)",
       "GET / HTTP/1.1\r\nHost: gw\r\n folded\r\n\r\n", 404, "NotFound", "", false, kRequests,
       route("unknown", 404)},
      {"header over 16 KiB",
       "GET / HTTP/1.1\r\nHost: gw\r\nX-Filler: " + std::string(20000, 'a') + "\r\n\r\n", 431,
       "RequestHeaderFieldsTooLarge", "", true, kHttpErrors, reason("header limit exceeded")},
      {"500 application-property headers (under 16 KiB, 7,000 bytes of properties)",
       post + many_properties + "Content-Length: 1\r\n\r\nx", 413, "MessageTooLarge", "", false,
       kRequests, route("telemetry", 413)},
      broken("two contradicting Content-Length",
             post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", "bad Content-Length"),
      broken("Content-Length not a number", post + "Content-Length: five\r\n\r\nhello",
             "bad Content-Length"),
      broken(
          "Content-Length and Transfer-Encoding: chunked",
          post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
          "bad Transfer-Encoding"),
      broken("chunk size that is not hex",
             post + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", "bad chunk"),
      {"Content-Length over the listener's body limit", post + "Content-Length: 10000000\r\n\r\n",
       413, "MessageTooLarge", "", true, kHttpErrors, reason("body limit exceeded")},
      {"chunk announcing more than the listener's body limit",
       post + "Transfer-Encoding: chunked\r\n\r\n40000\r\nxx", 413, "MessageTooLarge", "", true,
       kHttpErrors, reason("body limit exceeded")},
      {"unknown method on a known path", "BREW " + kEvents + " HTTP/1.1\r\nHost: gw\r\n\r\n", 405,
       "MethodNotAllowed", "", false, kRequests, route("unknown", 405)},
      {"batch that is not JSON",
       http_request("POST", kEvents,
                    {auth("dev1"), "Content-Type: application/vnd.microsoft.iothub.json"},
                    "[{\"body\":"),
       400, "ArgumentInvalid", "", false, kRequests, route("telemetry", 400)},
      {"path traversal in the device id",
       http_request("POST", "/devices/..%2F..%2Fdev2/messages/events?api-version=2021-04-12",
                    {auth("dev2")}, "x"),
       404, "NotFound", "", false, kRequests, route("unknown", 404)},
      {"percent-encoding junk in the device id",
       http_request("POST", "/devices/dev%zz1/messages/events?api-version=2021-04-12",
                    {auth("dev1")}, "x"),
       400, "ArgumentInvalid", "", false, kRequests, route("unknown", 400)},
      {"NUL byte (%00) in the device id",
       http_request("POST", "/devices/dev1%00/messages/events?api-version=2021-04-12",
                    {auth("dev1")}, "x"),
       404, "NotFound", "", false, kRequests, route("unknown", 404)},
  };
  run(cases);
}

TEST_F(HttpMalformed, BodyCutShortByTheClientIsCounted) {
  auto& gw = *gateway_;
  const auto labels = reason("partial message");
  const auto before = gw.metric(kHttpErrors, labels);
  {
    auto client = gw.open(gw.client_options(gw.ports().https));
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(client->write("POST " + kEvents + " HTTP/1.1\r\nHost: gw\r\n" + auth("dev1") +
                              "\r\nContent-Length: 100\r\n\r\nonly this"));
  }  // closed with 91 bytes missing
  // Nothing can be answered to a peer that left; the count is the only trace. Wait for it.
  for (int i = 0; i < 50 && gw.metric(kHttpErrors, labels) == before; ++i)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(gw.metric(kHttpErrors, labels), before + 1);
  expect_witnesses_served();
}

TEST_F(HttpMalformed, BrokenWebSocketUpgradesAreRefusedAndCounted) {
  const std::vector<HttpCase> cases = {
      {"upgrade without Sec-WebSocket-Key",
       ws_upgrade("/$iothub/websocket", "mqtt", "13", "Sec-WebSocket-Key"),
       400,
       "",
       "The WebSocket handshake Sec-WebSocket-Key field is missing",
       true,
       kUpgrades,
       {{"subprotocol", "mqtt"}, {"result", "failed"}}},
      {"upgrade with Sec-WebSocket-Version 8",
       ws_upgrade("/$iothub/websocket", "mqtt", "8"),
       426,
       "",
       "The WebSocket handshake Sec-WebSocket-Version field is invalid",
       true,
       kUpgrades,
       {{"subprotocol", "mqtt"}, {"result", "failed"}}},
      {"upgrade offering an unknown subprotocol",
       ws_upgrade("/$iothub/websocket", "stomp"),
       400,
       "BadRequest",
       "",
       true,
       kUpgrades,
       {{"subprotocol", "unknown"}, {"result", "refused"}}},
      {"upgrade without Sec-WebSocket-Protocol",
       ws_upgrade("/$iothub/websocket", "mqtt", "13", "Sec-WebSocket-Protocol"),
       400,
       "BadRequest",
       "",
       true,
       kUpgrades,
       {{"subprotocol", "unknown"}, {"result", "refused"}}},
      {"upgrade on a wrong path",
       ws_upgrade("/$iothub/websocket/../x", "mqtt"),
       404,
       "NotFound",
       "",
       true,
       kUpgrades,
       {{"subprotocol", "mqtt"}, {"result", "refused"}}},
  };
  run(cases);
}

TEST_F(HttpMalformed, BrokenWebSocketStreamsAreClosedWithTheirCodeAndCounted) {
  const std::vector<WsCase> cases = {
      {"unmasked frame from the client", ws::frame(ws::kBinary, hex("c0 00"), false), 1002,
       kHttpErrors, reason("The WebSocket frame was unmasked")},
      {"frame announcing more than the message limit",
       ws::frame(ws::kBinary, "", true, 0, std::uint64_t{1} << 20), 1009, kHttpErrors,
       reason("The WebSocket message exceeded the locally configured limit")},
      {"text frame where MQTT needs binary", ws::frame(ws::kText, "PINGREQ as text"), 1003,
       kHttpErrors, reason("WebSocket text frame (MQTT and AMQP need binary frames)")},
      {"reserved opcode 3", ws::frame(0x3, "x"), 1002, kHttpErrors,
       reason("The WebSocket frame contained an illegal opcode")},
      {"RSV1 set without a negotiated extension", ws::frame(ws::kBinary, hex("c0 00"), true, 0x40),
       1002, kHttpErrors, reason("The WebSocket frame contained illegal reserved bits")},
      {"ping longer than 125 bytes", ws::frame(ws::kPing, std::string(126, 'p')), 1002, kHttpErrors,
       reason("The WebSocket control frame size was invalid")},
      {"close with the reserved code 1005", ws::close_frame(1005), 1002, kHttpErrors,
       reason("The WebSocket close frame reason code was invalid")},
      {"close with the out-of-range code 999", ws::close_frame(999), 1002, kHttpErrors,
       reason("The WebSocket close frame reason code was invalid")},
      {"garbage MQTT inside a valid WebSocket", ws::frame(ws::kBinary, hex("00 00")), 1000,
       kMqttErrors, reason("reserved MQTT packet type")},
      {"MQTT PUBLISH QoS 3 inside a valid WebSocket",
       ws::frame(ws::kBinary, hex("36 05 00 01 61 00 01")), 1000, kMqttErrors,
       reason("invalid QoS or QoS flags")},
  };
  run(cases);
}

TEST_F(HttpMalformed, GarbageInsideAmqpOverWebSocketGetsAmqpsReactionAndIsCounted) {
  auto& gw = *gateway_;
  const std::map<std::string, std::string> labels = {{"protocol", "amqpws"},
                                                     {"result", "never_opened"}};
  const auto before = gw.metric("edgehubd_amqp_connections_total", labels);
  auto c = open_websocket(gw, "AMQPWSB10");
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->write(ws::frame(ws::kBinary, "GARBAGE!")));
  std::string pending, data;
  std::uint16_t close_code = 0;
  while (auto f = ws::read_frame(*c, pending)) {
    if (f->opcode == ws::kClose) {
      close_code = f->close_code();
      break;
    }
    data += f->payload;
  }
  // AMQP's own answer to an unknown protocol header (Proton's): the AMQP 1.0 header, an OPEN and
  // a CLOSE with amqp:connection:framing-error naming what it saw.
  EXPECT_EQ(data.rfind(std::string("AMQP\0\1\0\0", 8), 0), 0u) << data;
  EXPECT_NE(data.find("amqp:connection:framing-error"), std::string::npos) << data;
  EXPECT_NE(data.find("Unknown protocol detected: 'GARBAGE!'"), std::string::npos) << data;
  // The AMQP session ends its transport without a WebSocket close frame today; a close frame
  // 1000 (the MQTT session's graceful end) would be as right.
  EXPECT_TRUE(close_code == 0 || close_code == 1000) << close_code;
  EXPECT_TRUE(c->wait_closed(3s));
  EXPECT_EQ(gw.metric("edgehubd_amqp_connections_total", labels), before + 1);
  expect_witnesses_served();
}

}  // namespace
}  // namespace edgehub::testing
