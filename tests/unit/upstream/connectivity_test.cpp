// Connectivity state from call outcomes (edgehub-reference.md §5.3) and its edgeHub metrics.

#include "edgehub/upstream/connectivity.hpp"

#include <gtest/gtest.h>

namespace edgehub::upstream {
namespace {

using namespace std::chrono_literals;

class ManualClock final : public core::Clock {
 public:
  core::SystemTime now() const override { return core::SystemTime{} + elapsed; }
  core::SteadyTime steady_now() const override { return core::SteadyTime{} + elapsed; }
  std::chrono::milliseconds elapsed{1000};
};

TEST(Connectivity, OfflinePeriodsAreCountedAndTimedOncePerTransition) {
  ops::Registry registry;
  ManualClock clock;
  Connectivity c(registry, "gw/$edgeHub", clock);
  auto& count = registry.counter("edgehub_offline_count_total", "", {"id"}).with({"gw/$edgeHub"});
  auto& duration =
      registry.summary("edgehub_offline_duration_seconds", "", {"id"}).with({"gw/$edgeHub"});
  auto& online = registry.gauge("edgehubd_upstream_online", "").with(std::vector<std::string>{});

  EXPECT_TRUE(c.online());
  const auto g0 = c.generation();
  EXPECT_FALSE(c.on_success());
  EXPECT_TRUE(c.on_failure());
  const auto g1 = c.generation();
  EXPECT_NE(g1, g0) << "going offline tells the forwarder its window is lost";
  EXPECT_FALSE(c.on_failure()) << "a second failure while offline is not a new period";
  EXPECT_FALSE(c.online());
  EXPECT_EQ(online.value(), 0);
  EXPECT_EQ(count.value(), 1u);
  clock.elapsed += 7500ms;
  EXPECT_TRUE(c.on_success());
  EXPECT_TRUE(c.online());
  EXPECT_EQ(online.value(), 1);
  EXPECT_EQ(c.generation(), g1) << "coming back online must not resend what went out since";
  const auto snap = duration.snapshot();
  EXPECT_EQ(snap.count, 1u);
  EXPECT_DOUBLE_EQ(snap.sum, 7.5);
  EXPECT_EQ(c.last_success(), clock.steady_now());
}

}  // namespace
}  // namespace edgehub::upstream
