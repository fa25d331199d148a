#include "edgehub/core/message.hpp"

#include <gtest/gtest.h>

namespace edgehub::core {
namespace {

TEST(Message, SourcePathFollowsConnectionModuleAndOutput) {
  Message m;
  EXPECT_EQ(m.source_path(), "/messages");
  m.sys_prop(SystemProperty::connection_module_id) = "filter";
  EXPECT_EQ(m.source_path(), "/messages/modules/filter");
  m.sys_prop(SystemProperty::output_name) = "out1";
  EXPECT_EQ(m.source_path(), "/messages/modules/filter/outputs/out1");
  m.kind = MessageKind::twin_change_notification;
  EXPECT_EQ(m.source_path(), "/twinChangeNotifications");
}

TEST(Message, AppPropertiesAreCaseInsensitiveByNameAndKeepNulls) {
  Message m;
  m.set_app("Alert", "high");
  m.set_app("nothing", std::nullopt);
  ASSERT_NE(m.find_app("alert"), nullptr);
  EXPECT_EQ(*m.find_app("ALERT")->value, "high");
  EXPECT_FALSE(m.find_app("nothing")->value.has_value());
  EXPECT_EQ(m.find_app("absent"), nullptr);
  m.set_app("ALERT", "low");
  EXPECT_EQ(m.app.size(), 2u);
  EXPECT_EQ(*m.find_app("alert")->value, "low");
}

TEST(Message, SystemPropertyNamesResolveCaseInsensitively) {
  EXPECT_EQ(find_system_property("connectionmoduleid"), SystemProperty::connection_module_id);
  EXPECT_EQ(find_system_property("CID"), SystemProperty::correlation_id);
  EXPECT_EQ(find_system_property("correlationId"), SystemProperty::correlation_id);
  EXPECT_EQ(find_system_property("nope"), std::nullopt);
  for (std::size_t i = 0; i < kSystemPropertyCount; ++i) {
    const auto p = static_cast<SystemProperty>(i);
    EXPECT_EQ(find_system_property(system_property_name(p)), p);
  }
}

TEST(Message, AccountedSizeCountsBodyAndProperties) {
  Message m;
  m.set_body("12345");
  m.sys_prop(SystemProperty::message_id) = "abc";
  m.set_app("k", "vv");
  EXPECT_EQ(m.accounted_size(), 5u + 3u + 1u + 2u);
}

TEST(ClientId, ParsesDeviceAndModuleForms) {
  ClientId id;
  ASSERT_TRUE(ClientId::parse("dev1", id));
  EXPECT_FALSE(id.is_module());
  ASSERT_TRUE(ClientId::parse("dev1/mod1", id));
  EXPECT_EQ(id.device, "dev1");
  EXPECT_EQ(id.module, "mod1");
  EXPECT_EQ(id.to_string(), "dev1/mod1");
  EXPECT_FALSE(ClientId::parse("", id));
  EXPECT_FALSE(ClientId::parse("/m", id));
  EXPECT_FALSE(ClientId::parse("d/", id));
  EXPECT_FALSE(ClientId::parse("a/b/c", id));
}

}  // namespace
}  // namespace edgehub::core
