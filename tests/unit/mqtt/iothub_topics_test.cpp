// IoT Hub topic names and subscription filters (iot-hub-protocol.md §2.2, §7.2, §8.2, §10).

#include "edgehub/mqtt/iothub_topics.hpp"

#include <gtest/gtest.h>

namespace edgehub::mqtt::test {
namespace {

TEST(MqttTopics, TelemetryWithAndWithoutBag) {
  struct Case {
    std::string_view topic, device, module, bag;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"devices/dev1/messages/events", "dev1", "", ""},
           {"devices/dev1/messages/events/", "dev1", "", ""},
           {"devices/dev1/messages/events/a=1&b=2", "dev1", "", "a=1&b=2"},
           {"devices/dev1/messages/events/a=1/", "dev1", "", "a=1"},  // Node's trailing '/'
           {"devices/dev1/modules/m1/messages/events", "dev1", "m1", ""},
           {"devices/dev1/modules/m1/messages/events/", "dev1", "m1", ""},
           {"devices/dev1/modules/m1/messages/events/%24.on=o&k=v/", "dev1", "m1", "%24.on=o&k=v"},
           {"devices/dev1/modules/m1/messages/events/%24.on=o", "dev1", "m1", "%24.on=o"}}) {
    const auto t = classify_publish_topic(c.topic);
    ASSERT_EQ(t.kind, TopicKind::telemetry) << c.topic;
    EXPECT_EQ(t.device, c.device) << c.topic;
    EXPECT_EQ(t.module, c.module) << c.topic;
    EXPECT_EQ(t.bag, c.bag) << c.topic;
  }
}

TEST(MqttTopics, TwinRequests) {
  auto get = classify_publish_topic("$iothub/twin/GET/?$rid=42");
  EXPECT_EQ(get.kind, TopicKind::twin_get);
  EXPECT_EQ(get.rid, "42");
  auto patch = classify_publish_topic(
      "$iothub/twin/PATCH/properties/reported/?$rid=5b1e5e1c-0a0b-4c4e-9a0e-1b2c3d4e5f60");
  EXPECT_EQ(patch.kind, TopicKind::twin_reported_patch);
  EXPECT_EQ(patch.rid, "5b1e5e1c-0a0b-4c4e-9a0e-1b2c3d4e5f60");
  auto extra =
      classify_publish_topic("$iothub/twin/PATCH/properties/reported/?$version=3&$rid=r1&x=y");
  EXPECT_EQ(extra.kind, TopicKind::twin_reported_patch);
  EXPECT_EQ(extra.rid, "r1");
  EXPECT_EQ(twin_version(extra.query), 3);
}

TEST(MqttTopics, MethodResponse) {
  auto r = classify_publish_topic("$iothub/methods/res/200/?$rid=7");
  EXPECT_EQ(r.kind, TopicKind::method_response);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.rid, "7");
  auto negative = classify_publish_topic("$iothub/methods/res/-1/?$rid=abc&foo=bar");
  EXPECT_EQ(negative.kind, TopicKind::method_response);
  EXPECT_EQ(negative.status, -1);
  EXPECT_EQ(negative.rid, "abc");
}

TEST(MqttTopics, EverythingElseIsUnknown) {
  for (std::string_view topic : {
           "devices/dev1/messages/events2",
           "devices/dev1/messages/eventsX/a=1",
           "devices//messages/events/",
           "devices/dev1/modules//messages/events/",
           "devices/dev1/messages/devicebound/",
           "devices/dev1/modules/m1/inputs/in1/",
           "devices/dev1",
           "Devices/dev1/messages/events/",
           "$iothub/twin/GET/",        // no $rid
           "$iothub/twin/GET/?$rid=",  // empty $rid
           "$iothub/twin/GET/?rid=1",
           "$iothub/twin/GET?$rid=1",
           "$iothub/twin/PATCH/properties/desired/?$rid=1",  // devices cannot patch desired
           "$iothub/twin/PATCH/properties/reported/",
           "$iothub/twin/res/200/?$rid=1",
           "$iothub/methods/res/abc/?$rid=1",
           "$iothub/methods/res/200/?x=1",
           "$iothub/methods/res/99999999999/?$rid=1",
           "$iothub/methods/res//?$rid=1",
           "$iothub/methods/POST/m/?$rid=1",
           "hello/world",
       }) {
    EXPECT_EQ(classify_publish_topic(topic).kind, TopicKind::unknown) << topic;
  }
}

TEST(MqttTopics, SubscriptionFilters) {
  struct Case {
    std::string_view filter;
    FilterKind kind;
    std::string_view device, module;
    bool any_device;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"devices/dev1/messages/devicebound/#", FilterKind::c2d, "dev1", "", false},
           {"devices/+/messages/devicebound/#", FilterKind::c2d, "", "", true},
           {"devices/dev1/modules/m1/inputs/#", FilterKind::module_inputs, "dev1", "m1", false},
           {"devices/dev1/modules/m1/#", FilterKind::module_inputs, "dev1", "m1", false},
           {"devices/dev1/modules/m1/messages/devicebound/#", FilterKind::module_c2d, "dev1", "m1",
            false},
           {"$iothub/methods/POST/#", FilterKind::methods, "", "", false},
           {"$iothub/twin/res/#", FilterKind::twin_responses, "", "", false},
           {"$iothub/twin/PATCH/properties/desired/#", FilterKind::twin_desired, "", "", false}}) {
    const auto f = classify_subscription(c.filter);
    EXPECT_EQ(f.kind, c.kind) << c.filter;
    EXPECT_EQ(f.device, c.device) << c.filter;
    EXPECT_EQ(f.module, c.module) << c.filter;
    EXPECT_EQ(f.any_device, c.any_device) << c.filter;
  }
}

TEST(MqttTopics, OtherFiltersAreUnknown) {
  for (std::string_view filter :
       {"#", "+", "devices/#", "devices/dev1/#", "devices/dev1/messages/devicebound",
        "devices/dev1/messages/devicebound/+", "devices/+/modules/m1/inputs/#",
        "devices/dev1/modules/+/inputs/#", "devices/#/messages/devicebound/#",
        "devices/dev1/messages/events/#", "devices/dev1/modules/m1/inputs/in1/#",
        "devices//messages/devicebound/#", "$iothub/methods/POST/m1/#", "$iothub/methods/#",
        "$iothub/twin/#", "$iothub/twin/res/200/#", "$iothub/twin/PATCH/properties/reported/#",
        "devices/+/modules/+/#", ""}) {
    EXPECT_EQ(classify_subscription(filter).kind, FilterKind::unknown) << filter;
  }
}

TEST(MqttTopics, OutboundTopics) {
  EXPECT_EQ(c2d_topic("dev1", ""), "devices/dev1/messages/devicebound/");
  EXPECT_EQ(c2d_topic("dev1", "%24.mid=1"), "devices/dev1/messages/devicebound/%24.mid=1");
  EXPECT_EQ(module_c2d_topic("dev1", "m1", ""), "devices/dev1/modules/m1/messages/devicebound/");
  EXPECT_EQ(module_input_topic("gw", "filter", "input1", ""),
            "devices/gw/modules/filter/inputs/input1/");
  EXPECT_EQ(module_input_topic("gw", "filter", "input1", "k=v"),
            "devices/gw/modules/filter/inputs/input1/k=v");
  EXPECT_EQ(twin_response_topic(200, "r1"), "$iothub/twin/res/200/?$rid=r1");
  EXPECT_EQ(twin_response_topic(204, "r2", 7), "$iothub/twin/res/204/?$rid=r2&$version=7");
  EXPECT_EQ(desired_patch_topic(12), "$iothub/twin/PATCH/properties/desired/?$version=12");
  EXPECT_EQ(method_request_topic("reboot", "1"), "$iothub/methods/POST/reboot/?$rid=1");
}

TEST(MqttTopics, OutboundTwinTopicsParseBack) {
  // What the Node twin client extracts from our responses.
  const auto topic = twin_response_topic(204, "abc", 9);
  const auto query = std::string_view(topic).substr(topic.find('?') + 1);
  EXPECT_EQ(request_id(query), "abc");
  EXPECT_EQ(twin_version(query), 9);
  const auto desired = desired_patch_topic(4);
  EXPECT_EQ(twin_version(std::string_view(desired).substr(desired.find('?') + 1)), 4);
}

TEST(MqttTopics, QueryHelpers) {
  EXPECT_EQ(query_value("a=1&b=2", "b"), "2");
  EXPECT_EQ(query_value("a=1&b", "b"), "");
  EXPECT_EQ(query_value("a=1&b=", "b"), "");
  EXPECT_FALSE(query_value("a=1&bb=2", "b"));
  EXPECT_EQ(query_value("$rid=1&$rid=2", "$rid"), "1");  // first wins
  EXPECT_FALSE(request_id(""));
  EXPECT_FALSE(twin_version("$version=x"));
  EXPECT_FALSE(twin_version("$version="));
  EXPECT_EQ(twin_version("$rid=1&$version=-2"), -2);
}

}  // namespace
}  // namespace edgehub::mqtt::test

namespace edgehub::mqtt::test {
namespace {

const core::ClientId kDevice{"dev1", ""};
const core::ClientId kModule{"dev1", "mod1"};

TEST(MqttAuthorisation, TelemetryOnlyOnTheIdentitysOwnTopic) {
  const auto device_topic = classify_publish_topic("devices/dev1/messages/events/");
  const auto module_topic = classify_publish_topic("devices/dev1/modules/mod1/messages/events/");
  EXPECT_TRUE(may_publish(device_topic, kDevice));
  EXPECT_FALSE(may_publish(device_topic, kModule));
  EXPECT_TRUE(may_publish(module_topic, kModule));
  EXPECT_FALSE(may_publish(module_topic, kDevice));
  EXPECT_FALSE(may_publish(classify_publish_topic("devices/dev2/messages/events/"), kDevice));
  EXPECT_FALSE(may_publish(classify_publish_topic("devices/DEV1/messages/events/"), kDevice));
  EXPECT_FALSE(
      may_publish(classify_publish_topic("devices/dev1/modules/mod2/messages/events/"), kModule));
  EXPECT_FALSE(may_publish(classify_publish_topic("devices/dev1/messages/devicebound/"), kDevice));
}

TEST(MqttAuthorisation, TwinAndMethodTopicsActForTheConnection) {
  for (const auto* topic :
       {"$iothub/twin/GET/?$rid=1", "$iothub/twin/PATCH/properties/reported/?$rid=1",
        "$iothub/methods/res/200/?$rid=1"}) {
    EXPECT_TRUE(may_publish(classify_publish_topic(topic), kDevice)) << topic;
    EXPECT_TRUE(may_publish(classify_publish_topic(topic), kModule)) << topic;
  }
}

TEST(MqttAuthorisation, SubscriptionsOnlyWithinTheIdentitysSpace) {
  auto sub = [](std::string_view f, const core::ClientId& id) {
    return may_subscribe(classify_subscription(f), id);
  };
  EXPECT_TRUE(sub("devices/dev1/messages/devicebound/#", kDevice));
  EXPECT_TRUE(sub("devices/+/messages/devicebound/#", kDevice));
  EXPECT_FALSE(sub("devices/dev2/messages/devicebound/#", kDevice));
  EXPECT_FALSE(sub("devices/dev1/messages/devicebound/#", kModule));
  EXPECT_FALSE(sub("devices/+/messages/devicebound/#", kModule));
  EXPECT_TRUE(sub("devices/dev1/modules/mod1/inputs/#", kModule));
  EXPECT_TRUE(sub("devices/dev1/modules/mod1/#", kModule));
  EXPECT_TRUE(sub("devices/dev1/modules/mod1/messages/devicebound/#", kModule));
  EXPECT_FALSE(sub("devices/dev1/modules/mod2/inputs/#", kModule));
  EXPECT_FALSE(sub("devices/dev2/modules/mod1/inputs/#", kModule));
  EXPECT_FALSE(sub("devices/dev1/modules/mod1/inputs/#", kDevice));
  for (const auto* f : {"$iothub/methods/POST/#", "$iothub/twin/res/#",
                        "$iothub/twin/PATCH/properties/desired/#"}) {
    EXPECT_TRUE(sub(f, kDevice)) << f;
    EXPECT_TRUE(sub(f, kModule)) << f;
  }
  EXPECT_FALSE(sub("#", kDevice));
  EXPECT_FALSE(sub("devices/dev1/#", kDevice));
}

TEST(MqttAuthorisation, Qos2IsGrantedAsQos1) {
  using mqtt_proto::QoS;
  EXPECT_EQ(granted_qos(QoS::at_most_once), QoS::at_most_once);
  EXPECT_EQ(granted_qos(QoS::at_least_once), QoS::at_least_once);
  EXPECT_EQ(granted_qos(QoS::exactly_once), QoS::at_least_once);
}

}  // namespace
}  // namespace edgehub::mqtt::test
