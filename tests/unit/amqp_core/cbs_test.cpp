#include "edgehub/amqp_core/cbs.hpp"

#include <gtest/gtest.h>

#include "edgehub/amqp_core/errors.hpp"
#include "test_messages.hpp"

namespace edgehub::amqp_core {
namespace {

using testing::b;

std::vector<std::byte> put_token(std::string_view type, std::string_view name,
                                 std::string_view token, std::string_view operation = "put-token") {
  return testing::encode([&](pn_message_t* m) {
    pn_data_put_string(pn_message_id(m), b("5c2a9d4e-req"));
    pn_message_set_address(m, "$cbs");
    pn_message_set_reply_to(m, "cbs");
    testing::put_string_map(pn_message_properties(m),
                            {{"operation", operation}, {"type", type}, {"name", name}});
    pn_data_put_string(pn_message_body(m), b(token));
  });
}

TEST(AmqpCbs, NodeSdkPutToken) {
  auto d = decode_message(put_token("servicebus.windows.net:sastoken",
                                    "myhub.azure-devices.net%2Fdevices%2Fdev1",
                                    "SharedAccessSignature sr=x&sig=y&se=1"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reply_to, "cbs");
  auto r = parse_put_token(*d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->request_id->text, "5c2a9d4e-req");
  EXPECT_EQ(r->audience, "myhub.azure-devices.net%2Fdevices%2Fdev1");
  EXPECT_EQ(r->token, "SharedAccessSignature sr=x&sig=y&se=1");
}

TEST(AmqpCbs, IotHubTokenTypeAccepted) {
  auto d = decode_message(put_token("azure-devices.net:sastoken", "h%2Fdevices%2Fd", "t"));
  EXPECT_TRUE(parse_put_token(*d));
}

TEST(AmqpCbs, MalformedRequests) {
  auto wrong_op = decode_message(put_token(kIotHubTokenType, "n", "t", "delete-token"));
  EXPECT_EQ(parse_put_token(*wrong_op).error(), Errc::malformed_put_token);
  auto wrong_type = decode_message(put_token("jwt", "n", "t"));
  EXPECT_EQ(parse_put_token(*wrong_type).error(), Errc::unsupported_token_type);
  auto no_token = decode_message(put_token(kIotHubTokenType, "n", ""));
  EXPECT_EQ(parse_put_token(*no_token).error(), Errc::malformed_put_token);
}

TEST(AmqpCbs, Audiences) {
  auto dev = parse_audience("myhub.azure-devices.net%2Fdevices%2Fdev1");
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->device, "dev1");
  auto mod = parse_audience("amqps://myhub.azure-devices.net/devices/dev1/modules/mod1");
  ASSERT_TRUE(mod);
  EXPECT_EQ(mod->module, "mod1");
  auto lower = parse_audience("myhub.azure-devices.net%2fdevices%2fdev%2523");
  ASSERT_TRUE(lower);
  // The audience is the URL-encoded resource, whose ids are URL-encoded themselves.
  EXPECT_EQ(lower->device, "dev#");
  EXPECT_EQ(parse_audience("myhub.azure-devices.net").error(), Errc::bad_audience);
  EXPECT_EQ(parse_audience("myhub.azure-devices.net%2Fdevices").error(), Errc::bad_audience);
  EXPECT_EQ(parse_audience("%2Fdevices%2Fd").error(), Errc::bad_audience);
}

TEST(AmqpCbs, ReplyEchoesTheRequestIdWithIntStatus) {
  auto bytes = encode_put_token_reply(MessageId{MessageId::Type::string, "req-7"},
                                      CbsStatus::unauthorized, "bad signature");
  ASSERT_TRUE(bytes);
  pn_message_t* m = pn_message();
  ASSERT_EQ(pn_message_decode(m, reinterpret_cast<const char*>(bytes->data()), bytes->size()), 0);
  const auto cid = pn_message_get_correlation_id(m);
  ASSERT_EQ(cid.type, PN_STRING);
  EXPECT_EQ(std::string(cid.u.as_bytes.start, cid.u.as_bytes.size), "req-7");
  auto* props = pn_message_properties(m);
  pn_data_rewind(props);
  ASSERT_TRUE(pn_data_next(props));
  pn_data_enter(props);
  ASSERT_TRUE(pn_data_next(props));
  EXPECT_EQ(std::string(pn_data_get_string(props).start, pn_data_get_string(props).size),
            "status-code");
  ASSERT_TRUE(pn_data_next(props));
  ASSERT_EQ(pn_data_type(props), PN_INT);
  EXPECT_EQ(pn_data_get_int(props), 401);
  pn_message_free(m);
}

}  // namespace
}  // namespace edgehub::amqp_core
