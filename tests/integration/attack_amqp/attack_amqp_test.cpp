// Issue 12: the authentication and authorisation attack matrix over AMQP 1.0/TLS (5671). Every
// attempt is refused with IoT Hub's answer and never admitted: a CBS put-token gets status 401
// (400 for an audience that names no identity), SASL PLAIN gets the outcome `auth`
// (amqp:unauthorized-access), a link for an identity without a valid token or certificate gets a
// null terminus and amqp:unauthorized-access. Each is counted twice over, as the code counts it:
// edgehubd_amqp_refused_total{reason} by the AMQP head, edgehub_client_connect_failed_total{id,
// reason} by the authenticator (docs/amqp.md, docs/identities.md); and
// edgehubd_amqp_identity_auth_total{result="ok"} does not move.

#include <gtest/gtest.h>

#include <chrono>

#include "edgehub/identity/sas_token.hpp"
#include "integration/amqp_malformed/amqp_wire.hpp"
#include "integration/mqtt_malformed/attack_cast.hpp"
#include "support/amqp/amqp_test_client.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;
using Labels = std::map<std::string, std::string>;

constexpr const char* kRefused = "edgehubd_amqp_refused_total";
constexpr const char* kIdentityAuth = "edgehubd_amqp_identity_auth_total";

std::string resource(const std::string& path) {
  return std::string(kHub) + "/devices/" + path;
}

/// The CBS `name` of an identity ("d" or "d/modules/m"): its URL-encoded resource.
std::string audience(const std::string& path) {
  return identity::url_encode(resource(path));
}

std::string events_of(const std::string& path) {
  return "/devices/" + path + "/messages/events";
}

Labels refused(const std::string& reason) {
  return {{"protocol", "amqp"}, {"reason", reason}};
}

class AttackAmqp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gateway_ = start_attack_gateway(identities_);
    ASSERT_NE(gateway_, nullptr);
  }
  static void TearDownTestSuite() {
    // A clean exit: under the sanitizers a report makes it non-zero.
    gateway_->process().signal(SIGTERM);
    EXPECT_EQ(gateway_->process().wait_for(std::chrono::seconds(20)), 0)
        << gateway_->process().stderr_text();
    delete gateway_;
    gateway_ = nullptr;
  }

  double metric(const std::string& name, const Labels& labels) {
    return gateway_->metric(name, labels);
  }
  double admitted() { return metric(kIdentityAuth, {{"protocol", "amqp"}, {"result", "ok"}}); }

  AmqpClientOptions options(AmqpSasl sasl = AmqpSasl::none) const {
    AmqpClientOptions o;
    o.tls = gateway_->client_options(gateway_->ports().amqp);
    o.sasl = sasl;
    return o;
  }

  /// An open connection without SASL with its $cbs links, as the Node SDK opens it.
  std::unique_ptr<AmqpTestClient> cbs_connection() {
    auto c = std::make_unique<AmqpTestClient>(options());
    EXPECT_TRUE(c->open()) << c->error();
    c->attach_cbs();
    return c;
  }

  /// The link of `path`'s telemetry is refused on `c` with amqp:unauthorized-access.
  void expect_link_refused(AmqpTestClient& c, const std::string& path) {
    const auto link = c.attach_sender(events_of(path));
    EXPECT_FALSE(c.wait_attached(link)) << path << " was admitted";
    EXPECT_EQ(c.link_error_name(link), "amqp:unauthorized-access") << c.link_error(link);
  }

  static GatewayUnderTest* gateway_;
  static std::string identities_;
};

GatewayUnderTest* AttackAmqp::gateway_ = nullptr;
std::string AttackAmqp::identities_;

TEST_F(AttackAmqp, ForgedOrMisusedCbsTokensAreRefusedAndCounted) {
  struct Attempt {
    std::string name;
    std::string path;  ///< the identity the put-token names
    std::string token;
    Labels labels;  ///< of edgehub_client_connect_failed_total
  };
  const std::vector<Attempt> attempts = {
      {"token signed with a wrong key", "dev1", token(resource("dev1"), kOtherKey),
       failed("dev1", "bad_signature")},
      {"expired token", "dev1", token(resource("dev1"), kTestKey, -5s),
       failed("dev1", "token_expired")},
      {"token valid for ten years (beyond max_token_lifetime_secs)", "dev1",
       token(resource("dev1"), kTestKey, kBeyondTokenPolicy),
       failed("dev1", "token_lifetime_too_long")},
      {"token for another device", "dev1", token(resource("dev2"), kOtherKey),
       failed("dev1", "wrong_audience")},
      {"token for a device whose id extends ours", "dev1", token(resource("dev"), kTestKey),
       failed("dev1", "wrong_audience")},
      {"token for another hub", "dev1", token("other-hub.azure-devices.net/devices/dev1", kTestKey),
       failed("dev1", "wrong_audience")},
      {"module token used for the device", "gw", token(resource("gw/modules/mod1"), kOtherKey),
       failed("gw", "wrong_audience")},
      {"another device's token used for a module", "gw/modules/mod1",
       token(resource("dev1"), kTestKey), failed("gw/mod1", "wrong_audience")},
      {"hub policy token (skn)", "dev1",
       token(resource("dev1"), kTestKey, std::chrono::hours(1), "iothubowner"),
       failed("dev1", "policy_token")},
      {"garbage token", "dev1",
       "SharedAccessSignature sr=&sig=&se=", failed("dev1", "malformed_token")},
      {"unknown device",
       "ghost",
       token(resource("ghost"), kTestKey),
       {{"reason", "unknown_identity"}}},
      {"disabled device", "off", token(resource("off"), kTestKey), failed("off", "disabled")},
      {"SAS token for an X.509 identity", "xca", token(resource("xca"), kTestKey),
       failed("xca", "wrong_auth_type")},
  };
  auto c = cbs_connection();
  for (const auto& a : attempts) {
    SCOPED_TRACE(a.name);
    const auto counted = metric(kRefused, refused("cbs_unauthorized"));
    const auto failed_before = metric(kConnectFailed, a.labels);
    const auto admitted_before = admitted();
    const auto reply = c->put_token(audience(a.path), a.token);
    ASSERT_TRUE(reply) << c->error();
    EXPECT_EQ(reply->status, 401) << reply->description;
    EXPECT_EQ(reply->description.find("SharedAccessSignature"), std::string::npos)
        << "the reply never echoes the token";
    EXPECT_EQ(metric(kRefused, refused("cbs_unauthorized")), counted + 1);
    EXPECT_EQ(metric(kConnectFailed, a.labels), failed_before + 1) << "the authenticator counts";
    EXPECT_EQ(admitted(), admitted_before) << "never admitted";
    expect_link_refused(*c, a.path);
  }
  // An audience that names no device or module is a bad request, not an identity.
  const auto bad_requests = metric(kRefused, refused("cbs_bad_request"));
  const auto reply = c->put_token(identity::url_encode(std::string(kHub) + "/twins/dev1"),
                                  token(resource("dev1"), kTestKey));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 400);
  EXPECT_EQ(metric(kRefused, refused("cbs_bad_request")), bad_requests + 1);
  // The control: the same connection, a right token, and the link attaches, so the refusals
  // above are about the credential, not the harness.
  const auto ok = c->put_token(audience("dev1"), token(resource("dev1"), kTestKey));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->description;
  const auto link = c->attach_sender(events_of("dev1"));
  EXPECT_TRUE(c->wait_attached(link)) << c->link_error(link);
}

TEST_F(AttackAmqp, ForgedOrMisusedSaslPlainCredentialsAreRefusedAndCounted) {
  struct Attempt {
    std::string name;
    std::string user;
    std::string password;
    std::string reason;  ///< of edgehubd_amqp_refused_total
    Labels labels;       ///< of edgehub_client_connect_failed_total; empty: not counted there
  };
  const std::vector<Attempt> attempts = {
      {"token signed with a wrong key", "dev1@sas.hub", token(resource("dev1"), kOtherKey),
       "sasl_unauthorized", failed("dev1", "bad_signature")},
      {"expired token", "dev1@sas.hub", token(resource("dev1"), kTestKey, -5s), "sasl_unauthorized",
       failed("dev1", "token_expired")},
      {"token valid for ten years", "dev1@sas.hub",
       token(resource("dev1"), kTestKey, kBeyondTokenPolicy), "sasl_unauthorized",
       failed("dev1", "token_lifetime_too_long")},
      {"token for another device", "dev1@sas.hub", token(resource("dev2"), kOtherKey),
       "sasl_unauthorized", failed("dev1", "wrong_audience")},
      {"disabled device", "off@sas.hub", token(resource("off"), kTestKey), "sasl_unauthorized",
       failed("off", "disabled")},
      {"hub policy user name",
       "iothubowner@sas.root.hub",
       token(resource("dev1"), kTestKey, std::chrono::hours(1), "iothubowner"),
       "sasl_bad_user",
       {}},
  };
  for (const auto& a : attempts) {
    SCOPED_TRACE(a.name);
    const auto counted = metric(kRefused, refused(a.reason));
    const auto failed_before = a.labels.empty() ? 0 : metric(kConnectFailed, a.labels);
    const auto admitted_before = admitted();
    auto o = options(AmqpSasl::plain);
    o.user = a.user;
    o.password = a.password;
    AmqpTestClient c(o);
    EXPECT_FALSE(c.open()) << "admitted";
    EXPECT_EQ(c.error_name(), "amqp:unauthorized-access") << c.error();
    EXPECT_EQ(metric(kRefused, refused(a.reason)), counted + 1);
    if (!a.labels.empty()) {
      EXPECT_EQ(metric(kConnectFailed, a.labels), failed_before + 1);
    }
    EXPECT_EQ(admitted(), admitted_before) << "never admitted";
  }
  // The control: dev1's own token opens the connection.
  auto o = options(AmqpSasl::plain);
  o.user = "dev1@sas.hub";
  o.password = token(resource("dev1"), kTestKey);
  AmqpTestClient good(o);
  EXPECT_TRUE(good.open()) << good.error();
}

TEST_F(AttackAmqp, BadClientCertificatesAreRefusedAtTheLinkAndCounted) {
  const auto& files = gateway_->pki().files;
  const auto stranger_pki = test::make_test_pki_for({"xca"});  // a root the gateway never trusts
  const auto& xca = files.devices[0];
  const auto& xthumb = files.devices[1];
  const auto& xexp = files.devices[2];
  struct Attempt {
    std::string name;
    std::string path;
    std::filesystem::path cert, key;
    Labels labels;
  };
  const std::vector<Attempt> attempts = {
      {"CA-signed certificate from an unknown chain", "xca", stranger_pki.files.devices[0].cert,
       stranger_pki.files.devices[0].key, failed("xca", "untrusted_chain")},
      {"trusted certificate whose CN names another device", "xcn", xca.cert, xca.key,
       failed("xcn", "wrong_common_name")},
      {"self-signed certificate whose thumbprint is not registered", "xthumb",
       xthumb.selfsigned_cert, xthumb.selfsigned_key, failed("xthumb", "thumbprint_mismatch")},
      {"expired certificate with the registered thumbprint", "xexp", xexp.selfsigned_cert,
       xexp.selfsigned_key, failed("xexp", "certificate_expired")},
      {"certificate presented for a SAS device", "dev1", xca.cert, xca.key,
       failed("dev1", "wrong_auth_type")},
      {"certificate presented for a module", "gw/modules/mod1", xca.cert, xca.key,
       failed("gw/mod1", "module_x509")},
  };
  for (const auto& a : attempts) {
    SCOPED_TRACE(a.name);
    const auto counted = metric(kRefused, refused("unauthorized_link"));
    const auto failed_before = metric(kConnectFailed, a.labels);
    const auto admitted_before = admitted();
    auto o = options();
    o.tls.cert_file = a.cert;
    o.tls.key_file = a.key;
    AmqpTestClient c(o);
    ASSERT_TRUE(c.open()) << c.error();
    expect_link_refused(c, a.path);
    EXPECT_EQ(metric(kRefused, refused("unauthorized_link")), counted + 1);
    EXPECT_EQ(metric(kConnectFailed, a.labels), failed_before + 1) << "the authenticator counts";
    EXPECT_EQ(admitted(), admitted_before) << "never admitted";
  }
  // The control: xca's own certificate attaches xca's link.
  auto o = options();
  o.tls.cert_file = xca.cert;
  o.tls.key_file = xca.key;
  AmqpTestClient good(o);
  ASSERT_TRUE(good.open()) << good.error();
  const auto link = good.attach_sender(events_of("xca"));
  EXPECT_TRUE(good.wait_attached(link)) << good.link_error(link);
}

// SASL EXTERNAL may name the identity the certificate is for (docs/amqp.md); naming another one
// is refused with the outcome `auth` before any frame of the connection is read.
TEST_F(AttackAmqp, SaslExternalNamingAnotherIdentityIsRefusedAndCounted) {
  using namespace amqp_wire;
  const auto& xca = gateway_->pki().files.devices[0];
  struct Attempt {
    std::string name;
    std::string claimed;
    Labels labels;
  };
  const std::vector<Attempt> attempts = {
      {"xca's certificate naming xcn", "xcn", failed("xcn", "wrong_common_name")},
      {"xca's certificate naming a SAS device", "dev1", failed("dev1", "wrong_auth_type")},
      {"xca's certificate naming a module", "gw/mod1", failed("gw/mod1", "module_x509")},
  };
  auto external = [&](const std::string& claimed) {
    auto o = gateway_->client_options(gateway_->ports().amqp);
    o.cert_file = xca.cert;
    o.key_file = xca.key;
    auto c = std::make_unique<RawConnection>(o);
    EXPECT_TRUE(c->connect()) << c->error();
    EXPECT_TRUE(c->write(sasl_protocol_header() + sasl_init_frame("EXTERNAL", claimed)));
    return c;
  };
  for (const auto& a : attempts) {
    SCOPED_TRACE(a.name);
    const auto counted = metric(kRefused, refused("sasl_unauthorized"));
    const auto failed_before = metric(kConnectFailed, a.labels);
    const auto admitted_before = admitted();
    auto c = external(a.claimed);
    const auto outcome = c->read_until_performative(kSaslOutcome);
    ASSERT_TRUE(outcome) << c->summary();
    EXPECT_EQ(outcome->sasl_code, 1) << "auth";
    EXPECT_EQ(metric(kRefused, refused("sasl_unauthorized")), counted + 1);
    EXPECT_EQ(metric(kConnectFailed, a.labels), failed_before + 1) << "the authenticator counts";
    EXPECT_EQ(admitted(), admitted_before) << "never admitted";
  }
  // The control: the certificate naming its own identity succeeds (code 0, ok).
  auto good = external("xca");
  const auto outcome = good->read_until_performative(kSaslOutcome);
  ASSERT_TRUE(outcome) << good->summary();
  EXPECT_EQ(outcome->sasl_code, 0);
}

TEST_F(AttackAmqp, AnIdentityAttachesOnlyInItsOwnSpace) {
  auto c = cbs_connection();
  const auto reply = c->put_token(audience("dev1"), token(resource("dev1"), kTestKey));
  ASSERT_TRUE(reply && reply->status == 200) << c->error();
  const auto before = metric(kRefused, refused("unauthorized_link"));
  const std::vector<std::pair<std::string, bool>> foreign = {
      // address, the client receives (else it sends)
      {"/devices/dev2/messages/events", false},
      {"/devices/gw/modules/mod1/messages/events", false},
      {"/devices/dev1/modules/m/messages/events", false},  // a module of itself is another identity
      {"/devices/gw/modules/mod1/inputs", true},
      {"/devices/gw/modules/mod1/messages/events", true},
      {"/devices/dev2/messages/devicebound", true},
      {"/devices/dev2/methods/devicebound", true},
      {"/devices/dev2/methods/devicebound", false},
      {"/devices/dev2/twin", true},
      {"/devices/dev2/twin", false},
  };
  for (const auto& [address, receives] : foreign) {
    SCOPED_TRACE(address);
    const auto link = receives ? c->attach_receiver(address) : c->attach_sender(address);
    EXPECT_FALSE(c->wait_attached(link)) << "admitted";
    EXPECT_EQ(c->link_error_name(link), "amqp:unauthorized-access") << c->link_error(link);
  }
  EXPECT_EQ(metric(kRefused, refused("unauthorized_link")),
            before + static_cast<double>(foreign.size()));
  // The refusals end only those links: dev1 still sends on its own.
  const auto own = c->attach_sender(events_of("dev1"));
  ASSERT_TRUE(c->wait_attached(own)) << c->link_error(own);
  const auto d = c->send(own, proton::message(proton::binary(std::string("{}"))));
  ASSERT_TRUE(c->wait_outcome(d)) << c->error();
  EXPECT_EQ(c->outcome(d), Outcome::accepted);
}

TEST_F(AttackAmqp, RemovedOrDisabledIdentitiesAreDetachedOnReload) {
  auto& gw = *gateway_;
  struct Live {
    std::unique_ptr<AmqpTestClient> client;
    int link = -1;
  };
  auto connect = [&](const std::string& path, const char* key) {
    Live l{cbs_connection()};
    const auto reply = l.client->put_token(audience(path), token(resource(path), key));
    EXPECT_TRUE(reply && reply->status == 200) << l.client->error();
    l.link = l.client->attach_sender(events_of(path));
    EXPECT_TRUE(l.client->wait_attached(l.link)) << l.client->link_error(l.link);
    return l;
  };
  auto dev1 = connect("dev1", kTestKey);
  auto dev2 = connect("dev2", kOtherKey);
  auto gw_dev = connect("gw", kTestKey);

  // dev1 removed, dev2 disabled, gw unchanged.
  gw.write_identities(with_dev1_removed_and_dev2_disabled(identities_));
  ASSERT_TRUE(gw.reload());

  for (auto* revoked : {&dev1, &dev2}) {
    EXPECT_TRUE(revoked->client->wait_link_closed(revoked->link)) << "detached on reload";
    EXPECT_EQ(revoked->client->link_error_name(revoked->link), "amqp:link:detach-forced")
        << revoked->client->link_error(revoked->link);
  }
  const auto d =
      gw_dev.client->send(gw_dev.link, proton::message(proton::binary(std::string("x"))));
  ASSERT_TRUE(gw_dev.client->wait_outcome(d)) << gw_dev.client->error();
  EXPECT_EQ(gw_dev.client->outcome(d), Outcome::accepted) << "an unchanged identity keeps its link";
  const auto log = gw.process().stderr_text();
  EXPECT_NE(log.find("identity dev1 removed"), std::string::npos) << log;
  EXPECT_NE(log.find("identity dev2 disabled"), std::string::npos) << log;

  // And they cannot come back, on the connection they had or on a new one.
  const auto unknown = metric(kConnectFailed, {{"reason", "unknown_identity"}});
  const auto disabled = metric(kConnectFailed, failed("dev2", "disabled"));
  auto again1 = dev1.client->put_token(audience("dev1"), token(resource("dev1"), kTestKey));
  ASSERT_TRUE(again1);
  EXPECT_EQ(again1->status, 401);
  expect_link_refused(*dev1.client, "dev1");
  auto fresh = cbs_connection();
  auto again2 = fresh->put_token(audience("dev2"), token(resource("dev2"), kOtherKey));
  ASSERT_TRUE(again2);
  EXPECT_EQ(again2->status, 401);
  expect_link_refused(*fresh, "dev2");
  EXPECT_EQ(metric(kConnectFailed, {{"reason", "unknown_identity"}}), unknown + 1);
  EXPECT_EQ(metric(kConnectFailed, failed("dev2", "disabled")), disabled + 1);
  gw.write_identities(identities_);
  ASSERT_TRUE(gw.reload());
}

}  // namespace
}  // namespace edgehub::testing
