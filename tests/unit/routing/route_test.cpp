// Routes: grammar, sources (reference §3.3) and sinks (§3.4).

#include "edgehub/routing/route_table.hpp"
#include "fixture.hpp"

namespace edgehub::routing::test {
namespace {

core::Message telemetry(std::string module = {}, std::string output = {}) {
  core::Message m;
  m.sys_prop(core::SystemProperty::connection_device_id) = "dev";
  if (!module.empty()) m.sys_prop(core::SystemProperty::connection_module_id) = module;
  if (!output.empty()) m.sys_prop(core::SystemProperty::output_name) = output;
  return m;
}

core::Message twin() {
  core::Message m;
  m.kind = core::MessageKind::twin_change_notification;
  return m;
}

bool fires(std::string_view route_text, const core::Message& m) {
  auto route = Route::compile(route_text, "gw");
  EXPECT_TRUE(route.has_value()) << route_text;
  if (!route) return false;
  EvalContext context;
  context.bind(m);
  return route->fires(context);
}

std::string error_of(std::string_view route_text) {
  CompileError error;
  auto route = Route::compile(route_text, "gw", &error);
  return route ? std::string("compiled") : error.to_string();
}

TEST(RoutingRoute, SourcesMatchByCaseInsensitiveSegmentPrefix) {
  const auto leaf = telemetry();
  const auto module = telemetry("filter");
  const auto output = telemetry("filter", "out1");
  const auto t = twin();
  struct Case {
    const char* from;
    bool leaf, module, output, twin;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"/*", true, true, true, true},
           {"/messages/*", true, true, true, false},
           {"/messages", true, true, true, false},
           {"/MESSAGES/*", true, true, true, false},
           {"/messages/modules/*", false, true, true, false},
           {"/messages/modules/filter/*", false, true, true, false},
           {"/messages/modules/FILTER/*", false, true, true, false},
           {"/messages/modules/other/*", false, false, false, false},
           {"/messages/modules/filter/outputs/*", false, false, true, false},
           {"/messages/modules/filter/outputs/out1", false, false, true, false},
           {"/messages/modules/filter/outputs/out2", false, false, false, false},
           {"/twinChangeNotifications", false, false, false, true},
           {"/twinchangenotifications", false, false, false, true},
       }) {
    const std::string route = std::string("FROM ") + c.from + " INTO $upstream";
    EXPECT_EQ(fires(route, leaf), c.leaf) << route;
    EXPECT_EQ(fires(route, module), c.module) << route;
    EXPECT_EQ(fires(route, output), c.output) << route;
    EXPECT_EQ(fires(route, t), c.twin) << route;
  }
}

TEST(RoutingRoute, LeafDevicesOnlyIdiom) {
  const char* route = "FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO $upstream";
  EXPECT_TRUE(fires(route, telemetry()));
  EXPECT_FALSE(fires(route, telemetry("filter")));
}

TEST(RoutingRoute, GrammarForms) {
  EXPECT_TRUE(fires("SELECT * FROM /messages/* INTO $upstream", telemetry()));
  EXPECT_TRUE(fires("select * from /messages/* where true into $upstream", telemetry()));
  EXPECT_TRUE(fires("FROM /messages/* WHERE key = 'a' /* comment */ INTO $upstream", [] {
    auto m = telemetry();
    m.set_app("key", "a");
    return m;
  }()));
  EXPECT_FALSE(fires("FROM /messages/* WHERE false INTO $upstream", telemetry()));
  EXPECT_FALSE(fires("FROM /messages/* WHERE missing = 'x' INTO $upstream", telemetry()));
}

TEST(RoutingRoute, Sinks) {
  auto up = Route::compile("FROM /* INTO $upstream", "gw");
  ASSERT_TRUE(up);
  EXPECT_EQ(up->endpoint().kind, EndpointKind::upstream);
  EXPECT_EQ(up->endpoint().id, "iothub");
  auto up2 = Route::compile("FROM /* INTO $UPSTREAM", "gw");
  ASSERT_TRUE(up2);
  EXPECT_EQ(up2->endpoint().id, "iothub");
  auto module =
      Route::compile("FROM /* INTO BrokeredEndpoint(\"/modules/filter/inputs/in1\")", "gw");
  ASSERT_TRUE(module);
  EXPECT_EQ(module->endpoint().kind, EndpointKind::module_input);
  EXPECT_EQ(module->endpoint().id, "gw/filter/in1");
  EXPECT_EQ(module->endpoint().module_id, "filter");
  EXPECT_EQ(module->endpoint().input_name, "in1");
  auto single = Route::compile("FROM /* INTO brokeredendpoint('/modules/m/inputs/i')", "edge-1");
  ASSERT_TRUE(single);
  EXPECT_EQ(single->endpoint().id, "edge-1/m/i");
}

TEST(RoutingRoute, BadRoutesSayWhatIsWrong) {
  EXPECT_EQ(error_of(""), "column 1: the route is empty");
  EXPECT_EQ(error_of("FROM /messages/* INTO $downstream"),
            "column 23: unknown endpoint '$downstream' (edgeHub knows $upstream and "
            "BrokeredEndpoint(\"/modules/<module>/inputs/<input>\"))");
  EXPECT_EQ(error_of("FROM /messages/* INTO BrokeredEndpoint(\"/modules/m/outputs/o\")"),
            "column 40: BrokeredEndpoint path must be \"/modules/<module>/inputs/<input>\", got "
            "\"/modules/m/outputs/o\"");
  EXPECT_EQ(error_of("FROM /messages/* INTO BrokeredEndpoint(\"/modules/m/inputs/i/x\")"),
            "column 40: BrokeredEndpoint path must be \"/modules/<module>/inputs/<input>\", got "
            "\"/modules/m/inputs/i/x\"");
  EXPECT_EQ(error_of("FROM /devices/* INTO $upstream"),
            "column 6: unsupported source '/devices/*' (use /*, /messages/*, "
            "/messages/modules/<module>/*, /messages/modules/<module>/outputs/<output> or "
            "/twinChangeNotifications)");
  EXPECT_EQ(error_of("FROM /messages/modules/*/outputs/* INTO $upstream"),
            "column 6: '*' is only allowed at the end of a source path, in "
            "'/messages/modules/*/outputs/*'");
  EXPECT_EQ(error_of("FROM /messages/* WHERE INTO $upstream"),
            "column 18: expected a condition after WHERE");
  EXPECT_EQ(error_of("FROM /messages/* WHERE a = 'b' c = 'd' INTO $upstream"),
            "column 32: expected INTO <endpoint>, found name 'c' (missing AND/OR or operator in "
            "the condition?)");
  EXPECT_EQ(error_of("/messages/* INTO $upstream"),
            "column 1: a route starts with FROM <source> (optionally SELECT * FROM), found '/'");
  EXPECT_EQ(error_of("FROM /messages/* WHERE temp > 30 INTO $upstream"),
            "column 29: operator '>' cannot compare string with number (property values are "
            "strings: convert with as_number(...) to use them as numbers)");
  EXPECT_EQ(error_of("FROM /messages/* INTO $upstream extra"),
            "column 33: unexpected name 'extra' after the endpoint");
  EXPECT_EQ(error_of("FROM messages INTO $upstream"),
            "column 6: expected a source path such as /messages/* after FROM, found name "
            "'messages'");
  EXPECT_EQ(error_of("FROM /messages/* INTO Foo(\"/modules/m/inputs/i\")"),
            "column 23: unknown endpoint function 'Foo' (edgeHub knows $upstream and "
            "BrokeredEndpoint(\"/modules/<module>/inputs/<input>\"))");
}

TEST(RoutingRoute, TwinChangeIncludesNeedsTheTwinSource) {
  EXPECT_EQ(error_of("FROM /messages/* WHERE twin_change_includes(properties.reported.a) INTO "
                     "$upstream"),
            "column 24: unknown function 'twin_change_includes' (twin_change_includes is only "
            "valid FROM /twinChangeNotifications)");
  EXPECT_EQ(error_of("FROM /twinChangeNotifications WHERE "
                     "twin_change_includes(properties.reported.a) INTO $upstream"),
            "compiled");
}

TEST(RoutingRoute, ConditionTextIsKept) {
  auto route = Route::compile("FROM /messages/* WHERE  a = 'b'  INTO $upstream", "gw");
  ASSERT_TRUE(route);
  ASSERT_TRUE(route->condition().has_value());
  EXPECT_EQ(route->condition()->text(), "a = 'b'");
  EXPECT_EQ(route->source(), "/messages");
}

TEST(RoutingRoute, CommentsCanSwallowTextLikeEdgeHub) {
  // '/*' starts a comment when a '*/' follows anywhere, even inside the source path.
  EXPECT_NE(error_of("FROM /messages/* WHERE $body.x = '*/' INTO $upstream"), "compiled");
}

}  // namespace
}  // namespace edgehub::routing::test
