// Property bags of every SDK (iot-hub-protocol.md §2.3, §6, §10), both directions.

#include "edgehub/mqtt/property_bag.hpp"

#include <gtest/gtest.h>

#include "edgehub/mqtt/iothub_topics.hpp"

namespace edgehub::mqtt::test {
namespace {

using core::SystemProperty;

// The Node SDK's example telemetry topic, verbatim from iot-hub-protocol.md §2.3.
constexpr std::string_view kNodeTelemetry =
    "devices/dev1/messages/events/"
    "%24.mid=msg-1&%24.cid=corr-1&%24.uid=user1&%24.ct=application%2Fjson&%24.ce=utf-8&%24.exp="
    "2030-01-01T00%3A00%3A00.000Z&alert=high%20temp&a%26b%3Dc=x%2Fy%3Fz";
// The Node SDK's example module output topic, verbatim from §10 (note the trailing '/').
constexpr std::string_view kNodeModuleOutput =
    "devices/dev1/modules/mod1/messages/events/"
    "%24.on=out1&%24.mid=msg-1&%24.cid=corr-1&%24.uid=user1&%24.ct=application%2Fjson&%24.ce=utf-"
    "8&%24.exp=2030-01-01T00%3A00%3A00.000Z&alert=high%20temp&a%26b%3Dc=x%2Fy%3Fz/";
constexpr std::string_view kNodeBag =
    "%24.mid=msg-1&%24.cid=corr-1&%24.uid=user1&%24.ct=application%2Fjson&%24.ce=utf-8&%24.exp="
    "2030-01-01T00%3A00%3A00.000Z&alert=high%20temp&a%26b%3Dc=x%2Fy%3Fz";

core::Message decode(std::string_view bag) {
  core::Message m;
  auto ok = decode_property_bag(bag, m);
  EXPECT_TRUE(ok) << bag << ": " << ok.error().message();
  return m;
}

void expect_example_properties(const core::Message& m) {
  EXPECT_EQ(m.sys_prop(SystemProperty::message_id), "msg-1");
  EXPECT_EQ(m.sys_prop(SystemProperty::correlation_id), "corr-1");
  EXPECT_EQ(m.sys_prop(SystemProperty::user_id), "user1");
  EXPECT_EQ(m.sys_prop(SystemProperty::content_type), "application/json");
  EXPECT_EQ(m.sys_prop(SystemProperty::content_encoding), "utf-8");
  EXPECT_EQ(m.sys_prop(SystemProperty::absolute_expiry_time), "2030-01-01T00:00:00.000Z");
  EXPECT_EQ(m.app, (std::vector<core::Property>{{"alert", "high temp"}, {"a&b=c", "x/y?z"}}));
}

TEST(MqttPropertyBag, NodeTelemetryExampleDecodes) {
  const auto topic = classify_publish_topic(kNodeTelemetry);
  ASSERT_EQ(topic.kind, TopicKind::telemetry);
  EXPECT_EQ(topic.device, "dev1");
  EXPECT_EQ(topic.module, "");
  const auto m = decode(topic.bag);
  expect_example_properties(m);
  EXPECT_FALSE(m.sys_prop(SystemProperty::output_name));
}

TEST(MqttPropertyBag, NodeModuleOutputExampleDecodes) {
  const auto topic = classify_publish_topic(kNodeModuleOutput);
  ASSERT_EQ(topic.kind, TopicKind::telemetry);
  EXPECT_EQ(topic.device, "dev1");
  EXPECT_EQ(topic.module, "mod1");
  EXPECT_FALSE(topic.bag.ends_with('/'));
  const auto m = decode(topic.bag);
  EXPECT_EQ(m.sys_prop(SystemProperty::output_name), "out1");
  expect_example_properties(m);
}

TEST(MqttPropertyBag, ExampleRoundTripsToTheSameBagForADevice) {
  // Decoded and re-encoded for C2D, the Node example comes back byte for byte.
  EXPECT_EQ(encode_property_bag(decode(kNodeBag), BagTarget::device), kNodeBag);
}

TEST(MqttPropertyBag, ModuleOutputToModuleInputCarriesTheOrigin) {
  const auto topic = classify_publish_topic(kNodeModuleOutput);
  auto m = decode(topic.bag);
  // The gateway stamps the connection's identity (never the device's $.cdid/$.cmid claims).
  m.sys_prop(SystemProperty::connection_device_id) = "dev1";
  m.sys_prop(SystemProperty::connection_module_id) = "mod1";
  const auto bag = encode_property_bag(m, BagTarget::module_input);
  EXPECT_EQ(bag,
            "%24.mid=msg-1&%24.cid=corr-1&%24.uid=user1&%24.ct=application%2Fjson&%24.ce=utf-8&"
            "%24.exp=2030-01-01T00%3A00%3A00.000Z&%24.cdid=dev1&%24.cmid=mod1&alert=high%20temp&"
            "a%26b%3Dc=x%2Fy%3Fz");
  const auto out = module_input_topic("gw", "filter", "input1", bag);
  // The Node SDK takes the bag as the 7th '/'-separated segment.
  EXPECT_EQ(std::count(out.begin(), out.end(), '/'), 6);
  // And the receiving side decodes everything but the connection ids back.
  core::Message back;
  ASSERT_TRUE(decode_property_bag(bag, back));
  EXPECT_EQ(back.app, m.app);
  EXPECT_EQ(back.sys_prop(SystemProperty::message_id), "msg-1");
  EXPECT_FALSE(back.sys_prop(SystemProperty::connection_device_id));
  // For a device target the origin is not sent and $.on is never sent.
  EXPECT_EQ(encode_property_bag(m, BagTarget::device), kNodeBag);
}

TEST(MqttPropertyBag, JavaSendsLiteralDollarAndPlusForSpace) {
  const auto m = decode("$.mid=abc&$.ct=application%2Fjson&greeting=hello+world&sum=1%2B1");
  EXPECT_EQ(m.sys_prop(SystemProperty::message_id), "abc");
  EXPECT_EQ(m.sys_prop(SystemProperty::content_type), "application/json");
  EXPECT_EQ(m.app, (std::vector<core::Property>{{"greeting", "hello world"}, {"sum", "1+1"}}));
}

TEST(MqttPropertyBag, CSdkSendsPercent24) {
  const auto m = decode("%24.mid=m1&%24.cid=c1&%24.ctime=2024-01-01T00%3A00%3A00Z&%24.sub=therm1");
  EXPECT_EQ(m.sys_prop(SystemProperty::message_id), "m1");
  EXPECT_EQ(m.sys_prop(SystemProperty::correlation_id), "c1");
  EXPECT_EQ(m.sys_prop(SystemProperty::creation_time), "2024-01-01T00:00:00Z");
  EXPECT_EQ(m.sys_prop(SystemProperty::component), "therm1");
  EXPECT_TRUE(m.app.empty());
}

TEST(MqttPropertyBag, EverySystemKeyMaps) {
  const auto m = decode(
      "$.mid=1&$.cid=2&$.uid=3&$.to=4&$.exp=5&$.ct=6&$.ce=7&$.ctime=8&$.on=9&$.ifid=10&$.sub=11&"
      "$.schema=12&iothub-ack=full&iothub-operation=op");
  const std::vector<std::pair<SystemProperty, const char*>> expected = {
      {SystemProperty::message_id, "1"},
      {SystemProperty::correlation_id, "2"},
      {SystemProperty::user_id, "3"},
      {SystemProperty::to, "4"},
      {SystemProperty::absolute_expiry_time, "5"},
      {SystemProperty::content_type, "6"},
      {SystemProperty::content_encoding, "7"},
      {SystemProperty::creation_time, "8"},
      {SystemProperty::output_name, "9"},
      {SystemProperty::interface_id, "10"},
      {SystemProperty::component, "11"},
      {SystemProperty::message_schema, "12"},
      {SystemProperty::ack, "full"},
      {SystemProperty::operation, "op"}};
  for (const auto& [p, v] : expected) {
    EXPECT_EQ(m.sys_prop(p), v) << core::system_property_name(p);
  }
  EXPECT_TRUE(m.app.empty());
}

TEST(MqttPropertyBag, SystemKeysMatchCaseInsensitively) {
  const auto m = decode("%24.MID=x&IOTHUB-ACK=positive");
  EXPECT_EQ(m.sys_prop(SystemProperty::message_id), "x");
  EXPECT_EQ(m.sys_prop(SystemProperty::ack), "positive");
}

TEST(MqttPropertyBag, ConnectionIdsFromADeviceAreIgnored) {
  const auto m = decode("$.cdid=other&%24.cmid=spoof&k=v");
  EXPECT_FALSE(m.sys_prop(SystemProperty::connection_device_id));
  EXPECT_FALSE(m.sys_prop(SystemProperty::connection_module_id));
  EXPECT_EQ(m.app, (std::vector<core::Property>{{"k", "v"}}));
}

TEST(MqttPropertyBag, BareNameIsNullAndEqualsIsEmpty) {
  const auto m = decode("flag&empty=&k=v");
  EXPECT_EQ(m.app,
            (std::vector<core::Property>{{"flag", std::nullopt}, {"empty", ""}, {"k", "v"}}));
  // Null encodes back as a bare name, empty keeps its '='.
  EXPECT_EQ(encode_property_bag(m, BagTarget::device), "flag&empty=&k=v");
}

TEST(MqttPropertyBag, NullSystemKeyIsIgnored) {
  const auto m = decode("$.mid&$.cid=");
  EXPECT_FALSE(m.sys_prop(SystemProperty::message_id));
  EXPECT_EQ(m.sys_prop(SystemProperty::correlation_id), "");
}

TEST(MqttPropertyBag, EmptyBagAndEmptyPairs) {
  EXPECT_TRUE(decode("").app.empty());
  EXPECT_EQ(decode("a=1&&b=2&").app, (std::vector<core::Property>{{"a", "1"}, {"b", "2"}}));
}

TEST(MqttPropertyBag, RepeatedNameKeepsTheLastValueInFirstPosition) {
  EXPECT_EQ(decode("a=1&b=2&A=3").app, (std::vector<core::Property>{{"A", "3"}, {"b", "2"}}));
}

TEST(MqttPropertyBag, UnknownDollarKeysStayApplicationProperties) {
  EXPECT_EQ(decode("%24.custom=1").app, (std::vector<core::Property>{{"$.custom", "1"}}));
}

TEST(MqttPropertyBag, MalformedBagsAreRefused) {
  for (std::string_view bad : {"a=%zz", "a=%4", "a=%", "%g1=x", "=x", "=", "a=%FF", "a=%C3%28",
                               "k%00=v", "a=%00", "a=1&=2"}) {
    core::Message m;
    EXPECT_EQ(decode_property_bag(bad, m).error(), NamingErrc::invalid_property_bag) << bad;
  }
}

TEST(MqttPropertyBag, UnicodeValuesSurvive) {
  const auto m = decode("t=%C3%A9t%C3%A9%20%E2%82%AC");
  EXPECT_EQ(m.app[0].value, "\xc3\xa9t\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(encode_property_bag(m, BagTarget::device), "t=%C3%A9t%C3%A9%20%E2%82%AC");
}

TEST(MqttPropertyBag, EncodingForDevicesFollowsTheNodeParsersNeeds) {
  core::Message m;
  m.sys_prop(SystemProperty::to) = "/devices/dev1/messages/devicebound";
  m.sys_prop(SystemProperty::ack) = "full";
  m.set_app("note", "a b+c/d");
  // Not user-settable: never sent to a device.
  m.sys_prop(SystemProperty::creation_time) = "2024";
  m.sys_prop(SystemProperty::output_name) = "out1";
  m.sys_prop(SystemProperty::enqueued_time) = "x";
  m.sys_prop(SystemProperty::connection_device_id) = "dev9";
  const auto bag = encode_property_bag(m, BagTarget::device);
  EXPECT_EQ(bag,
            "%24.to=%2Fdevices%2Fdev1%2Fmessages%2Fdevicebound&iothub-ack=full&note=a%20b%2Bc%2Fd");
  EXPECT_EQ(bag.find('/'), std::string::npos);
  EXPECT_EQ(bag.find('$'), std::string::npos);
  EXPECT_EQ(c2d_topic("dev1", bag), "devices/dev1/messages/devicebound/" + bag);
  // Round trip.
  const auto back = decode(bag);
  EXPECT_EQ(back.sys_prop(SystemProperty::to), "/devices/dev1/messages/devicebound");
  EXPECT_EQ(back.sys_prop(SystemProperty::ack), "full");
  EXPECT_EQ(back.app, m.app);
}

TEST(MqttPropertyBag, PercentHelpers) {
  EXPECT_EQ(percent_encode("aZ09-._~ $/&=+%"), "aZ09-._~%20%24%2F%26%3D%2B%25");
  EXPECT_EQ(percent_decode("a+b%2b%2F", false), "a+b+/");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_FALSE(percent_decode("%2", false));
  EXPECT_FALSE(percent_decode("%x2", false));
}

}  // namespace
}  // namespace edgehub::mqtt::test
