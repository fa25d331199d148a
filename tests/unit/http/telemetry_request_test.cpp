// HTTPS telemetry → core::Message (iot-hub-protocol.md §5.2, §5.3).

#include "edgehub/http/telemetry_request.hpp"

#include <gtest/gtest.h>

#include "edgehub/http/errors.hpp"

namespace edgehub::http {
namespace {

using core::SystemProperty;

TEST(TelemetryRequest, HeadersBecomeProperties) {
  const Header headers[] = {
      {"Authorization", "SharedAccessSignature sr=x"},
      {"IoTHub-MessageId", "m-1"},
      {"iothub-correlationid", "c-1"},
      {"iothub-contenttype", "application/json"},
      {"iothub-contentencoding", "utf-8"},
      {"iothub-app-temperature", "21"},
      {"IOTHUB-APP-Alert", "yes"},
      {"dt-subject", "thermostat1"},
      {"iothub-to", "/devices/d/messages/events"},
      {"Content-Type", "text/plain"},
  };
  std::string why;
  auto m = message_from_request(headers, "hello", 256 * 1024, why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->body_text(), "hello");
  EXPECT_EQ(m->sys_prop(SystemProperty::message_id), "m-1");
  EXPECT_EQ(m->sys_prop(SystemProperty::correlation_id), "c-1");
  EXPECT_EQ(m->sys_prop(SystemProperty::content_type), "application/json");
  EXPECT_EQ(m->sys_prop(SystemProperty::content_encoding), "utf-8");
  EXPECT_EQ(m->sys_prop(SystemProperty::component), "thermostat1");
  EXPECT_FALSE(m->sys_prop(SystemProperty::to));
  ASSERT_EQ(m->app.size(), 2u);
  EXPECT_EQ(m->find_app("temperature")->value, "21");
  EXPECT_EQ(m->find_app("Alert")->value, "yes");
  EXPECT_EQ(m->find_app("Authorization"), nullptr);
}

TEST(TelemetryRequest, LimitsAndRules) {
  std::string why;
  const std::string id(129, 'x');
  const Header long_id_ok[] = {{"iothub-messageid", id}};
  auto m = message_from_request(long_id_ok, "", 1024, why);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error(), Errc::bad_request);

  const Header empty_app[] = {{"iothub-app-", "v"}};
  EXPECT_EQ(message_from_request(empty_app, "", 1024, why).error(), Errc::bad_request);

  const Header prop[] = {{"iothub-app-k", "vv"}};
  EXPECT_TRUE(message_from_request(prop, std::string(1021, 'b'), 1024, why));  // 1021 + 1 + 2
  auto big = message_from_request(prop, std::string(1022, 'b'), 1024, why);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), Errc::too_large);
}

TEST(TelemetryRequest, Batch) {
  EXPECT_TRUE(is_batch_content_type("application/vnd.microsoft.iothub.json"));
  EXPECT_TRUE(is_batch_content_type("Application/vnd.microsoft.iothub.json; charset=utf-8"));
  EXPECT_FALSE(is_batch_content_type("application/json"));

  std::string why;
  auto batch = messages_from_batch(
      R"([{"body": "aGVsbG8=", "properties": {"iothub-app-a": "1", "iothub-messageid": "id1"}},
          {"body": "d29ybGQ="}])",
      256 * 1024, why);
  ASSERT_TRUE(batch) << why;
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_EQ((*batch)[0].body_text(), "hello");
  EXPECT_EQ((*batch)[0].find_app("a")->value, "1");
  EXPECT_EQ((*batch)[0].sys_prop(SystemProperty::message_id), "id1");
  EXPECT_EQ((*batch)[1].body_text(), "world");
  EXPECT_TRUE((*batch)[1].app.empty());
}

TEST(TelemetryRequest, MalformedBatches) {
  const char* bad[] = {
      "",
      "{}",
      "[",
      "[]",
      R"([{"properties": {}}])",
      R"([{"body": 5}])",
      R"([{"body": "not base64!"}])",
      R"([{"body": "aGk=", "properties": []}])",
      R"([{"body": "aGk=", "properties": {"iothub-app-a": 1}}])",
      R"([1])",
  };
  for (const char* text : bad) {
    std::string why;
    auto r = messages_from_batch(text, 256 * 1024, why);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error(), Errc::bad_request) << text;
    EXPECT_FALSE(why.empty());
  }
  std::string many = "[";
  for (std::size_t i = 0; i <= kMaxBatchMessages; ++i)
    many += std::string(i ? "," : "") + R"({"body": ""})";
  many += "]";
  std::string why;
  EXPECT_EQ(messages_from_batch(many, 256 * 1024, why).error(), Errc::bad_request);
  EXPECT_EQ(messages_from_batch(R"([{"body": "aGVsbG8="}, {"body": "aGVsbG8="}])", 9, why).error(),
            Errc::too_large);
}

}  // namespace
}  // namespace edgehub::http
