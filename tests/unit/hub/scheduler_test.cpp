// AsioScheduler: a due call runs on the given executor; a cancelled one never runs and releases
// the io_context at once (no waiting for its deadline).

#include "edgehub/hub/scheduler.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "support/hub/hub_test_support.hpp"

namespace edgehub::hub {
namespace {

using namespace std::chrono_literals;

TEST(AsioScheduler, RunsTheCallOnItsExecutor) {
  boost::asio::io_context ioc;
  auto strand = boost::asio::make_strand(ioc);
  AsioScheduler scheduler;
  bool on_strand = false;
  int calls = 0;
  auto handle = scheduler.call_after(strand, 1ms, [&] {
    ++calls;
    on_strand = strand.running_in_this_thread();
  });
  ioc.run();  // returns once the timer has fired: no work left
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(on_strand);
}

TEST(AsioScheduler, ACancelledCallNeverRunsAndHoldsNoWork) {
  boost::asio::io_context ioc;
  AsioScheduler scheduler;
  int calls = 0;
  auto handle = scheduler.call_after(ioc.get_executor(), 1h, [&] { ++calls; });
  handle.cancel();
  ioc.run();  // would block for an hour if the timer still held work
  EXPECT_EQ(calls, 0);
}

TEST(AsioScheduler, DestroyingTheHandleCancels) {
  boost::asio::io_context ioc;
  AsioScheduler scheduler;
  int calls = 0;
  {
    auto handle = scheduler.call_after(ioc.get_executor(), 1h, [&] { ++calls; });
  }
  ioc.run();
  EXPECT_EQ(calls, 0);
}

TEST(ManualScheduler, FiresInDeadlineOrderOnlyWhenDue) {
  boost::asio::io_context ioc;
  testing::ManualScheduler scheduler;
  std::vector<int> order;
  auto a = scheduler.call_after(ioc.get_executor(), 20ms, [&] { order.push_back(2); });
  auto b = scheduler.call_after(ioc.get_executor(), 10ms, [&] { order.push_back(1); });
  auto c = scheduler.call_after(ioc.get_executor(), 30ms, [&] { order.push_back(3); });
  c.cancel();
  scheduler.advance(9ms);
  ioc.poll();
  EXPECT_TRUE(order.empty());
  EXPECT_EQ(scheduler.pending(), 2u);
  scheduler.advance(100ms);
  ioc.restart();
  ioc.poll();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

}  // namespace
}  // namespace edgehub::hub
