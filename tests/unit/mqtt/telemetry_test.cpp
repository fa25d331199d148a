// Telemetry PUBLISH and will → core::Message (iot-hub-protocol.md §2.1, §2.2, §10).

#include "edgehub/mqtt/telemetry.hpp"

#include <gtest/gtest.h>

namespace edgehub::mqtt::test {
namespace {

using core::SystemProperty;

std::vector<std::byte> bytes_of(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

TEST(MqttTelemetry, BodyAndBagPropertiesBecomeTheMessage) {
  const auto topic = classify_publish_topic(
      "devices/dev1/modules/mod1/messages/events/%24.on=out1&%24.ct=application%2Fjson&k=v/");
  const auto payload = bytes_of(R"({"temp":81})");
  auto m = telemetry_message(topic, payload, false);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->body_text(), R"({"temp":81})");
  EXPECT_EQ(m->sys_prop(SystemProperty::output_name), "out1");
  EXPECT_EQ(m->sys_prop(SystemProperty::content_type), "application/json");
  EXPECT_EQ(m->app, (std::vector<core::Property>{{"k", "v"}}));
  // The connection identity is the session's to stamp.
  EXPECT_FALSE(m->sys_prop(SystemProperty::connection_device_id));
}

TEST(MqttTelemetry, RetainedPublishGetsMqttRetain) {
  const auto topic = classify_publish_topic("devices/dev1/messages/events/");
  auto m = telemetry_message(topic, {}, true);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->app, (std::vector<core::Property>{{"mqtt-retain", "true"}}));
  EXPECT_TRUE(m->body.empty());
}

TEST(MqttTelemetry, WillIsMarkedAndCannotBeFakedOrHidden) {
  const auto topic = classify_publish_topic(
      "devices/dev1/messages/events/iothub-MessageType=Other&mqtt-retain=no");
  auto will = telemetry_message(topic, bytes_of("gone"), true, TelemetrySource::will);
  ASSERT_TRUE(will);
  EXPECT_EQ(will->app,
            (std::vector<core::Property>{{"iothub-MessageType", "Will"}, {"mqtt-retain", "true"}}));
  EXPECT_EQ(will->body_text(), "gone");
}

TEST(MqttTelemetry, OtherTopicsAndBadBagsAreRefused) {
  EXPECT_EQ(
      telemetry_message(classify_publish_topic("$iothub/twin/GET/?$rid=1"), {}, false).error(),
      NamingErrc::not_telemetry);
  EXPECT_EQ(telemetry_message(classify_publish_topic("devices/d/messages/events/a=%zz"), {}, false)
                .error(),
            NamingErrc::invalid_property_bag);
}

}  // namespace
}  // namespace edgehub::mqtt::test
