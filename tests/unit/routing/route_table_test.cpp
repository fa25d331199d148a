// RouteTable: building from [gateway.routes], priority/TTL resolution (reference §3.1, §3.9) and
// queue naming (§4.1).

#include "edgehub/routing/route_table.hpp"

#include "fixture.hpp"

namespace edgehub::routing::test {
namespace {

config::RouteSpec spec(std::string name, std::string text,
                       std::optional<std::uint8_t> priority = std::nullopt,
                       std::optional<std::uint32_t> ttl = std::nullopt) {
  config::RouteSpec s;
  s.name = std::move(name);
  s.text = std::move(text);
  s.priority = priority;
  s.time_to_live_secs = ttl;
  return s;
}

RouteTable build(const std::vector<config::RouteSpec>& specs, std::uint32_t default_ttl = 7200) {
  std::vector<RouteIssue> issues;
  auto table = RouteTable::build(specs, "gw", default_ttl, issues);
  EXPECT_TRUE(table.has_value());
  for (const auto& i : issues)
    ADD_FAILURE() << i.to_string();
  return table ? std::move(*table) : RouteTable{};
}

core::Message leaf(std::string_view level = "5") {
  core::Message m;
  m.sys_prop(core::SystemProperty::connection_device_id) = "sensor";
  m.set_app("level", std::string(level));
  return m;
}

TEST(RoutingRouteTable, DefaultPriorityIsEdgeHubsLowest) {
  EXPECT_EQ(kDefaultPriority, 2000000000u);
  auto table = build({spec("all", "FROM /messages/* INTO $upstream")});
  const auto d = table.match(leaf());
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].endpoint->id, "iothub");
  EXPECT_EQ(d[0].priority, kDefaultPriority);
  EXPECT_EQ(d[0].ttl_secs, 7200u);
  EXPECT_EQ(d[0].route_name, "all");
}

TEST(RoutingRouteTable, RouteTtlOverridesAndZeroInherits) {
  auto table = build({spec("a", "FROM /messages/* INTO $upstream", 3, 60),
                      spec("b", "FROM /messages/* INTO BrokeredEndpoint(\"/modules/m/inputs/i\")",
                           std::nullopt, 0)},
                     100);
  const auto d = table.match(leaf());
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].ttl_secs, 60u);
  EXPECT_EQ(d[0].priority, 3u);
  EXPECT_EQ(d[1].ttl_secs, 100u);
  EXPECT_EQ(d[1].endpoint->id, "gw/m/i");
}

TEST(RoutingRouteTable, OneDeliveryPerEndpointBestPriorityWinsWithItsTtl) {
  auto table = build({
      spec("low", "FROM /messages/* INTO $upstream", std::nullopt, 10),
      spec("mid", "FROM /messages/* WHERE as_number(level) > 3 INTO $upstream", 5, 20),
      spec("high", "FROM /messages/* WHERE as_number(level) > 8 INTO $upstream", 0, 30),
      spec("same", "FROM /messages/* WHERE as_number(level) > 3 INTO $upstream", 5, 40),
  });
  auto d = table.match(leaf("5"));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].priority, 5u);
  EXPECT_EQ(d[0].ttl_secs, 20u);  // equal priority: the first declared route keeps it
  EXPECT_EQ(d[0].route_name, "mid");
  d = table.match(leaf("9"));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].priority, 0u);
  EXPECT_EQ(d[0].ttl_secs, 30u);
  d = table.match(leaf("1"));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].priority, kDefaultPriority);
  EXPECT_EQ(d[0].ttl_secs, 10u);
}

TEST(RoutingRouteTable, NoMatchAndSeveralEndpoints) {
  auto table = build({
      spec("up", "FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO $upstream"),
      spec("a", "FROM /messages/* INTO BrokeredEndpoint(\"/modules/a/inputs/in\")"),
      spec("b",
           "FROM /messages/modules/a/outputs/* INTO BrokeredEndpoint(\"/modules/b/inputs/in\")"),
  });
  EXPECT_EQ(table.endpoints().size(), 3u);
  EXPECT_EQ(table.match(leaf()).size(), 2u);
  core::Message from_a;
  from_a.sys_prop(core::SystemProperty::connection_module_id) = "a";
  from_a.sys_prop(core::SystemProperty::output_name) = "out";
  const auto d = table.match(from_a);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].endpoint->id, "gw/a/in");
  EXPECT_EQ(d[1].endpoint->id, "gw/b/in");
  core::Message twin;
  twin.kind = core::MessageKind::twin_change_notification;
  EXPECT_TRUE(table.match(twin).empty());
}

TEST(RoutingRouteTable, MatchBufferIsReusable) {
  auto table = build({spec("up", "FROM /messages/* WHERE as_number(level) > 3 INTO $upstream")});
  MatchBuffer buffer;
  const auto hot = leaf("9");
  const auto cold = leaf("1");
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(table.match(hot, buffer).size(), 1u);
    EXPECT_EQ(table.match(cold, buffer).size(), 0u);
  }
}

TEST(RoutingRouteTable, BadRoutesAreAllReportedByName) {
  std::vector<RouteIssue> issues;
  const std::vector<config::RouteSpec> specs = {
      spec("good", "FROM /messages/* INTO $upstream"),
      spec("typo", "FROM /messages/* WHERE temp > 30 INTO $upstream"),
      spec("prio", "FROM /messages/* INTO $upstream", 10),
      spec("", "FROM /messages/* INTO $upstream"),
      spec("sink", "FROM /messages/* INTO $nowhere"),
  };
  auto table = RouteTable::build(specs, "gw", 7200, issues);
  EXPECT_FALSE(table.has_value());
  ASSERT_EQ(issues.size(), 4u);
  EXPECT_EQ(issues[0].to_string(),
            "route 'typo': column 29: operator '>' cannot compare string with number (property "
            "values are strings: convert with as_number(...) to use them as numbers)");
  EXPECT_EQ(issues[1].to_string(), "route 'prio': priority must be 0 (highest) to 9, got 10");
  EXPECT_EQ(issues[2].route, "");
  EXPECT_EQ(issues[3].route, "sink");
  EXPECT_EQ(issues[3].error.code, RoutingErrc::bad_sink);
}

TEST(RoutingRouteTable, BuildsFromAConfigSnapshot) {
  config::GatewayConfig cfg;
  cfg.device_id = "gateway-7";
  cfg.store.time_to_live_secs = 99;
  cfg.routes = {spec("m", "FROM /* INTO BrokeredEndpoint(\"/modules/m/inputs/i\")")};
  std::vector<RouteIssue> issues;
  auto table = RouteTable::build(cfg, issues);
  ASSERT_TRUE(table.has_value());
  const auto d = table->match(leaf());
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].endpoint->id, "gateway-7/m/i");
  EXPECT_EQ(d[0].ttl_secs, 99u);
}

TEST(RoutingRouteTable, QueuesAndQueueNames) {
  auto table = build({
      spec("a", "FROM /messages/* INTO $upstream"),
      spec("b", "FROM /messages/* INTO $upstream", 0),
      spec("c", "FROM /messages/* WHERE true INTO $upstream", 0),
      spec("d", "FROM /* INTO BrokeredEndpoint(\"/modules/m/inputs/i\")", 9),
  });
  const auto q = table.queues();
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0], (RouteTable::QueueKey{"iothub", kDefaultPriority}));
  EXPECT_EQ(q[1], (RouteTable::QueueKey{"iothub", 0}));
  EXPECT_EQ(q[2], (RouteTable::QueueKey{"gw/m/i", 9}));
  EXPECT_EQ(queue_name("iothub", kDefaultPriority), "iothub");
  EXPECT_EQ(queue_name("iothub", 0), "iothub_Pri0");
  EXPECT_EQ(queue_name("gw/m/i", 9), "gw/m/i_Pri9");
}

}  // namespace
}  // namespace edgehub::routing::test
