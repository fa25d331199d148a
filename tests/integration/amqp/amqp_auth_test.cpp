// Issue 7: how AMQP clients authenticate (iot-hub-protocol.md §3.1-3.2). SASL PLAIN with
// "{d}@sas.{hubname}" and a SAS token as the password; SASL ANONYMOUS or no SASL at all, then a
// CBS put-token per identity whose reply carries status-code and the request's message id.

#include <gtest/gtest.h>

#include "integration/amqp/amqp_fixture.hpp"

namespace edgehub::testing {
namespace {

class AmqpAuth : public AmqpGatewayTest {
 protected:
  void SetUp() override { start({"dev1", "dev2"}, {"filter"}); }

  std::unique_ptr<AmqpTestClient> plain(const std::string& user, const std::string& token) {
    auto o = amqp_options(AmqpSasl::plain);
    o.user = user;
    o.password = token;
    return std::make_unique<AmqpTestClient>(o);
  }
};

TEST_F(AmqpAuth, SaslPlainWithTheDevicesSasTokenOpensAndSends) {
  auto c = plain("dev1@sas.hub", sas_token("dev1"));
  ASSERT_TRUE(c->open()) << c->error() << "\n" << gateway_->stderr_text();
  expect_telemetry_accepted(*c, "dev1");
}

TEST_F(AmqpAuth, SaslPlainForAModuleUsesItsOwnUserName) {
  auto c = plain("gw/modules/filter@sas.hub", sas_token("gw", "filter"));
  ASSERT_TRUE(c->open()) << c->error() << "\n" << gateway_->stderr_text();
  const auto link = c->attach_sender("/devices/gw/modules/filter/messages/events");
  EXPECT_TRUE(c->wait_attached(link)) << c->link_error(link);
}

TEST_F(AmqpAuth, SaslPlainWithAWrongTokenIsUnauthorizedAndCounted) {
  const auto before = metric_total("edgehub_client_connect_failed_total");
  auto wrong_key = plain("dev1@sas.hub", sas_token("dev1", "", std::chrono::hours(1), kWrongKey));
  EXPECT_FALSE(wrong_key->open());
  EXPECT_EQ(wrong_key->error_name(), "amqp:unauthorized-access") << wrong_key->error();

  // dev2's valid token does not make its holder dev1.
  auto other_device = plain("dev1@sas.hub", sas_token("dev2"));
  EXPECT_FALSE(other_device->open());
  EXPECT_EQ(other_device->error_name(), "amqp:unauthorized-access") << other_device->error();

  auto expired = plain("dev1@sas.hub", sas_token("dev1", "", -std::chrono::hours(1)));
  EXPECT_FALSE(expired->open());
  EXPECT_EQ(expired->error_name(), "amqp:unauthorized-access") << expired->error();

  EXPECT_GE(metric_total("edgehub_client_connect_failed_total"), before + 3);
  auto good = plain("dev1@sas.hub", sas_token("dev1"));
  EXPECT_TRUE(good->open()) << good->error();
}

TEST_F(AmqpAuth, AnonymousThenCbsPutTokenRepliesWithStatusAndCorrelationId) {
  auto c = client(AmqpSasl::anonymous);
  ASSERT_TRUE(c->open()) << c->error() << "\n" << gateway_->stderr_text();
  c->attach_cbs();
  const auto request = c->send_put_token(audience_of("dev1"), sas_token("dev1"));
  const auto reply = c->cbs_reply(request);
  ASSERT_TRUE(reply) << c->error() << "\n" << gateway_->stderr_text();
  EXPECT_EQ(reply->status, 200) << reply->description;
  EXPECT_EQ(reply->correlation_id, request);
  expect_telemetry_accepted(*c, "dev1");
}

TEST_F(AmqpAuth, CbsWithoutSaslAsTheNodeSdkConnects) {
  auto c = cbs_client("dev2");
  expect_telemetry_accepted(*c, "dev2");
}

TEST_F(AmqpAuth, CbsAcceptsTheIotHubTokenTypeAndModuleAudiences) {
  auto c = client(AmqpSasl::anonymous);
  ASSERT_TRUE(c->open()) << c->error();
  c->attach_cbs();
  const auto request = c->send_put_token(audience_of("gw", "filter"), sas_token("gw", "filter"),
                                         "azure-devices.net:sastoken");
  const auto reply = c->cbs_reply(request);
  ASSERT_TRUE(reply) << c->error();
  EXPECT_EQ(reply->status, 200) << reply->description;
  const auto link = c->attach_sender("/devices/gw/modules/filter/messages/events");
  EXPECT_TRUE(c->wait_attached(link)) << c->link_error(link);
}

TEST_F(AmqpAuth, ABadCbsTokenIs401AndTheConnectionStaysUsable) {
  const auto before = metric_total("edgehub_client_connect_failed_total");
  auto c = client(AmqpSasl::anonymous);
  ASSERT_TRUE(c->open()) << c->error();
  c->attach_cbs();
  const std::pair<const char*, std::string> bad[] = {
      {"wrong key", sas_token("dev1", "", std::chrono::hours(1), kWrongKey)},
      {"expired", sas_token("dev1", "", -std::chrono::hours(1))},
      {"not a token", "SharedAccessSignature nonsense"},
  };
  for (const auto& [what, token] : bad) {
    SCOPED_TRACE(what);
    const auto request = c->send_put_token(audience_of("dev1"), token);
    const auto reply = c->cbs_reply(request);
    ASSERT_TRUE(reply) << c->error() << "\n" << gateway_->stderr_text();
    EXPECT_EQ(reply->status, 401) << reply->description;
    EXPECT_EQ(reply->correlation_id, request);
  }
  // Nothing was authorized: dev1's telemetry link is refused.
  const auto refused = c->attach_sender("/devices/dev1/messages/events");
  EXPECT_FALSE(c->wait_attached(refused));
  EXPECT_EQ(c->link_error_name(refused), "amqp:unauthorized-access") << c->link_error(refused);
  EXPECT_GE(metric_total("edgehub_client_connect_failed_total"), before + 3);

  // A good token on the same CBS link still works.
  const auto reply = c->put_token(audience_of("dev1"), sas_token("dev1"));
  ASSERT_TRUE(reply) << c->error();
  EXPECT_EQ(reply->status, 200) << reply->description;
  expect_telemetry_accepted(*c, "dev1");
}

}  // namespace
}  // namespace edgehub::testing
