// DeviceChannels: registration lifetime, one connection per identity, subscriptions, watches,
// revocation and the metrics edgeHub exposes for connections.

#include "edgehub/hub/device_channels.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <thread>

#include "edgehub/hub/errors.hpp"
#include "support/hub/hub_test_support.hpp"

namespace edgehub::hub::testing {
namespace {

class DeviceChannelsTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeChannel> channel() {
    return std::make_shared<FakeChannel>(ioc_.get_executor());
  }
  void run() {
    ioc_.restart();
    ioc_.poll();
  }
  double connected() { return registry_.gauge("edgehub_connected_clients", "").with({}).value(); }
  std::uint64_t count(const std::string& name, const std::string& id) {
    return registry_.counter(name, "", {"id"}).with({id}).value();
  }

  ops::Registry registry_;
  boost::asio::io_context ioc_;
  DeviceChannels channels_{registry_};
  const core::ClientId dev_{"dev1", ""};
  const core::ClientId mod_{"gw", "filter"};
};

TEST_F(DeviceChannelsTest, AttachFindAndDetachOnDestruction) {
  auto ch = channel();
  {
    auto reg = channels_.attach(dev_, ch, Subscription::methods);
    EXPECT_TRUE(reg);
    EXPECT_NE(reg.connection(), 0u);
    auto entry = channels_.find(dev_);
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->channel, ch);
    EXPECT_EQ(entry->connection, reg.connection());
    EXPECT_TRUE(entry->subscriptions.has(Subscription::methods));
    EXPECT_FALSE(entry->subscriptions.has(Subscription::module_inputs));
    EXPECT_EQ(channels_.size(), 1u);
    EXPECT_EQ(connected(), 1);
    EXPECT_EQ(count("edgehub_client_connect_success_total", "dev1"), 1u);
  }
  EXPECT_FALSE(channels_.find(dev_));
  EXPECT_EQ(channels_.size(), 0u);
  EXPECT_EQ(connected(), 0);
  EXPECT_EQ(count("edgehub_client_disconnect_total", "dev1"), 1u);
}

TEST_F(DeviceChannelsTest, SubscriptionsChangeAndAreVisible) {
  auto ch = channel();
  auto reg = channels_.attach(mod_, ch);
  reg.subscribe(Subscription::module_inputs);
  reg.subscribe(Subscription::desired_properties);
  EXPECT_TRUE(channels_.find(mod_)->subscriptions.has(Subscription::module_inputs));
  reg.unsubscribe(Subscription::module_inputs);
  EXPECT_FALSE(channels_.find(mod_)->subscriptions.has(Subscription::module_inputs));
  EXPECT_TRUE(reg.subscriptions().has(Subscription::desired_properties));
  reg.set_subscriptions(Subscriptions{Subscription::c2d});
  EXPECT_EQ(reg.subscriptions(), Subscriptions{Subscription::c2d});
}

TEST_F(DeviceChannelsTest, ASecondConnectionClosesTheFirstAndKeepsTheEntry) {
  auto first = channel();
  auto second = channel();
  auto reg1 = channels_.attach(dev_, first, Subscription::methods);
  auto reg2 = channels_.attach(dev_, second);
  run();
  ASSERT_TRUE(first->closed);
  EXPECT_EQ(*first->closed, make_error_code(Errc::superseded));
  EXPECT_FALSE(second->closed);
  EXPECT_EQ(channels_.find(dev_)->channel, second);
  // The new connection starts without the old one's subscriptions.
  EXPECT_FALSE(channels_.find(dev_)->subscriptions.has(Subscription::methods));
  // The old session ending must not remove the new connection.
  reg1.detach();
  reg1.subscribe(Subscription::c2d);  // detached: no effect
  ASSERT_TRUE(channels_.find(dev_));
  EXPECT_EQ(channels_.find(dev_)->channel, second);
  EXPECT_EQ(connected(), 1);
  EXPECT_EQ(count("edgehub_client_connect_success_total", "dev1"), 2u);
  EXPECT_EQ(count("edgehub_client_disconnect_total", "dev1"), 1u);
  reg2.detach();
  EXPECT_EQ(connected(), 0);
  EXPECT_EQ(count("edgehub_client_disconnect_total", "dev1"), 2u);
}

TEST_F(DeviceChannelsTest, CloseIdentitiesClosesOnlyThoseListed) {
  auto a = channel();
  auto b = channel();
  auto ra = channels_.attach(dev_, a);
  auto rb = channels_.attach(mod_, b);
  const core::ClientId revoked[] = {dev_, {"unknown", ""}};
  EXPECT_EQ(channels_.close_identities(revoked, make_error_code(Errc::revoked)), 1u);
  run();
  ASSERT_TRUE(a->closed);
  EXPECT_EQ(*a->closed, make_error_code(Errc::revoked));
  EXPECT_FALSE(b->closed);
  EXPECT_EQ(channels_.close_all(make_error_code(Errc::shutting_down)), 2u);
  run();
  EXPECT_EQ(*b->closed, make_error_code(Errc::shutting_down));
}

TEST_F(DeviceChannelsTest, WatchesSeeConnectSubscribeAndDisconnectUntilReset) {
  std::vector<std::string> seen;
  auto watch = channels_.watch([&](const core::ClientId& id) { seen.push_back(id.to_string()); });
  auto ch = channel();
  auto reg = channels_.attach(mod_, ch);
  reg.subscribe(Subscription::module_inputs);
  reg.subscribe(Subscription::module_inputs);  // no change, no event
  reg.detach();
  EXPECT_EQ(seen, (std::vector<std::string>{"gw/filter", "gw/filter", "gw/filter"}));
  watch.reset();
  auto reg2 = channels_.attach(dev_, ch);
  EXPECT_EQ(seen.size(), 3u);
}

TEST_F(DeviceChannelsTest, CallsAreRunOnTheChannelsExecutorAndFailOnceItIsGone) {
  auto ch = channel();
  std::optional<core::ErrorCode> result;
  DeviceChannels::post_input(ch, core::Message{}, "in", [&](core::ErrorCode ec) { result = ec; });
  EXPECT_TRUE(ch->pending.empty());  // not inline
  run();
  ASSERT_EQ(ch->pending.size(), 1u);
  ch->ack(0);
  ASSERT_TRUE(result);
  EXPECT_FALSE(*result);

  result.reset();
  DeviceChannels::post_input(ch, core::Message{}, "in", [&](core::ErrorCode ec) { result = ec; });
  ch.reset();
  run();
  ASSERT_TRUE(result);
  EXPECT_EQ(*result, make_error_code(Errc::disconnected));
}

TEST_F(DeviceChannelsTest, FindIgnoresAChannelWhoseSessionIsGone) {
  auto ch = channel();
  auto reg = channels_.attach(dev_, ch);
  ch.reset();
  EXPECT_FALSE(channels_.find(dev_));
}

TEST_F(DeviceChannelsTest, ConcurrentSessionsLeaveAConsistentRegistry) {
  // Four threads connect, subscribe and disconnect identities that overlap, so attaches race
  // with supersessions and releases; afterwards nothing may be left registered or counted.
  std::atomic<int> events{0};
  auto watch = channels_.watch([&](const core::ClientId&) { events.fetch_add(1); });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto ch = std::make_shared<FakeChannel>(ioc_.get_executor());
      for (int i = 0; i < 500; ++i) {
        core::ClientId id{"dev" + std::to_string((i + t) % 7), ""};
        auto reg = channels_.attach(id, ch);
        reg.subscribe(Subscription::methods);
        (void)channels_.find(id);
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(channels_.size(), 0u);
  EXPECT_EQ(connected(), 0);
  std::uint64_t connects = 0;
  std::uint64_t disconnects = 0;
  for (int d = 0; d < 7; ++d) {
    connects += count("edgehub_client_connect_success_total", "dev" + std::to_string(d));
    disconnects += count("edgehub_client_disconnect_total", "dev" + std::to_string(d));
  }
  EXPECT_EQ(connects, 2000u);
  EXPECT_EQ(disconnects, 2000u);
  EXPECT_GE(events.load(), 4000);
}

}  // namespace
}  // namespace edgehub::hub::testing
