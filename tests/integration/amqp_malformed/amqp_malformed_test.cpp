// Issue 12: malformed AMQP 1.0 over real TLS, in the manner of mosquitto's malformed-packet tests.
// Every case is sent on its own connection as raw bytes and asserts the exact reaction of
// edgehubd (the CLOSE and its condition, the SASL outcome, the link's DETACH or the delivery's
// rejection, or a close with nothing more sent), that edgehubd_amqp_refused_total counted it
// once, under the reason docs/amqp.md names, and that a client connected before the case still
// sends telemetry and gets it accepted. Each offending connection must then be closed by the
// gateway. One daemon serves each test.

#include <gtest/gtest.h>

#include <chrono>

#include "edgehub/identity/sas_token.hpp"
#include "integration/amqp_malformed/amqp_wire.hpp"
#include "integration/mqtt_malformed/gateway_under_test.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;
using namespace amqp_wire;

constexpr const char* kRefused = "edgehubd_amqp_refused_total";
constexpr const char* kHub = "hub.azure-devices.net";

std::string token_for(const std::string& device) {
  return *identity::make_sas_token(std::string(kHub) + "/devices/" + device, kTestKey,
                                   std::chrono::system_clock::now() + std::chrono::hours(1));
}

/// The SASL PLAIN initial response of a device (iot-hub-protocol.md §3.1).
std::string plain_response(const std::string& device) {
  return std::string(1, '\0') + device + "@sas.hub" + std::string(1, '\0') + token_for(device);
}

/// SASL PLAIN as dev1, OPEN, BEGIN and a telemetry sender on handle 0, pipelined as clients do.
std::string authenticated_telemetry_link() {
  return sasl_protocol_header() + sasl_init_frame("PLAIN", plain_response("dev1")) +
         amqp_protocol_header() + open_frame() + begin_frame() +
         attach_sender_frame(0, 0, "/devices/dev1/messages/events");
}

/// What the gateway does with a case, read from the wire.
struct Expected {
  enum Kind {
    close,         ///< CLOSE with `condition` is the last frame
    sasl_outcome,  ///< sasl-outcome with code `sasl_code` (1: auth, 2: sys)
    sasl_ends,     ///< SASL header and sasl-mechanisms, then the socket closes (SASL has no error)
    eof,           ///< at most the protocol header back, then the socket closes
    detach,        ///< the link is detached with `condition`, the connection stays
    rejected,      ///< the delivery is rejected with `condition`, link and connection stay
  } kind;
  std::string condition;
  std::string reason;  ///< edgehubd_amqp_refused_total{reason}
  int sasl_code = -1;
};

Expected closed_with(std::string condition, std::string reason) {
  return {Expected::close, std::move(condition), std::move(reason)};
}

struct Case {
  std::string name;
  std::string bytes;
  Expected expected;
  /// When set, `then` is sent once a frame with this performative arrived (a BEGIN answered, a
  /// link's credit granted), as a client that waits for the gateway would.
  std::uint64_t wait_for = 0;
  std::string then = {};
};

/// A client connected before the cases and kept through them: each check() sends one telemetry
/// message on its link and waits for `accepted`.
class Witness {
 public:
  explicit Witness(GatewayUnderTest& gw) {
    AmqpClientOptions o;
    o.tls = gw.client_options(gw.ports().amqp);
    client_ = std::make_unique<AmqpTestClient>(o);
    if (!client_->open()) return;
    client_->attach_cbs();
    const auto reply = client_->put_token(identity::url_encode(std::string(kHub) + "/devices/dev2"),
                                          token_for("dev2"));
    if (!reply || reply->status != 200) return;
    link_ = client_->attach_sender("/devices/dev2/messages/events");
    if (!client_->wait_attached(link_)) link_ = -1;
  }
  bool ready() const { return link_ >= 0; }
  std::string error() const { return client_->error(); }
  /// Ends the connection with CLOSE, so its end is not counted as an abort.
  void close() { client_->close(); }
  bool check() {
    if (!ready()) return false;
    proton::message m(proton::binary(std::string("{\"witness\":true}")));
    const auto d = client_->send(link_, m);
    return client_->wait_outcome(d) && client_->outcome(d) == Outcome::accepted;
  }

 private:
  std::unique_ptr<AmqpTestClient> client_;
  int link_ = -1;
};

class AmqpMalformed : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    GatewayUnderTestOptions o;
    o.identities = sas_device_entry("dev1") + sas_device_entry("dev2");
    // A short connect timeout keeps the "no OPEN" case quick; a small message limit keeps the
    // oversize cases cheap to send.
    o.limits = "connect_timeout_ms = 1500\nmax_message_bytes = 4096\n";
    gateway_ = new GatewayUnderTest(std::move(o));
  }
  static void TearDownTestSuite() {
    // A clean exit: under the sanitizers a report makes it non-zero.
    gateway_->process().signal(SIGTERM);
    EXPECT_EQ(gateway_->process().wait_for(std::chrono::seconds(20)), 0)
        << gateway_->process().stderr_text();
    delete gateway_;
    gateway_ = nullptr;
  }

  double refused(const std::string& reason) {
    return gateway_->metric(kRefused, {{"protocol", "amqp"}, {"reason", reason}});
  }

  void expect_reaction(RawConnection& c, const Expected& e) {
    switch (e.kind) {
      case Expected::close: {
        const auto close = c.read_until_performative(kClose);
        ASSERT_TRUE(close) << "no CLOSE; received: " << c.summary();
        EXPECT_EQ(close->condition, e.condition) << close->description;
        EXPECT_EQ(c.frames().back().performative, kClose) << "nothing after the CLOSE";
        break;
      }
      case Expected::sasl_outcome: {
        const auto outcome = c.read_until_performative(kSaslOutcome);
        ASSERT_TRUE(outcome) << "no sasl-outcome; received: " << c.summary();
        EXPECT_EQ(outcome->sasl_code, e.sasl_code);
        EXPECT_NE(c.find(kSaslMechanisms), nullptr) << c.summary();
        break;
      }
      case Expected::sasl_ends:
        EXPECT_FALSE(c.read_until([](const RawConnection&) { return false; }));
        EXPECT_TRUE(c.closed()) << "closed, not left waiting; received: " << c.summary();
        ASSERT_EQ(c.frames().size(), 1u) << c.summary();
        EXPECT_EQ(c.frames()[0].performative, kSaslMechanisms);
        EXPECT_EQ(c.headers(), std::vector<std::string>{sasl_protocol_header()});
        break;
      case Expected::eof:
        EXPECT_FALSE(c.read_until([](const RawConnection&) { return false; }));
        EXPECT_TRUE(c.closed()) << "closed, not left waiting; received: " << c.summary();
        EXPECT_TRUE(c.frames().empty()) << c.summary();
        EXPECT_LE(c.headers().size(), 1u);
        break;
      case Expected::detach: {
        const auto detach = c.read_until_performative(kDetach);
        ASSERT_TRUE(detach) << "no DETACH; received: " << c.summary();
        EXPECT_EQ(detach->condition, e.condition) << detach->description;
        EXPECT_EQ(c.find(kClose), nullptr) << "the connection stays open";
        break;
      }
      case Expected::rejected: {
        const auto disposition = c.read_until_performative(kDisposition);
        ASSERT_TRUE(disposition) << "no DISPOSITION; received: " << c.summary();
        EXPECT_EQ(disposition->condition, e.condition) << disposition->description;
        EXPECT_EQ(c.find(kDetach), nullptr) << "the link stays attached";
        EXPECT_EQ(c.find(kClose), nullptr) << "the connection stays open";
        break;
      }
    }
  }

  // Runs each case on a fresh connection and checks the reaction, the metric and the witness;
  // then that the gateway closed every offending connection (after its 2 s drain, so all the
  // drains of a test run at once).
  void run(const std::vector<Case>& cases) {
    auto& gw = *gateway_;
    Witness witness(gw);
    ASSERT_TRUE(witness.ready()) << witness.error() << "\n" << gw.process().stderr_text();
    std::vector<std::pair<std::string, std::unique_ptr<RawConnection>>> ended;
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name);
      const auto before = refused(c.expected.reason);
      const auto all_before = gw.metric(kRefused, {{"protocol", "amqp"}});
      auto bad = std::make_unique<RawConnection>(gw.client_options(gw.ports().amqp));
      ASSERT_TRUE(bad->connect()) << bad->error();
      ASSERT_TRUE(bad->write(c.bytes));
      if (c.wait_for != 0) {
        ASSERT_TRUE(bad->read_until_performative(c.wait_for)) << bad->summary();
        ASSERT_TRUE(bad->write(c.then));
      }
      expect_reaction(*bad, c.expected);
      EXPECT_EQ(refused(c.expected.reason), before + 1)
          << kRefused << "{reason=\"" << c.expected.reason << "\"} counts the case";
      EXPECT_EQ(gw.metric(kRefused, {{"protocol", "amqp"}}), all_before + 1)
          << "one refusal, one count";
      EXPECT_TRUE(witness.check()) << "a client connected before is unaffected";
      const bool connection_stays =
          c.expected.kind == Expected::detach || c.expected.kind == Expected::rejected;
      if (connection_stays) {
        ASSERT_TRUE(bad->write(close_frame()));
        EXPECT_TRUE(bad->read_until_performative(kClose)) << "closes when asked";
      } else {
        ended.emplace_back(c.name, std::move(bad));
      }
    }
    for (auto& [name, c] : ended) {
      EXPECT_TRUE(c->wait_closed(5s)) << name << ": the gateway closes the offending connection";
    }
    EXPECT_TRUE(witness.check());
    EXPECT_TRUE(gw.process().running());
    witness.close();
  }

  static GatewayUnderTest* gateway_;
};

GatewayUnderTest* AmqpMalformed::gateway_ = nullptr;

const std::string kAmqp = amqp_protocol_header();
const std::string kSasl = sasl_protocol_header();
/// A described list whose format code 0xff is reserved: no AMQP decoder can read it.
const std::string kUndecodable("\x00\x53\x10\xff\xff\xff\xff", 7);

TEST_F(AmqpMalformed, ProtocolHeadersAndFraming) {
  run({
      {"an HTTP request instead of the protocol header", "GET / HTTP/1.1\r\nHost: gw\r\n\r\n",
       closed_with("amqp:connection:framing-error", "framing_error")},
      {"protocol id 2 (TLS) inside TLS",
       std::string("AMQP\x02\x01\x00\x00", 8),
       {Expected::eof, "", "framing_error"}},
      {"AMQP version 2.0", std::string("AMQP\x00\x02\x00\x00", 8),
       closed_with("amqp:connection:framing-error", "framing_error")},
      {"frame size 4, below the 8-byte frame header",
       kAmqp + be(4, 4) + std::string("\x02\x00\x00\x00", 4),
       closed_with("amqp:connection:framing-error", "framing_error")},
      {"data offset 1, inside the frame header",
       kAmqp + be(12, 4) + std::string("\x01\x00\x00\x00", 4) + std::string("\x00\x53\x10\x45", 4),
       closed_with("amqp:connection:framing-error", "framing_error")},
      {"data offset beyond the end of the frame",
       kAmqp + be(12, 4) + std::string("\x05\x00\x00\x00", 4) + std::string("\x00\x53\x10\x45", 4),
       closed_with("amqp:connection:framing-error", "framing_error")},
      {"frame size 70,000 over the 64 KiB max-frame-size",
       kAmqp + be(70000, 4) + std::string("\x02\x00\x00\x00", 4) + std::string(1000, 'x'),
       closed_with("amqp:connection:framing-error", "frame_too_large")},
      {"frame size 0xffffffff", kAmqp + be(0xffffffff, 4) + std::string("\x02\x00\x00\x00", 4),
       closed_with("amqp:connection:framing-error", "frame_too_large")},
      {"garbage after the protocol header", kAmqp + "this is not an AMQP frame\r\n",
       closed_with("amqp:connection:framing-error", "frame_too_large")},
      {"unknown frame type 2", kAmqp + amqp_frame(2, 0, described(kOpen, list({string("c")}))),
       closed_with("amqp:decode-error", "decode_error")},
      {"no OPEN within connect_timeout", kAmqp, {Expected::eof, "", "connect_timeout"}},
  });
}

TEST_F(AmqpMalformed, Performatives) {
  run({
      {"unknown performative 0x30", kAmqp + frame(0, 0x30, {}),
       closed_with("amqp:decode-error", "decode_error")},
      {"body a bare string, not a performative", kAmqp + amqp_frame(0, 0, string("abc")),
       closed_with("amqp:decode-error", "decode_error")},
      {"descriptor a symbol, not an unsigned long",
       kAmqp +
           amqp_frame(0, 0, std::string(1, '\0') + symbol("amqp:open:list") + list({string("c")})),
       closed_with("amqp:decode-error", "decode_error")},
      {"performative with a reserved format code", kAmqp + amqp_frame(0, 0, kUndecodable),
       closed_with("amqp:decode-error", "decode_error")},
      {"OPEN whose list claims 3 fields and 100 bytes but the frame ends after one",
       kAmqp + amqp_frame(0, 0, described(kOpen, "\xd0" + be(100, 4) + be(3, 4) + string("c"))),
       closed_with("amqp:decode-error", "decode_error")},
      {"BEGIN before OPEN", kAmqp + begin_frame(),
       closed_with("amqp:illegal-state", "illegal_state")},
      {"OPEN twice", kAmqp + open_frame() + open_frame(),
       closed_with("amqp:illegal-state", "illegal_state")},
      {"garbage after a good OPEN", kAmqp + open_frame() + "this is not an AMQP frame\r\n",
       closed_with("amqp:connection:framing-error", "frame_too_large")},
      {"BEGIN on channel 200, above channel-max 31", kAmqp + open_frame() + begin_frame(200),
       closed_with("amqp:connection:framing-error", "framing_error")},
      {"ATTACH before BEGIN",
       kAmqp + open_frame() + attach_sender_frame(0, 0, "/devices/dev1/messages/events"),
       closed_with("amqp:not-allowed", "transport_error")},
      {"END of a channel never begun", kAmqp + open_frame() + frame(3, kEnd, {}),
       closed_with("amqp:not-allowed", "transport_error")},
      {"TRANSFER on a handle never attached", kAmqp + open_frame() + begin_frame(),
       closed_with("amqp:invalid-field", "transport_error"), kBegin, transfer_frame(0, 7, 0, "hi")},
      {"multi-frame TRANSFER without a delivery-id",
       kAmqp + open_frame() + begin_frame() +
           frame(0, kTransfer,
                 {uint(0), null(), binary("t"), uint(0), boolean(false), boolean(true)},
                 described(0x75, binary("part"))),
       closed_with("amqp:invalid-field", "invalid_field")},
      {"TRANSFER whose handle is a string",
       kAmqp + open_frame() + begin_frame() +
           frame(0, kTransfer, {string("zero"), uint(0), binary("t")}),
       closed_with("amqp:decode-error", "decode_error")},
  });
}

TEST_F(AmqpMalformed, Sasl) {
  run({
      {"garbage after the SASL header",
       kSasl + "garbage, not a SASL frame",
       {Expected::sasl_ends, "", "sasl_error"}},
      {"undecodable sasl-init",
       kSasl + amqp_frame(kSaslFrameType, 0, kUndecodable),
       {Expected::sasl_ends, "", "decode_error"}},
      {"an AMQP OPEN where SASL is negotiated",
       kSasl + open_frame(),
       {Expected::sasl_ends, "", "sasl_error"}},
      {"sasl-init with an unknown mechanism",
       kSasl + sasl_init_frame("KERBEROS", ""),
       {Expected::sasl_outcome, "", "sasl_mechanism", 1}},
      {"PLAIN response without NUL separators",
       kSasl + sasl_init_frame("PLAIN", "dev1 token"),
       {Expected::sasl_outcome, "", "sasl_malformed", 1}},
      {"PLAIN user name without @sas.",
       kSasl + sasl_init_frame("PLAIN", std::string("\0dev1\0", 6) + token_for("dev1")),
       {Expected::sasl_outcome, "", "sasl_bad_user", 1}},
      {"EXTERNAL without a client certificate",
       kSasl + sasl_init_frame("EXTERNAL", ""),
       {Expected::sasl_outcome, "", "sasl_mechanism", 1}},
      {"sasl-response though no challenge was sent",
       kSasl + amqp_frame(kSaslFrameType, 0, described(kSaslResponse, list({binary("x")}))),
       {Expected::sasl_outcome, "", "sasl_error", 1}},
  });
}

TEST_F(AmqpMalformed, OversizedMessagesOnAnAuthenticatedLink) {
  run({
      {"a message over max_message_bytes (4096)",
       authenticated_telemetry_link(),
       {Expected::rejected, "amqp:link:message-size-exceeded", "rejected"},
       kFlow,
       transfer_frame(0, 0, 0, std::string(6000, 'm'))},
      {"a multi-frame delivery growing past max_message_bytes + 64 KiB",
       authenticated_telemetry_link(),
       {Expected::detach, "amqp:link:message-size-exceeded", "message_too_large"},
       kFlow,
       [] {
         // One 80,000-byte message in two frames: the first opens delivery 0, the second
         // continues it (handle only).
         const auto message = described(0x75, binary(std::string(80000, 'm')));
         return frame(0, kTransfer,
                      {uint(0), uint(0), binary("d0"), uint(0), boolean(false), boolean(true)},
                      message.substr(0, 40000)) +
                frame(0, kTransfer, {uint(0), null(), null(), null(), null(), boolean(true)},
                      message.substr(40000));
       }()},
  });
}

}  // namespace
}  // namespace edgehub::testing
