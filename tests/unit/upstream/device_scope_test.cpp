// The device-scope API's pages (edgehub-reference.md §2.4, docs/identities.md "Device scope"):
// devices and modules become identities, paging follows continuationLink, and a malformed page
// or entry is a clear error, never a crash. A parent edgehubd's own answer (http::scope_page)
// parses too.

#include "edgehub/upstream/device_scope.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "edgehub/http/device_scope.hpp"
#include "edgehub/identity/keys.hpp"

namespace edgehub::upstream {
namespace {

using Json = nlohmann::json;

constexpr const char* kKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr const char* kKey2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
constexpr const char* kThumb = "0123456789ABCDEF0123456789ABCDEF01234567";

// A page as IoT Hub writes it (EdgeHubScopeDevice / EdgeHubScopeModule).
constexpr const char* kHubPage = R"({
  "devices": [
    {"deviceId": "gw", "generationId": "637000000000000001", "status": "enabled",
     "authentication": {"type": "sas", "symmetricKey": {"primaryKey": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "secondaryKey": null}},
     "capabilities": {"iotEdge": true}, "deviceScope": "ms-azure-iot-edge://gw-637000000000000001",
     "parentScopes": []},
    {"deviceId": "leaf-1", "status": "disabled",
     "authentication": {"type": "sas", "symmetricKey": {"primaryKey": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "secondaryKey": "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="}},
     "capabilities": {"iotEdge": false}, "deviceScope": "ms-azure-iot-edge://gw-637000000000000001",
     "parentScopes": ["ms-azure-iot-edge://gw-637000000000000001"]},
    {"deviceId": "cam", "status": "enabled",
     "authentication": {"type": "selfSigned", "x509Thumbprint": {"primaryThumbprint": "0123456789ABCDEF0123456789ABCDEF01234567", "secondaryThumbprint": null}},
     "capabilities": {"iotEdge": false}, "deviceScope": "ms-azure-iot-edge://child-gw-637000000000000002"},
    {"deviceId": "ca-dev", "status": "enabled", "authentication": {"type": "certificateAuthority"},
     "capabilities": {"iotEdge": false}, "parentScopes": ["ms-azure-iot-edge://gw"]}
  ],
  "modules": [
    {"deviceId": "gw", "moduleId": "$edgeHub",
     "authentication": {"type": "sas", "symmetricKey": {"primaryKey": "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="}}}
  ],
  "continuationLink": "/devices/gw/modules/$edgeHub/devicesAndModulesInTargetDeviceScope?continuationToken=abc"
})";

identity::Bytes key(const char* base64) {
  return *identity::decode_base64(base64);
}

ScopePage parse_ok(std::string_view text) {
  std::string why;
  auto page = parse_scope_page(text, why);
  EXPECT_TRUE(page) << why;
  return page ? std::move(*page) : ScopePage{};
}

std::string parse_error(std::string_view text) {
  std::string why;
  auto page = parse_scope_page(text, why);
  EXPECT_FALSE(page);
  return why;
}

TEST(DeviceScopePage, DevicesAndModulesBecomeIdentities) {
  const auto page = parse_ok(kHubPage);
  ASSERT_EQ(page.identities.size(), 5u);
  EXPECT_TRUE(page.rejected.empty());
  ASSERT_TRUE(page.continuation_link);
  EXPECT_EQ(*page.continuation_link,
            "/devices/gw/modules/$edgeHub/devicesAndModulesInTargetDeviceScope?"
            "continuationToken=abc");

  const auto& gw = page.identities[0];
  EXPECT_EQ(gw.id, (core::ClientId{"gw", {}}));
  EXPECT_TRUE(gw.edge_device);
  EXPECT_TRUE(gw.enabled);
  EXPECT_EQ(gw.keys, std::vector<identity::Bytes>{key(kKey)});

  const auto& leaf = page.identities[1];
  EXPECT_FALSE(leaf.enabled);
  EXPECT_FALSE(leaf.edge_device);
  EXPECT_EQ(leaf.parent, "gw");
  EXPECT_EQ(leaf.keys, (std::vector<identity::Bytes>{key(kKey), key(kKey2)}));

  const auto& cam = page.identities[2];
  EXPECT_EQ(cam.auth, identity::AuthType::x509_thumbprint);
  EXPECT_EQ(cam.thumbprints, std::vector<identity::Bytes>{*identity::parse_thumbprint(kThumb)});
  EXPECT_EQ(cam.parent, "child-gw");  // from deviceScope, without the generation id

  EXPECT_EQ(page.identities[3].auth, identity::AuthType::x509_ca);
  EXPECT_EQ(page.identities[3].parent, "gw");  // a scope without a generation id

  const auto& module = page.identities[4];
  EXPECT_EQ(module.id, (core::ClientId{"gw", "$edgeHub"}));
  EXPECT_TRUE(module.enabled);
  EXPECT_EQ(module.keys, std::vector<identity::Bytes>{key(kKey2)});
}

TEST(DeviceScopePage, LastPageHasNoContinuation) {
  for (const char* text : {R"({"devices": [], "modules": [], "continuationLink": null})",
                           R"({"devices": []})", R"({"continuationLink": ""})"}) {
    const auto page = parse_ok(text);
    EXPECT_FALSE(page.continuation_link) << text;
    EXPECT_TRUE(page.identities.empty());
  }
}

TEST(DeviceScopePage, MalformedDocumentsAreClearErrors) {
  EXPECT_EQ(parse_error(""), "the scope page is not a JSON object");
  EXPECT_EQ(parse_error("{\"devices\": [ {"), "the scope page is not a JSON object");
  EXPECT_EQ(parse_error("[1, 2]"), "the scope page is not a JSON object");
  EXPECT_EQ(parse_error(R"({"devices": {}})"), "devices is not an array");
  EXPECT_EQ(parse_error(R"({"modules": "x"})"), "modules is not an array");
  EXPECT_EQ(parse_error(R"({"continuationLink": 7})"),
            "continuationLink is neither a string nor null");
}

TEST(DeviceScopePage, UnusableEntriesAreSkippedWithTheirReason) {
  const auto page = parse_ok(R"({"devices": [
      7,
      {"status": "enabled"},
      {"deviceId": "a b", "status": "enabled"},
      {"deviceId": "no-status", "authentication": {"type": "sas", "symmetricKey": {"primaryKey": "MDEy"}}},
      {"deviceId": "odd-status", "status": "paused"},
      {"deviceId": "no-auth", "status": "enabled"},
      {"deviceId": "none", "status": "enabled", "authentication": {"type": "none"}},
      {"deviceId": "bad-key", "status": "enabled", "authentication": {"type": "sas", "symmetricKey": {"primaryKey": "not base64!"}}},
      {"deviceId": "no-keys", "status": "enabled", "authentication": {"type": "sas", "symmetricKey": {"primaryKey": null, "secondaryKey": ""}}},
      {"deviceId": "bad-thumb", "status": "enabled", "authentication": {"type": "selfSigned", "x509Thumbprint": {"primaryThumbprint": "xyz"}}},
      {"deviceId": 12, "status": "enabled"},
      {"deviceId": "good", "status": "enabled", "authentication": {"type": "sas", "symmetricKey": {"primaryKey": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}}}
    ], "modules": [
      {"deviceId": "gw", "authentication": {"type": "sas", "symmetricKey": {"primaryKey": "MDEy"}}},
      {"deviceId": "gw", "moduleId": "m", "authentication": {"type": "certificateAuthority"}}
    ]})");
  ASSERT_EQ(page.identities.size(), 1u);
  EXPECT_EQ(page.identities[0].id.device, "good");
  std::vector<std::string> reasons;
  for (const auto& r : page.rejected)
    reasons.push_back(r.where + ": " + r.reason);
  const std::vector<std::string> expected{
      "devices[0]: not an object",
      "devices[1]: deviceId is missing",
      "devices[2]: deviceId is not a valid id",
      "devices[3] (no-status): status is missing",
      "devices[4] (odd-status): status 'paused' is neither enabled nor disabled",
      "devices[5] (no-auth): authentication is missing",
      "devices[6] (none): authentication.type 'none' cannot authenticate a client",
      "devices[7] (bad-key): authentication.symmetricKey.primaryKey is not base64",
      "devices[8] (no-keys): authentication.symmetricKey has neither primaryKey nor secondaryKey",
      "devices[9] (bad-thumb): authentication.x509Thumbprint.primaryThumbprint is not a hex "
      "SHA-1 or SHA-256 thumbprint",
      "devices[10]: deviceId is not a string",
      "modules[0] (gw): moduleId is missing",
      "modules[1] (gw): module identities authenticate with SAS keys only",
  };
  EXPECT_EQ(reasons, expected);
  for (const auto& r : reasons)
    EXPECT_EQ(r.find("not base64!"), std::string::npos) << "a key value is never echoed";
}

TEST(DeviceScopePage, CacheTextReadsBackTheSameIdentities) {
  const auto page = parse_ok(kHubPage);
  const auto again = parse_ok(scope_cache_text(page.identities));
  ASSERT_EQ(again.identities.size(), page.identities.size());
  EXPECT_FALSE(again.continuation_link);
  for (std::size_t i = 0; i < page.identities.size(); ++i) {
    const auto& a = page.identities[i];
    const auto& b = again.identities[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_TRUE(a.same_credentials(b)) << a.id.to_string();
    EXPECT_EQ(a.enabled, b.enabled);
    EXPECT_EQ(a.edge_device, b.edge_device);
    EXPECT_EQ(a.parent, b.parent);
  }
}

TEST(DeviceScopePage, RequestNamesTheApiAndFollowsTheLink) {
  EXPECT_EQ(scope_request_target("gw"),
            "/devices/gw/modules/$edgeHub/devicesAndModulesInTargetDeviceScope"
            "?api-version=2020-06-30-preview");
  EXPECT_EQ(Json::parse(scope_request_body(100, std::nullopt, "gw")),
            Json::parse(R"({"pageSize": 100, "continuationLink": null, "authChain": "gw"})"));
  EXPECT_EQ(Json::parse(scope_request_body(10, std::string("/next?x=1"), "gw"))["continuationLink"],
            "/next?x=1");
}

TEST(DeviceScopePage, ScopeNamesTheDevice) {
  EXPECT_EQ(device_of_scope("ms-azure-iot-edge://gw-637000000000000001"), "gw");
  EXPECT_EQ(device_of_scope("ms-azure-iot-edge://edge-2"), "edge-2");  // a short suffix stays
  EXPECT_EQ(device_of_scope("ms-azure-iot-edge://child"), "child");
  EXPECT_EQ(device_of_scope("https://gw"), "");
  EXPECT_EQ(device_of_scope("ms-azure-iot-edge://"), "");
}

// The parent side (src/http/device_scope.cpp) pages through its registry; the child follows its
// links to the end and gets every identity of its scope with the keys.
TEST(DeviceScopePage, ParsesWhatAParentEdgehubdAnswers) {
  std::vector<identity::Identity> registry;
  auto add = [&](std::string id, std::string parent, bool edge) {
    identity::Identity i;
    i.id.device = std::move(id);
    i.keys = {key(kKey)};
    i.parent = std::move(parent);
    i.edge_device = edge;
    registry.push_back(std::move(i));
  };
  add("child-gw", "", true);
  for (int i = 0; i < 5; ++i)
    add("leaf-" + std::to_string(i), "child-gw", false);
  add("elsewhere", "", false);
  const identity::Snapshot snapshot(std::move(registry));

  std::vector<identity::Identity> got;
  std::optional<std::string> link;
  int pages = 0;
  do {
    std::string why;
    auto body =
        http::scope_page(snapshot, "child-gw", scope_request_body(2, link, "child-gw"), why);
    ASSERT_TRUE(body) << why;
    const auto page = parse_ok(*body);
    EXPECT_TRUE(page.rejected.empty());
    got.insert(got.end(), page.identities.begin(), page.identities.end());
    link = page.continuation_link;
    ASSERT_LT(++pages, 10);
  } while (link);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[0].id.device, "child-gw");
  EXPECT_TRUE(got[0].edge_device);
  for (std::size_t i = 1; i < got.size(); ++i) {
    EXPECT_EQ(got[i].parent, "child-gw");
    EXPECT_EQ(got[i].keys, std::vector<identity::Bytes>{key(kKey)});
  }
}

}  // namespace
}  // namespace edgehub::upstream
