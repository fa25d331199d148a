// RoutingIngress on a real SQLite store: stamping, size limit, routing to 0/1/many queues with
// priorities and TTLs, no-route accounting, store refusal, completion executor.

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded
// clang-format on
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>
#include <string_view>

#include "component/hub/hub_fixture.hpp"
#include "edgehub/hub/errors.hpp"

namespace edgehub::hub::testing {
namespace {

using core::SystemProperty;

class IngressTest : public HubFixture {};

TEST_F(IngressTest, NoRouteIsAcknowledgedDroppedAndCounted) {
  start({route("r", "FROM /messages/modules/* INTO $upstream")});
  auto r = accept(telemetry("x", "dev1"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->deliveries, 0u);
  EXPECT_EQ(counter("edgehub_messages_dropped_total", {"reason", "from", "from_route_output"},
                    {"no_route", "dev1", ""}),
            1u);
  EXPECT_TRUE(peek({"iothub", routing::kDefaultPriority}).empty());
  EXPECT_EQ(counter("edgehub_messages_received_total", {"id", "route_output"}, {"dev1", ""}), 1u);
}

TEST_F(IngressTest, RoutesToOneEndpointWithPriorityAndTtl) {
  start({route("r", "FROM /messages/* INTO BrokeredEndpoint(\"/modules/filter/inputs/in1\")", 3,
               60)});
  const auto before = clock_.now();
  auto r = accept(telemetry("hello"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->deliveries, 1u);
  auto entries = peek({"gw/filter/in1", 3});
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].message.body_text(), "hello");
  EXPECT_EQ(entries[0].expires_at, before + std::chrono::seconds(60));
  EXPECT_TRUE(peek({"gw/filter/in1", routing::kDefaultPriority}).empty());
}

TEST_F(IngressTest, FansOutToEveryMatchedEndpointOnceWithTheBestPriority) {
  start({
      route("up", "FROM /messages/* INTO $upstream"),
      route("a", "FROM /messages/* INTO BrokeredEndpoint(\"/modules/a/inputs/in\")", 5),
      route("a_hot",
            "FROM /messages/* WHERE hot = 'yes' INTO BrokeredEndpoint(\"/modules/a/inputs/in\")",
            1),
      route("b",
            "FROM /messages/* WHERE hot = 'no' INTO BrokeredEndpoint(\"/modules/b/inputs/in\")"),
  });
  auto m = telemetry("m1");
  m.set_app("hot", "yes");
  auto r = accept(std::move(m));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->deliveries, 2u);
  EXPECT_EQ(bodies({"iothub", routing::kDefaultPriority}), std::vector<std::string>{"m1"});
  EXPECT_EQ(bodies({"gw/a/in", 1}), std::vector<std::string>{"m1"});
  EXPECT_TRUE(peek({"gw/a/in", 5}).empty());
  EXPECT_TRUE(peek({"gw/b/in", routing::kDefaultPriority}).empty());
}

TEST_F(IngressTest, StampsConnectionIdsFromTheAuthenticatedIdentityIgnoringSpoofedValues) {
  start({route("all", "FROM /* INTO $upstream")});
  auto m = telemetry("x", "dev1");
  m.sys_prop(SystemProperty::connection_device_id) = "someone-else";
  m.sys_prop(SystemProperty::connection_module_id) = "evil";
  m.sys_prop(SystemProperty::edge_message_id) = "forged";
  m.sys_prop(SystemProperty::origin_interface) = "internal";
  m.sys_prop(SystemProperty::enqueued_time) = "1999-01-01T00:00:00.000Z";
  m.sys_prop(SystemProperty::message_id) = "mid-1";
  ASSERT_TRUE(accept(std::move(m)));
  auto entries = peek({"iothub", routing::kDefaultPriority});
  ASSERT_EQ(entries.size(), 1u);
  const auto& s = entries[0].message;
  EXPECT_EQ(s.sys_prop(SystemProperty::connection_device_id), "dev1");
  EXPECT_FALSE(s.sys_prop(SystemProperty::connection_module_id).has_value());
  EXPECT_EQ(s.sys_prop(SystemProperty::edge_message_id), "edge-id-1");
  EXPECT_EQ(s.sys_prop(SystemProperty::origin_interface), "downstream");
  EXPECT_EQ(s.sys_prop(SystemProperty::message_id), "mid-1");
  EXPECT_EQ(s.sys_prop(SystemProperty::enqueued_time), "2025-12-18T00:00:00.000Z");
}

TEST_F(IngressTest, DefaultEdgeMessageIdsAreDistinctVersion4Uuids) {
  start({route("all", "FROM /* INTO $upstream")});
  RoutingIngress ingress(*store_, routes_, IngressOptions{std::string(kGateway)}, registry_, clock_,
                         ioc_.get_executor());
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto m = telemetry("x", "dev1");
    ingress.stamp(m);
    const auto id = m.sys_prop(SystemProperty::edge_message_id).value_or("");
    ASSERT_EQ(id.size(), 36u) << id;
    EXPECT_EQ(id[8], '-');
    EXPECT_EQ(id[14], '4') << id;                                                    // version 4
    EXPECT_NE(std::string_view("89ab").find(id[19]), std::string_view::npos) << id;  // variant
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef-"), std::string::npos) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST_F(IngressTest, ModulesOfTheGatewayAreInternalAndCarryTheirModuleId) {
  start({route("all", "FROM /messages/modules/filter/outputs/* INTO $upstream")});
  auto m = telemetry("x", kGateway, "filter");
  m.sys_prop(SystemProperty::output_name) = "out1";
  m.sys_prop(SystemProperty::connection_module_id) = "not-filter";
  auto r = accept(std::move(m));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->deliveries, 1u);
  auto entries = peek({"iothub", routing::kDefaultPriority});
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].message.sys_prop(SystemProperty::connection_device_id), kGateway);
  EXPECT_EQ(entries[0].message.sys_prop(SystemProperty::connection_module_id), "filter");
  EXPECT_EQ(entries[0].message.sys_prop(SystemProperty::origin_interface), "internal");
  EXPECT_EQ(
      counter("edgehub_messages_received_total", {"id", "route_output"}, {"gw/filter", "out1"}),
      1u);
}

TEST_F(IngressTest, SpoofedModuleIdCannotChangeTheRouteSource) {
  // A device claiming connectionModuleId would otherwise match module routes.
  start({route("mods", "FROM /messages/modules/* INTO $upstream")});
  auto m = telemetry("x", "dev1");
  m.sys_prop(SystemProperty::connection_module_id) = "filter";
  auto r = accept(std::move(m));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->deliveries, 0u);
}

TEST_F(IngressTest, MessagesOverTheSizeLimitFailWithADistinctError) {
  start({route("all", "FROM /* INTO $upstream")}, {}, IngressOptions{kGateway, 100});
  auto ok = telemetry(std::string(90, 'a'));
  ok.set_app("k", "1234567");  // 90 + 1 + 7 = 98 bytes
  EXPECT_TRUE(accept(std::move(ok)));
  auto big = telemetry(std::string(90, 'a'));
  big.set_app("key", "12345678901");  // 90 + 3 + 11 = 104 bytes
  auto r = accept(std::move(big));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::message_too_large);
  EXPECT_FALSE(is_retryable(r.error()));
  EXPECT_EQ(peek({"iothub", routing::kDefaultPriority}).size(), 1u);
  EXPECT_EQ(counter("edgehub_messages_received_total", {"id", "route_output"}, {"dev1", ""}), 1u);
}

TEST_F(IngressTest, SpoofedGatewayPropertiesDoNotCountTowardsTheSizeLimit) {
  start({route("all", "FROM /* INTO $upstream")}, {}, IngressOptions{kGateway, 100});
  auto m = telemetry(std::string(95, 'a'));
  m.sys_prop(SystemProperty::connection_device_id) = std::string(50, 'x');
  EXPECT_TRUE(accept(std::move(m)));
}

TEST_F(IngressTest, StoreFullIsARetryableRefusalAndCounted) {
  store_options_.max_disk_bytes = 256 * 1024;
  start({route("all", "FROM /* INTO $upstream")}, {}, IngressOptions{kGateway, 1024 * 1024});
  auto r = accept(telemetry(std::string(300 * 1024, 'z')));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::store_refused);
  EXPECT_TRUE(is_retryable(r.error()));
  EXPECT_EQ(counter("edgehub_messages_unack_total", {"reason", "from", "from_route_output"},
                    {"storage_failure", "dev1", ""}),
            1u);
  EXPECT_TRUE(peek({"iothub", routing::kDefaultPriority}).empty());
}

TEST_F(IngressTest, SwappedRoutesApplyToLaterMessages) {
  start({route("up", "FROM /* INTO $upstream")});
  EXPECT_EQ(accept(telemetry("a"))->deliveries, 1u);
  ingress_->set_routes(make_routes({route("none", "FROM /messages/modules/* INTO $upstream")}));
  EXPECT_EQ(accept(telemetry("b"))->deliveries, 0u);
  EXPECT_EQ(bodies({"iothub", routing::kDefaultPriority}), std::vector<std::string>{"a"});
}

TEST_F(IngressTest, CompletesOnTheCallersExecutorUnderUseAwaitable) {
  start({route("up", "FROM /* INTO $upstream")});
  auto strand = boost::asio::make_strand(ioc_);
  bool done = false;
  bool on_strand = false;
  boost::asio::co_spawn(
      strand,
      [&]() -> boost::asio::awaitable<void> {
        auto r = co_await ingress_->async_accept(telemetry("c"), boost::asio::use_awaitable);
        on_strand = strand.running_in_this_thread();
        done = r.has_value();
      },
      boost::asio::detached);
  ASSERT_TRUE(run_until(ioc_, [&] { return done; }));
  EXPECT_TRUE(on_strand);
}

}  // namespace
}  // namespace edgehub::hub::testing
