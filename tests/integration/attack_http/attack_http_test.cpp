// Issue 12: the authentication and authorisation attack matrix over the HTTPS API on 443. Every
// request is authenticated on its own (docs/http.md), so every attempt is one request: it is
// refused with IoT Hub's 401 IotHubUnauthorizedAccess (403 Forbidden when the credentials are
// right but the caller may not do this), never admitted (no 204 telemetry answer is added), and
// counted twice: edgehub_client_connect_failed_total{id, reason} names the failed check and
// edgehubd_http_requests_total{route, status} the answer.

#include <gtest/gtest.h>

#include <chrono>

#include "edgehub/identity/sas_token.hpp"
#include "integration/http_malformed/https_wire.hpp"
#include "integration/mqtt_malformed/attack_cast.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kRequests = "edgehubd_http_requests_total";
constexpr const char* kApi = "?api-version=2021-04-12";

std::string hub(const std::string& path) {
  return std::string(kHub) + "/" + path;
}

std::string events(const std::string& device) {
  return "/devices/" + device + "/messages/events" + kApi;
}

struct Attempt {
  Attempt(std::string n, std::string m, std::string t, std::vector<std::string> h, std::string b,
          int s, std::string r, std::map<std::string, std::string> f,
          std::filesystem::path cert_file = {}, std::filesystem::path key_file = {})
      : name(std::move(n)),
        method(std::move(m)),
        target(std::move(t)),
        headers(std::move(h)),
        body(std::move(b)),
        status(s),
        route(std::move(r)),
        refused(std::move(f)),
        cert(std::move(cert_file)),
        key(std::move(key_file)) {}
  std::string name;
  std::string method, target;
  std::vector<std::string> headers;  ///< the credential and anything else the route needs
  std::string body;
  int status;                                  ///< 401 or 403
  std::string route;                           ///< the route label of edgehubd_http_requests_total
  std::map<std::string, std::string> refused;  ///< edgehub_client_connect_failed_total labels;
                                               ///< empty for a 403 (the credential was right)
  std::filesystem::path cert, key;             ///< client certificate, if any
};

class AttackHttp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gateway_ = start_attack_gateway(identities_);
    ASSERT_NE(gateway_, nullptr);
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
  }

  static std::string request(const Attempt& a) {
    return http_request(a.method, a.target, a.headers, a.body);
  }

  std::unique_ptr<TlsClient> open(const std::filesystem::path& cert = {},
                                  const std::filesystem::path& key = {}) {
    auto options = gateway_->client_options(gateway_->ports().https);
    options.cert_file = cert;
    options.key_file = key;
    return gateway_->open(options);
  }

  void expect_refused(const Attempt& a, TlsClient* on = nullptr) {
    SCOPED_TRACE(a.name);
    auto& gw = *gateway_;
    const auto answers = std::map<std::string, std::string>{{"route", a.route},
                                                            {"status", std::to_string(a.status)}};
    const auto refused_before = a.refused.empty() ? 0 : gw.metric(kConnectFailed, a.refused);
    const auto answers_before = gw.metric(kRequests, answers);
    const auto admitted_before = gw.metric(kRequests, {{"status", "204"}});
    std::unique_ptr<TlsClient> own;
    if (!on) {
      own = open(a.cert, a.key);
      ASSERT_NE(own, nullptr);
      on = own.get();
    }
    ASSERT_TRUE(on->write(request(a)));
    const auto reply = read_reply(*on);
    ASSERT_TRUE(reply) << gw.process().stderr_text();
    EXPECT_EQ(reply->status, a.status) << reply->body;
    EXPECT_EQ(reply->error_code(), a.status == 401 ? "IotHubUnauthorizedAccess" : "Forbidden");
    if (!a.refused.empty()) {
      EXPECT_EQ(gw.metric(kConnectFailed, a.refused), refused_before + 1)
          << kConnectFailed << " names the failed check";
    }
    EXPECT_EQ(gw.metric(kRequests, answers), answers_before + 1) << kRequests << " counts it";
    EXPECT_EQ(gw.metric(kRequests, {{"status", "204"}}), admitted_before) << "never admitted";
  }

  // The same request with the right credential succeeds, so a refusal above is about the
  // credential, not the harness.
  void expect_admitted(const std::string& raw, const std::filesystem::path& cert = {},
                       const std::filesystem::path& key = {}) {
    auto c = open(cert, key);
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->write(raw));
    const auto reply = read_reply(*c);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 204) << reply->body;
  }

  static GatewayUnderTest* gateway_;
  static std::string identities_;
};

GatewayUnderTest* AttackHttp::gateway_ = nullptr;
std::string AttackHttp::identities_;

std::string sas(const std::string& t) {
  return "Authorization: " + t;
}

TEST_F(AttackHttp, ForgedOrMisusedSasTokensAreRefusedAndCounted) {
  const std::string dev1 = hub("devices/dev1");
  const auto telemetry = [](std::string name, std::string device, std::string credential,
                            std::map<std::string, std::string> refused) {
    return Attempt{
        std::move(name),   "POST", events(device), {sas(credential)}, "x", 401, "telemetry",
        std::move(refused)};
  };
  const std::vector<Attempt> attempts = {
      telemetry("token signed with a wrong key", "dev1", token(dev1, kOtherKey),
                failed("dev1", "bad_signature")),
      telemetry("expired token", "dev1", token(dev1, kTestKey, -5s),
                failed("dev1", "token_expired")),
      telemetry("token valid for ten years (beyond max_token_lifetime_secs)", "dev1",
                token(dev1, kTestKey, kBeyondTokenPolicy),
                failed("dev1", "token_lifetime_too_long")),
      telemetry("token for another device", "dev1", token(hub("devices/dev2"), kOtherKey),
                failed("dev1", "wrong_audience")),
      telemetry("token for a device whose id extends ours (whole-segment prefix rule)", "dev1",
                token(hub("devices/dev"), kTestKey), failed("dev1", "wrong_audience")),
      telemetry("token for another hub", "dev1",
                token("other-hub.azure-devices.net/devices/dev1", kTestKey),
                failed("dev1", "wrong_audience")),
      telemetry("module token used for the device", "gw",
                token(hub("devices/gw/modules/mod1"), kOtherKey), failed("gw", "wrong_audience")),
      telemetry("hub policy token (skn)", "dev1",
                token(dev1, kTestKey, std::chrono::hours(1), "iothubowner"),
                failed("dev1", "policy_token")),
      telemetry("garbage token", "dev1",
                "SharedAccessSignature sr=&sig=&se=", failed("dev1", "malformed_token")),
      telemetry("unknown device", "ghost", token(hub("devices/ghost"), kTestKey),
                {{"reason", "unknown_identity"}}),
      telemetry("disabled device", "off", token(hub("devices/off"), kTestKey),
                failed("off", "disabled")),
      telemetry("SAS token for an X.509 identity", "xca", token(hub("devices/xca"), kTestKey),
                failed("xca", "wrong_auth_type")),
      {"no credentials at all",
       "POST",
       events("dev1"),
       {},
       "x",
       401,
       "telemetry",
       failed("dev1", "not_authenticated")},
  };
  for (const auto& a : attempts)
    expect_refused(a);
  expect_admitted(http_request("POST", events("dev1"), {sas(token(dev1, kTestKey))}, "x"));
}

TEST_F(AttackHttp, AnIdentityActsOnlyAsItself) {
  const auto dev1 = sas(token(hub("devices/dev1"), kTestKey));
  const auto mod1 = sas(token(hub("devices/gw/modules/mod1"), kOtherKey));
  const std::string method_body = R"({"methodName":"m","payload":{},"responseTimeoutInSeconds":5})";
  const std::string scope =
      "/modules/$edgeHub/devicesAndModulesInTargetDeviceScope?api-version=2020-06-30-preview";
  const std::vector<Attempt> attempts = {
      {"dev1's token on dev2's telemetry path",
       "POST",
       events("dev2"),
       {dev1},
       "x",
       401,
       "telemetry",
       failed("dev2", "wrong_audience")},
      {"dev1's token polling dev2's C2D queue",
       "GET",
       std::string("/devices/dev2/messages/devicebound") + kApi,
       {dev1},
       "",
       401,
       "c2d_receive",
       failed("dev2", "wrong_audience")},
      {"dev1's token completing a message of dev2",
       "DELETE",
       std::string("/devices/dev2/messages/devicebound/some-lock") + kApi,
       {dev1},
       "",
       401,
       "c2d_complete",
       failed("dev2", "wrong_audience")},
      {"dev1's token abandoning a message of dev2",
       "POST",
       std::string("/devices/dev2/messages/devicebound/some-lock/abandon") + kApi,
       {dev1},
       "",
       401,
       "c2d_abandon",
       failed("dev2", "wrong_audience")},
      {"device token used for a module (method caller)",
       "POST",
       "/twins/dev2/methods",
       {dev1, "x-ms-edge-moduleId: gw/mod1"},
       method_body,
       401,
       "invoke_method",
       failed("gw/mod1", "wrong_audience")},
      {"module token claiming another module",
       "POST",
       "/twins/dev2/methods",
       {mod1, "x-ms-edge-moduleId: gw/other"},
       method_body,
       401,
       "invoke_method",
       {{"reason", "unknown_identity"}}},
      {"device, authenticated as itself, invoking a method",
       "POST",
       "/twins/dev2/methods",
       {dev1, "x-ms-edge-moduleId: dev1"},
       method_body,
       403,
       "invoke_method",
       {}},
      {"device, authenticated as itself, reading a scope (not a child gateway)",
       "POST",
       "/devices/dev1" + scope,
       {dev1},
       "{}",
       403,
       "scope_devices_and_modules",
       {}},
      {"dev1's token reading gw's scope",
       "POST",
       "/devices/gw" + scope,
       {dev1},
       "{}",
       401,
       "scope_devices_and_modules",
       failed("gw", "wrong_audience")},
  };
  for (const auto& a : attempts)
    expect_refused(a);
}

TEST_F(AttackHttp, BadClientCertificatesAreRefusedAndCounted) {
  const auto& files = gateway_->pki().files;
  const auto stranger_pki = test::make_test_pki_for({"xca"});  // a root the gateway never trusts
  const auto& xca = files.devices[0];
  const auto& xthumb = files.devices[1];
  const auto& xexp = files.devices[2];
  const auto telemetry = [](std::string name, std::string device,
                            std::map<std::string, std::string> refused, std::filesystem::path cert,
                            std::filesystem::path key) {
    return Attempt{std::move(name),    "POST",          events(device), {}, "x", 401, "telemetry",
                   std::move(refused), std::move(cert), std::move(key)};
  };
  const std::vector<Attempt> attempts = {
      telemetry("CA-signed certificate from an unknown chain", "xca",
                failed("xca", "untrusted_chain"), stranger_pki.files.devices[0].cert,
                stranger_pki.files.devices[0].key),
      telemetry("trusted certificate whose CN names another device", "xcn",
                failed("xcn", "wrong_common_name"), xca.cert, xca.key),
      telemetry("self-signed certificate whose thumbprint is not registered", "xthumb",
                failed("xthumb", "thumbprint_mismatch"), xthumb.selfsigned_cert,
                xthumb.selfsigned_key),
      telemetry("expired certificate with the registered thumbprint", "xexp",
                failed("xexp", "certificate_expired"), xexp.selfsigned_cert, xexp.selfsigned_key),
      telemetry("certificate presented for a SAS device", "dev1", failed("dev1", "wrong_auth_type"),
                xca.cert, xca.key),
      {"certificate presented by a method-calling module",
       "POST",
       "/twins/dev2/methods",
       {"x-ms-edge-moduleId: gw/mod1"},
       R"({"methodName":"m","payload":{},"responseTimeoutInSeconds":5})",
       401,
       "invoke_method",
       failed("gw/mod1", "module_x509"),
       xca.cert,
       xca.key},
  };
  for (const auto& a : attempts)
    expect_refused(a);
  expect_admitted(http_request("POST", events("xca"), {}, "x"), xca.cert, xca.key);
}

TEST_F(AttackHttp, RemovedOrDisabledIdentitiesAreRefusedOnTheirOpenConnectionAfterReload) {
  auto& gw = *gateway_;
  const auto dev1 = sas(token(hub("devices/dev1"), kTestKey));
  const auto dev2 = sas(token(hub("devices/dev2"), kOtherKey));
  auto c1 = open();
  auto c2 = open();
  ASSERT_TRUE(c1 && c2);
  const auto admitted = [](TlsClient& c, const std::string& credential, const std::string& device) {
    if (!c.write(http_request("POST", events(device), {credential}, "before"))) return false;
    const auto reply = read_reply(c);
    return reply && reply->status == 204;
  };
  ASSERT_TRUE(admitted(*c1, dev1, "dev1"));
  ASSERT_TRUE(admitted(*c2, dev2, "dev2"));

  // dev1 removed, dev2 disabled.
  gw.write_identities(with_dev1_removed_and_dev2_disabled(identities_));
  ASSERT_TRUE(gw.reload());

  // The keep-alive connections stay open (HTTP has no session to end), but the next request on
  // each is authenticated again and refused.
  expect_refused({"removed device on its open connection",
                  "POST",
                  events("dev1"),
                  {dev1},
                  "x",
                  401,
                  "telemetry",
                  {{"reason", "unknown_identity"}}},
                 c1.get());
  expect_refused({"disabled device on its open connection",
                  "POST",
                  events("dev2"),
                  {dev2},
                  "x",
                  401,
                  "telemetry",
                  failed("dev2", "disabled")},
                 c2.get());
  gw.write_identities(identities_);
  ASSERT_TRUE(gw.reload());
}

}  // namespace
}  // namespace edgehub::testing
