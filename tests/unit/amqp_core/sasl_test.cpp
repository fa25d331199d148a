#include "edgehub/amqp_core/sasl.hpp"

#include <gtest/gtest.h>

#include <string>

#include "edgehub/amqp_core/errors.hpp"

namespace edgehub::amqp_core {
namespace {

core::Result<PlainResponse> parse(const std::string& s) {
  return parse_plain_response(std::span(s.data(), s.size()));
}

TEST(AmqpSasl, PlainResponseHasThreeParts) {
  auto r = parse(std::string("\0dev1@sas.myhub\0SharedAccessSignature sr=x", 42));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->authzid, "");
  EXPECT_EQ(r->user, "dev1@sas.myhub");
  EXPECT_EQ(r->password, "SharedAccessSignature sr=x");
  r = parse(std::string("authz\0user\0pw", 13));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->authzid, "authz");
}

TEST(AmqpSasl, MalformedPlainResponses) {
  EXPECT_EQ(parse("user-only").error(), Errc::malformed_sasl_response);
  EXPECT_EQ(parse(std::string("\0user", 5)).error(), Errc::malformed_sasl_response);
  EXPECT_EQ(parse(std::string("\0\0pw", 4)).error(), Errc::malformed_sasl_response);
  EXPECT_EQ(parse(std::string("a\0b\0c\0d", 7)).error(), Errc::malformed_sasl_response);
}

TEST(AmqpSasl, DeviceAndModuleUserNames) {
  auto u = parse_plain_user("dev1@sas.myhub");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->id.device, "dev1");
  EXPECT_EQ(u->id.module, "");
  EXPECT_EQ(u->hubname, "myhub");
  u = parse_plain_user("dev1/modules/mod1@sas.myhub");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->id.device, "dev1");
  EXPECT_EQ(u->id.module, "mod1");
}

TEST(AmqpSasl, PolicyUserNameIsRecognised) {
  auto u = parse_plain_user("iothubowner@sas.root.myhub");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->policy, "iothubowner");
  EXPECT_TRUE(u->id.device.empty());
}

TEST(AmqpSasl, BadUserNames) {
  for (const char* bad : {"dev1", "dev1@myhub", "@sas.myhub", "dev1@sas.", "dev1@sas.my.hub",
                          "dev1/modules@sas.myhub", "dev1/x/y@sas.myhub"}) {
    EXPECT_EQ(parse_plain_user(bad).error(), Errc::bad_plain_user_name) << bad;
  }
}

}  // namespace
}  // namespace edgehub::amqp_core
