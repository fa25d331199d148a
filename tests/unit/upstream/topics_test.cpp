// The upstream's MQTT topics (iot-hub-protocol.md §2.2, §2.3): telemetry topics with property
// bags as the Node SDK writes them, and what IoT Hub sends back classified.

#include "edgehub/upstream/topics.hpp"

#include <gtest/gtest.h>

#include "edgehub/mqtt/iothub_topics.hpp"
#include "edgehub/mqtt/property_bag.hpp"

namespace edgehub::upstream {
namespace {

using core::SystemProperty;

core::Message message(core::ClientId origin) {
  core::Message m;
  m.origin = std::move(origin);
  m.set_body("{}");
  return m;
}

TEST(UpstreamTopics, DeviceTelemetryWithoutPropertiesHasTheTrailingSlash) {
  EXPECT_EQ(telemetry_topic(message({"dev1", ""})), "devices/dev1/messages/events/");
}

TEST(UpstreamTopics, SystemAndApplicationPropertiesAreEncodedAsTheNodeSdkDoes) {
  auto m = message({"dev1", ""});
  m.sys_prop(SystemProperty::message_id) = "msg-1";
  m.sys_prop(SystemProperty::correlation_id) = "corr-1";
  m.sys_prop(SystemProperty::content_type) = "application/json";
  m.sys_prop(SystemProperty::content_encoding) = "utf-8";
  m.sys_prop(SystemProperty::absolute_expiry_time) = "2030-01-01T00:00:00.000Z";
  m.set_app("alert", "high temp");
  m.set_app("a&b=c", "x/y?z");
  m.set_app("flag", std::nullopt);
  EXPECT_EQ(telemetry_topic(m),
            "devices/dev1/messages/events/"
            "%24.mid=msg-1&%24.cid=corr-1&%24.ct=application%2Fjson&%24.ce=utf-8&"
            "%24.exp=2030-01-01T00%3A00%3A00.000Z&alert=high%20temp&a%26b%3Dc=x%2Fy%3Fz&flag");
}

TEST(UpstreamTopics, TheGatewaysStampsStayHomeIoTHubStampsTheConnection) {
  auto m = message({"dev1", ""});
  m.sys_prop(SystemProperty::connection_device_id) = "dev1";
  m.sys_prop(SystemProperty::connection_module_id) = "spoof";
  m.sys_prop(SystemProperty::edge_message_id) = "e-1";
  m.sys_prop(SystemProperty::enqueued_time) = "2030-01-01T00:00:00Z";
  EXPECT_EQ(telemetry_topic(m), "devices/dev1/messages/events/");
}

TEST(UpstreamTopics, ModuleOutputsCarryTheirOutputName) {
  auto m = message({"gw", "filter"});
  m.sys_prop(SystemProperty::output_name) = "out1";
  m.set_app("k", "v");
  EXPECT_EQ(telemetry_topic(m), "devices/gw/modules/filter/messages/events/%24.on=out1&k=v");
}

TEST(UpstreamTopics, WhatTheGatewaySendsDecodesBackToTheSameProperties) {
  auto m = message({"dev1", ""});
  m.sys_prop(SystemProperty::message_id) = "id with spaces & more";
  m.sys_prop(SystemProperty::creation_time) = "2030-01-01T00:00:00Z";
  m.set_app("ünïcode", "välue/ü");
  const auto topic = telemetry_topic(m);
  const auto inbound = mqtt::classify_publish_topic(topic);
  ASSERT_EQ(inbound.kind, mqtt::TopicKind::telemetry);
  EXPECT_EQ(inbound.device, "dev1");
  core::Message back;
  ASSERT_TRUE(mqtt::decode_property_bag(inbound.bag, back));
  EXPECT_EQ(back.sys_prop(SystemProperty::message_id), "id with spaces & more");
  EXPECT_EQ(back.sys_prop(SystemProperty::creation_time), "2030-01-01T00:00:00Z");
  ASSERT_NE(back.find_app("ünïcode"), nullptr);
  EXPECT_EQ(back.find_app("ünïcode")->value, "välue/ü");
}

TEST(UpstreamTopics, SubscriptionFiltersAndMethodResponses) {
  EXPECT_EQ(c2d_filter("dev1"), "devices/dev1/messages/devicebound/#");
  EXPECT_EQ(method_response_topic(200, "abc"), "$iothub/methods/res/200/?$rid=abc");
}

TEST(UpstreamTopics, TwinRequestsCarryTheirRequestIdAndTheAnswerFindsIt) {
  EXPECT_EQ(twin_get_topic("17"), "$iothub/twin/GET/?$rid=17");
  EXPECT_EQ(reported_patch_topic("18"), "$iothub/twin/PATCH/properties/reported/?$rid=18");
  // IoT Hub answers a PATCH with 204 and the new reported version after the $rid.
  auto answer = classify_cloud_topic("$iothub/twin/res/204/?$rid=18&$version=5");
  EXPECT_EQ(answer.kind, CloudTopicKind::twin_response);
  EXPECT_EQ(answer.status, 204);
  EXPECT_EQ(answer.rid, "18");
  auto refused = classify_cloud_topic("$iothub/twin/res/400/?$rid=19");
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.rid, "19");
}

TEST(UpstreamTopics, CloudToDeviceTopicsAreClassified) {
  auto c2d = classify_cloud_topic("devices/dev1/messages/devicebound/%24.mid=m1&k=v");
  EXPECT_EQ(c2d.kind, CloudTopicKind::c2d);
  EXPECT_EQ(c2d.device, "dev1");
  EXPECT_EQ(c2d.bag, "%24.mid=m1&k=v");
  auto bare = classify_cloud_topic("devices/dev1/messages/devicebound");
  EXPECT_EQ(bare.kind, CloudTopicKind::c2d);
  EXPECT_EQ(bare.bag, "");

  auto method = classify_cloud_topic("$iothub/methods/POST/reboot/?$rid=42");
  EXPECT_EQ(method.kind, CloudTopicKind::method_request);
  EXPECT_EQ(method.method, "reboot");
  EXPECT_EQ(method.rid, "42");

  auto desired = classify_cloud_topic("$iothub/twin/PATCH/properties/desired/?$version=7");
  EXPECT_EQ(desired.kind, CloudTopicKind::desired_patch);
  EXPECT_EQ(desired.version, 7);

  auto response = classify_cloud_topic("$iothub/twin/res/200/?$rid=r1&$version=3");
  EXPECT_EQ(response.kind, CloudTopicKind::twin_response);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.rid, "r1");
}

TEST(UpstreamTopics, MalformedCloudTopicsAreUnknown) {
  for (const char* t :
       {"", "devices/", "devices//messages/devicebound/", "devices/d/messages/events/",
        "devices/d/messages/deviceboundX", "$iothub/methods/POST/m/?x=1",
        "$iothub/methods/POST//?$rid=1", "$iothub/twin/PATCH/properties/desired/",
        "$iothub/twin/res/abc/?$rid=1", "$iothub/twin/res/200/?$rid=", "other/topic"}) {
    EXPECT_EQ(classify_cloud_topic(t).kind, CloudTopicKind::unknown) << t;
  }
}

}  // namespace
}  // namespace edgehub::upstream
