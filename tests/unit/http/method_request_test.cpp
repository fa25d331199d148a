// The module-to-device method call body and answer (edgehub-reference.md §1.5).

#include "edgehub/http/method_request.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "edgehub/http/errors.hpp"

namespace edgehub::http {
namespace {

TEST(MethodRequest, Parses) {
  std::string why;
  auto r = parse_method_request(
      R"({"methodName":"reboot","payload":{"delay":5},"responseTimeoutInSeconds":10,"connectTimeoutInSeconds":7})",
      why);
  ASSERT_TRUE(r) << why;
  EXPECT_EQ(r->method_name, "reboot");
  EXPECT_EQ(nlohmann::json::parse(r->payload), nlohmann::json::parse(R"({"delay":5})"));
  EXPECT_EQ(r->response_timeout, std::chrono::seconds(10));
  EXPECT_EQ(r->connect_timeout, std::chrono::seconds(7));

  r = parse_method_request(R"({"methodName":"m"})", why);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->payload, "null");
  EXPECT_EQ(r->response_timeout, kDefaultResponseTimeout);
  EXPECT_EQ(r->connect_timeout, std::chrono::seconds(0));
}

TEST(MethodRequest, Refusals) {
  const char* bad[] = {
      "",
      "[]",
      R"({"payload":1})",
      R"({"methodName":""})",
      R"({"methodName":5})",
      R"({"methodName":"m","responseTimeoutInSeconds":4})",
      R"({"methodName":"m","responseTimeoutInSeconds":301})",
      R"({"methodName":"m","responseTimeoutInSeconds":"10"})",
      R"({"methodName":"m","connectTimeoutInSeconds":-1})",
      R"({"methodName":"m","connectTimeoutInSeconds":301})",
  };
  for (const char* text : bad) {
    std::string why;
    auto r = parse_method_request(text, why);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error(), Errc::bad_request) << text;
  }
  std::string why;
  EXPECT_EQ(parse_method_request(R"({"methodName":")" + std::string(101, 'm') + "\"}", why).error(),
            Errc::bad_request);
  const auto big =
      R"({"methodName":"m","payload":")" + std::string(kMaxMethodPayloadBytes, 'p') + "\"}";
  EXPECT_EQ(parse_method_request(big, why).error(), Errc::too_large);
}

TEST(MethodRequest, ResponseBody) {
  EXPECT_EQ(nlohmann::json::parse(method_response_body(200, R"({"ok":true})")),
            nlohmann::json::parse(R"({"status":200,"payload":{"ok":true}})"));
  EXPECT_EQ(nlohmann::json::parse(method_response_body(500, "")),
            nlohmann::json::parse(R"({"status":500,"payload":null})"));
  EXPECT_EQ(nlohmann::json::parse(method_response_body(201, "not json")),
            nlohmann::json::parse(R"({"status":201,"payload":"not json"})"));
}

}  // namespace
}  // namespace edgehub::http
