// match() and evaluate() must not allocate in the common cases once the buffer is warm (issue 4:
// "compile once into a form that evaluates without allocation"). Counts global operator new calls
// in this test binary.

#include <atomic>
#include <cstdlib>
#include <new>

#include "edgehub/routing/route_table.hpp"
#include "fixture.hpp"

namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace edgehub::routing::test {
namespace {

TEST(RoutingAllocations, WarmMatchDoesNotAllocate) {
  std::vector<config::RouteSpec> specs(4);
  specs[0].name = "leaf";
  specs[0].text = "FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO $upstream";
  specs[1].name = "level";
  specs[1].text = "FROM /messages/* WHERE sensor = 'a' AND as_number(level) > 3 INTO $upstream";
  specs[1].priority = 1;
  specs[2].name = "body";
  specs[2].text =
      "FROM /messages/* WHERE $body.temp > 50 INTO BrokeredEndpoint(\"/modules/m/inputs/i\")";
  specs[3].name = "never";
  specs[3].text = "FROM /messages/modules/x/* INTO $upstream";
  std::vector<RouteIssue> issues;
  auto table = RouteTable::build(specs, "gw", 60, issues);
  ASSERT_TRUE(table.has_value());

  core::Message hit = json_message(R"({"temp": 70, "name": "pump"})");
  hit.set_app("sensor", "a");
  hit.set_app("level", "7");
  core::Message miss = json_message(R"({"temp": 10})");
  miss.sys_prop(core::SystemProperty::connection_module_id) = "other";

  MatchBuffer buffer;
  (void)table->match(hit, buffer);  // warm-up
  (void)table->match(miss, buffer);
  const std::size_t before = g_allocations.load();
  std::size_t hits = 0;
  std::size_t misses = 0;
  for (int i = 0; i < 1000; ++i) {
    hits += table->match(hit, buffer).size();
    misses += table->match(miss, buffer).size();
  }
  EXPECT_EQ(g_allocations.load() - before, 0u);
  EXPECT_EQ(hits, 2000u);  // iothub (priority 1) and gw/m/i
  EXPECT_EQ(misses, 0u);
}

}  // namespace
}  // namespace edgehub::routing::test
