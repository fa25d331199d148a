// Issue 7, wire level: malformed AMQP input (garbage after the protocol header, a SASL frame
// header no frame can have, a frame beyond the advertised max-frame-size) closes only the
// offending connection with the AMQP error for it, and a link attach for another identity is
// refused on its own; each case is counted in a metric while a well-behaved client on the same
// gateway keeps working.

#include <gtest/gtest.h>

#include "integration/amqp/amqp_fixture.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

class AmqpWire : public AmqpGatewayTest {
 protected:
  void SetUp() override { start({"dev1", "dev2"}); }
};

TEST_F(AmqpWire, GarbageAfterTheProtocolHeaderIsAFramingError) {
  const auto before = metric_total(kAmqpRefused);
  auto c = raw();
  // "this" read as a frame size is 1.9 GB: no frame header can be formed from it.
  ASSERT_TRUE(c->write(amqp_protocol_header() + "this is not an AMQP frame\r\n"));
  const auto reply = c->read_until("amqp:connection:framing-error");
  EXPECT_EQ(reply.rfind(amqp_protocol_header(), 0), 0u) << "the gateway answers in AMQP";
  EXPECT_NE(reply.find("amqp:connection:framing-error"), std::string::npos)
      << "CLOSE carries the error\n"
      << gateway_->stderr_text();
  EXPECT_TRUE(c->wait_closed(5s));
  expect_good_client_works("dev2");
  EXPECT_GT(metric_total(kAmqpRefused), before);
}

TEST_F(AmqpWire, BadSaslFrameHeadersCloseTheConnection) {
  const std::pair<const char*, std::string> cases[] = {
      {"a 1 GB sasl-init", std::string("\x40\x00\x00\x00\x02\x01\x00\x00", 8)},
      {"a data offset inside the frame header",
       std::string("\x00\x00\x00\x0c\x01\x01\x00\x00", 8) + std::string("\x00\x53\x41\x45", 4)},
  };
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    const auto before = metric_total(kAmqpRefused);
    auto c = raw();
    ASSERT_TRUE(c->write(sasl_protocol_header() + bytes));
    // SASL has no error frame: the gateway answers the header and closes.
    const auto reply = c->read_some();
    EXPECT_EQ(reply.rfind(sasl_protocol_header(), 0), 0u) << "the gateway speaks SASL";
    EXPECT_TRUE(c->wait_closed(5s)) << gateway_->stderr_text();
    expect_good_client_works("dev2");
    EXPECT_GT(metric_total(kAmqpRefused), before);
  }
}

TEST_F(AmqpWire, AFrameBeyondTheAdvertisedMaxFrameSizeIsAFramingError) {
  const auto before = metric_total(kAmqpRefused);
  auto c = client();
  ASSERT_TRUE(c->open()) << c->error() << "\n" << gateway_->stderr_text();
  const auto max = c->peer_max_frame_size();
  ASSERT_GT(max, 512u);
  ASSERT_LE(max, 16u * 1024 * 1024) << "the gateway bounds its frame buffer";
  // A transfer-sized frame one byte over the limit, announced in its header.
  ASSERT_TRUE(c->write_bytes(amqp_frame(kAmqpFrameType, 0, std::string(max - 8 + 1, 'x'))));
  c->pump_until([] { return false; });
  EXPECT_TRUE(c->finished());
  EXPECT_EQ(c->error_name(), "amqp:connection:framing-error") << c->error();
  expect_good_client_works("dev2");
  EXPECT_GT(metric_total(kAmqpRefused), before);
}

TEST_F(AmqpWire, LinksForAnotherIdentityAreRefusedAndTheConnectionStaysUsable) {
  const auto before = metric_total(kAmqpRefused);
  auto c = cbs_client("dev1");
  const auto foreign_sender = c->attach_sender("/devices/dev2/messages/events");
  const auto foreign_receiver = c->attach_receiver("/devices/dev2/messages/devicebound");
  const auto foreign_module = c->attach_sender("/devices/dev2/modules/m/messages/events");
  const auto foreign_twin = c->attach_receiver("/devices/dev2/twin");
  for (const auto link : {foreign_sender, foreign_receiver, foreign_module, foreign_twin}) {
    EXPECT_FALSE(c->wait_attached(link)) << link;
    EXPECT_EQ(c->link_error_name(link), "amqp:unauthorized-access") << c->link_error(link);
  }
  EXPECT_TRUE(c->is_open()) << c->error();
  expect_telemetry_accepted(*c, "dev1");
  EXPECT_GE(metric_total(kAmqpRefused), before + 4);
  expect_good_client_works("dev2");
}

}  // namespace
}  // namespace edgehub::testing
