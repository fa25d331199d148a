// Upstream CONNECT credentials (edgehub-reference.md §2.6, docs/upstream.md): the gateway's own
// identity signs with its provisioning key, children get edgeHub's on-behalf-of token.

#include "edgehub/upstream/credentials.hpp"

#include <gtest/gtest.h>

#include <map>

#include "edgehub/identity/keys.hpp"
#include "edgehub/identity/sas_token.hpp"

namespace edgehub::upstream {
namespace {

using namespace std::chrono_literals;

// base64 of "0123456789abcdef0123456789abcdef" (iot-hub-protocol.md §1.4) and of its reverse.
constexpr const char* kDeviceKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr const char* kEdgeHubKey = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

UpstreamOptions options() {
  UpstreamOptions o;
  o.iothub_hostname = "myhub.azure-devices.net";
  o.edge_device_id = "gw";
  o.device_key = kDeviceKey;
  o.edgehub_module_key = kEdgeHubKey;
  return o;
}

const core::SystemTime kNow = core::SystemTime(std::chrono::seconds(1'700'000'000));

identity::SasToken parse(const std::string& token) {
  auto t = identity::parse_sas_token(token);
  EXPECT_TRUE(t) << token;
  return t ? *t : identity::SasToken{};
}

identity::Bytes key_bytes(const char* base64) {
  auto k = identity::decode_base64(base64);
  EXPECT_TRUE(k);
  return k ? *k : identity::Bytes{};
}

TEST(UpstreamCredentials, TheGatewaysOwnDeviceSignsForItselfWithItsProvisioningKey) {
  auto c = connect_credentials(options(), {"gw", ""}, kNow);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->client_id, "gw");
  EXPECT_EQ(c->username.rfind("myhub.azure-devices.net/gw/?api-version=2021-04-12&DeviceClientType="
                              "edgehubd%2F",
                              0),
            0u)
      << c->username;
  EXPECT_EQ(c->username.find("auth-chain"), std::string::npos);
  const auto token = parse(c->password);
  EXPECT_EQ(token.resource, "myhub.azure-devices.net/devices/gw");
  EXPECT_EQ(token.expiry, 1'700'003'600) << "one hour, as edgeHub's tokens";
  EXPECT_EQ(c->expires_at, kNow + 1h);
  const auto key = key_bytes(kDeviceKey);
  EXPECT_TRUE(identity::signature_matches(token, key));
}

TEST(UpstreamCredentials, AChildIsAuthenticatedWithEdgeHubsTokenAndAnAuthChain) {
  auto c = connect_credentials(options(), {"sensor-1", ""}, kNow);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->client_id, "sensor-1");
  EXPECT_EQ(c->username.rfind("myhub.azure-devices.net/sensor-1/?api-version=2021-04-12&", 0), 0u);
  EXPECT_NE(c->username.find("&auth-chain=sensor-1%3Bgw"), std::string::npos) << c->username;
  const auto token = parse(c->password);
  EXPECT_EQ(token.resource, "myhub.azure-devices.net/devices/gw/modules/$edgeHub");
  EXPECT_EQ(edgehub_token_audience(options()), token.resource);
  EXPECT_TRUE(identity::signature_matches(token, key_bytes(kEdgeHubKey)));
  EXPECT_FALSE(identity::signature_matches(token, key_bytes(kDeviceKey)))
      << "a child's token never uses the gateway's device key";
}

TEST(UpstreamCredentials, AModuleOfTheGatewayIsAChildToo) {
  auto c = connect_credentials(options(), {"gw", "filter"}, kNow);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->client_id, "gw/filter");
  EXPECT_EQ(c->username.rfind("myhub.azure-devices.net/gw/filter/?api-version=", 0), 0u);
  EXPECT_NE(c->username.find("&auth-chain=gw%2Ffilter%3Bgw"), std::string::npos) << c->username;
  EXPECT_EQ(parse(c->password).resource, "myhub.azure-devices.net/devices/gw/modules/$edgeHub");
}

TEST(UpstreamCredentials, ANestedIdentitysAuthChainNamesEveryGatewayUpToThisOne) {
  const std::map<std::string, std::string> parents = {
      {"leaf", "child-gw"}, {"child-gw", "gw"}, {"loop-a", "loop-b"}, {"loop-b", "loop-a"}};
  const auto parent_of = [&](const std::string& d) {
    const auto it = parents.find(d);
    return it == parents.end() ? std::string() : it->second;
  };
  EXPECT_EQ(auth_chain(options(), {"leaf", ""}, parent_of), "leaf;child-gw;gw");
  EXPECT_EQ(auth_chain(options(), {"leaf", "m"}, parent_of), "leaf/m;child-gw;gw");
  EXPECT_EQ(auth_chain(options(), {"sensor-1", ""}, parent_of), "sensor-1;gw");
  EXPECT_EQ(auth_chain(options(), {"sensor-1", ""}, {}), "sensor-1;gw");
  // A parent loop is cut after five levels and still ends at this gateway.
  EXPECT_EQ(auth_chain(options(), {"loop-a", ""}, parent_of),
            "loop-a;loop-b;loop-a;loop-b;loop-a;loop-b;gw");
  auto c = connect_credentials(options(), {"leaf", ""}, kNow, "leaf;child-gw;gw");
  ASSERT_TRUE(c);
  EXPECT_NE(c->username.find("&auth-chain=leaf%3Bchild-gw%3Bgw"), std::string::npos) << c->username;
}

TEST(UpstreamCredentials, InCloudModeAChildGoesUpstreamWithItsOwnToken) {
  auto o = options();
  o.forward_device_tokens = true;
  EXPECT_EQ(connect_credentials(o, {"sensor-1", ""}, kNow).error(), identity::Errc::no_credentials)
      << "no token until the device has connected";
  const auto own = *identity::make_sas_token("myhub.azure-devices.net/devices/sensor-1", kDeviceKey,
                                             kNow + 30min);
  auto c = connect_credentials(o, {"sensor-1", ""}, kNow, "sensor-1;gw", own);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->password, own);
  EXPECT_EQ(c->expires_at, kNow + 30min);
  EXPECT_TRUE(c->auth_chain.empty());
  EXPECT_EQ(c->username.find("auth-chain"), std::string::npos) << c->username;
  // The gateway itself still signs with its own key.
  EXPECT_NE(connect_credentials(o, {"gw", ""}, kNow)->password, own);
}

TEST(UpstreamCredentials, WithoutTheEdgeHubKeyChildrenHaveNoCredentials) {
  auto o = options();
  o.edgehub_module_key.clear();
  EXPECT_FALSE(connect_credentials(o, {"sensor-1", ""}, kNow));
  EXPECT_TRUE(connect_credentials(o, {"gw", ""}, kNow)) << "the gateway itself still connects";
}

TEST(UpstreamCredentials, X509ProvisioningUsesTheClientCertificateAndNoPassword) {
  auto o = options();
  o.device_key.clear();
  o.identity_cert = "/etc/aziot/gw.cert.pem";
  o.identity_pk = "/etc/aziot/gw.key.pem";
  auto c = connect_credentials(o, {"gw", ""}, kNow);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->use_client_certificate);
  EXPECT_TRUE(c->password.empty());
  EXPECT_EQ(c->expires_at, core::SystemTime::max());
}

TEST(UpstreamCredentials, ABrokenKeyIsAnErrorNotAToken) {
  auto o = options();
  o.edgehub_module_key = "not base64!";
  EXPECT_FALSE(connect_credentials(o, {"sensor-1", ""}, kNow));
}

}  // namespace
}  // namespace edgehub::upstream
