// The parent side of the nested scope API, answered from the identity registry.

#include "edgehub/http/device_scope.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "edgehub/http/errors.hpp"

namespace edgehub::http {
namespace {

constexpr const char* kKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

identity::Snapshot registry() {
  const std::string text =
      std::string("[[device]]\nid = \"child\"\nedge_device = true\nprimary_key = \"") + kKey +
      "\"\n"
      "[[device]]\nid = \"leaf1\"\nparent = \"child\"\nprimary_key = \"" +
      kKey +
      "\"\n"
      "[[device]]\nid = \"leaf2\"\nparent = \"child\"\nauth = \"x509_thumbprint\"\n"
      "primary_thumbprint = \"0102030405060708090a0b0c0d0e0f1011121314\"\n"
      "[[device]]\nid = \"mine\"\nprimary_key = \"" +
      kKey + "\"\n";
  std::vector<identity::RegistryIssue> issues;
  auto snapshot = identity::parse_identities(text, "ids.toml", "gw", issues);
  EXPECT_TRUE(snapshot) << (issues.empty() ? "" : issues[0].to_string());
  return snapshot ? *snapshot : identity::Snapshot{};
}

TEST(DeviceScope, PagesTheChildsScope) {
  const auto reg = registry();
  std::string why;
  auto page = scope_page(reg, "child", R"({"pageSize": 2, "authChain": "child"})", why);
  ASSERT_TRUE(page) << why;
  auto j = nlohmann::json::parse(*page);
  ASSERT_EQ(j["devices"].size(), 2u);
  EXPECT_EQ(j["devices"][0]["deviceId"], "child");
  EXPECT_EQ(j["devices"][0]["capabilities"]["iotEdge"], true);
  EXPECT_EQ(j["devices"][0]["authentication"]["type"], "sas");
  EXPECT_EQ(j["devices"][0]["authentication"]["symmetricKey"]["primaryKey"], kKey);
  EXPECT_EQ(j["devices"][1]["deviceId"], "leaf1");
  EXPECT_EQ(j["devices"][1]["parentScopes"][0], "ms-azure-iot-edge://child");
  ASSERT_TRUE(j["continuationLink"].is_string());

  page = scope_page(
      reg, "child",
      R"({"pageSize": 2, "continuationLink": ")" + j["continuationLink"].get<std::string>() + "\"}",
      why);
  ASSERT_TRUE(page) << why;
  j = nlohmann::json::parse(*page);
  ASSERT_EQ(j["devices"].size(), 1u);
  EXPECT_EQ(j["devices"][0]["deviceId"], "leaf2");
  EXPECT_EQ(j["devices"][0]["authentication"]["type"], "selfSigned");
  EXPECT_EQ(j["devices"][0]["authentication"]["x509Thumbprint"]["primaryThumbprint"],
            "0102030405060708090A0B0C0D0E0F1011121314");
  EXPECT_TRUE(j["continuationLink"].is_null());

  EXPECT_EQ(scope_page(reg, "child", R"({"pageSize": 0})", why).error(), Errc::bad_request);
  EXPECT_EQ(scope_page(reg, "child", R"({"continuationLink": "x"})", why).error(),
            Errc::bad_request);
  EXPECT_EQ(scope_page(reg, "child", "[", why).error(), Errc::bad_request);
}

TEST(DeviceScope, OnBehalfOfOnlyInScope) {
  const auto reg = registry();
  std::string why;
  auto one = scope_identity(reg, "child",
                            R"({"targetDeviceId": "leaf1", "authChain": "leaf1;child"})", why);
  ASSERT_TRUE(one) << why;
  EXPECT_EQ(nlohmann::json::parse(*one)["devices"][0]["deviceId"], "leaf1");
  EXPECT_EQ(scope_identity(reg, "child", R"({"targetDeviceId": "mine"})", why).error(),
            Errc::device_not_found);
  EXPECT_EQ(scope_identity(reg, "child", R"({})", why).error(), Errc::bad_request);
}

}  // namespace
}  // namespace edgehub::http
