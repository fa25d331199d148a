#include "edgehub/amqp_core/address.hpp"

#include <gtest/gtest.h>

#include <string>

namespace edgehub::amqp_core {
namespace {

TEST(AmqpAddress, DeviceTelemetryBarePath) {
  auto a = parse_link_address("/devices/dev1/messages/events");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->node, Node::events);
  EXPECT_EQ(a->id.device, "dev1");
  EXPECT_TRUE(a->id.module.empty());
}

TEST(AmqpAddress, AbsoluteUriWithPortAndMixedCase) {
  auto a =
      parse_link_address("amqps://hub.azure-devices.net:5671/devices/dev1/methods/deviceBound");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->node, Node::methods);
  EXPECT_EQ(a->id.device, "dev1");
  a = parse_link_address("/DEVICES/dev1/Messages/DeviceBound");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->node, Node::c2d);
}

TEST(AmqpAddress, ModulePathsAndEncodedIds) {
  auto a = parse_link_address("/devices/dev%231/modules/mod%2D1/messages/events");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->node, Node::events);
  EXPECT_EQ(a->id.device, "dev#1");
  EXPECT_EQ(a->id.module, "mod-1");
  a = parse_link_address("/devices/d/modules/m/twin");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->node, Node::twin);
  a = parse_link_address("/devices/d/modules/m/inputs");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->node, Node::inputs);
  EXPECT_EQ(a->id.module, "m");
}

TEST(AmqpAddress, CbsNode) {
  EXPECT_EQ(parse_link_address("$cbs")->node, Node::cbs);
  EXPECT_EQ(parse_link_address("/$cbs")->node, Node::cbs);
  EXPECT_EQ(parse_link_address("amqps://gw/$CBS")->node, Node::cbs);
}

TEST(AmqpAddress, RefusesWhatIsNotServed) {
  EXPECT_FALSE(parse_link_address(""));
  EXPECT_FALSE(parse_link_address("/devices/dev1"));
  EXPECT_FALSE(parse_link_address("/devices/dev1/messages"));
  EXPECT_FALSE(parse_link_address("/devices/dev1/messages/eventsx"));
  EXPECT_FALSE(parse_link_address("/devices/dev1/inputs"));  // inputs are for modules only
  EXPECT_FALSE(parse_link_address("/devices/dev1/messages/serviceBound/feedback"));
  EXPECT_FALSE(parse_link_address("/devices/%zz/twin"));
  EXPECT_FALSE(parse_link_address("/devices/a%2Fb/twin"));  // an id never contains '/'
  EXPECT_FALSE(parse_link_address("/devices/" + std::string(129, 'a') + "/twin"));
  EXPECT_TRUE(parse_link_address("/devices/" + std::string(128, 'a') + "/twin"));
}

TEST(AmqpAddress, RolesPerNode) {
  const auto device_events = *parse_link_address("/devices/d/messages/events");
  const auto module_events = *parse_link_address("/devices/d/modules/m/messages/events");
  const auto c2d = *parse_link_address("/devices/d/messages/devicebound");
  EXPECT_TRUE(link_role_allowed(device_events, LinkRole::receive_from_client));
  EXPECT_FALSE(link_role_allowed(device_events, LinkRole::send_to_client));
  EXPECT_TRUE(link_role_allowed(module_events, LinkRole::send_to_client));  // module inputs
  EXPECT_TRUE(link_role_allowed(c2d, LinkRole::send_to_client));
  EXPECT_FALSE(link_role_allowed(c2d, LinkRole::receive_from_client));
}

TEST(AmqpAddress, UrlDecode) {
  EXPECT_EQ(url_decode("a%2Fb%2fc"), "a/b/c");
  EXPECT_FALSE(url_decode("%2"));
  EXPECT_FALSE(url_decode("%g0"));
}

}  // namespace
}  // namespace edgehub::amqp_core
