// http::C2dPollers with a real hub::DeviceChannels, C2dQueue and io_context: a poll makes the
// device a C2D subscriber, C2D handed to its channel waits in the queue and is settled by the
// device's final outcome, a connected device is left alone, and the registration lapses.

#include "edgehub/http/c2d_pollers.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <optional>

#include "edgehub/hub/errors.hpp"
#include "edgehub/ops/metrics.hpp"
#include "support/hub/hub_test_support.hpp"

namespace edgehub::http {
namespace {

using namespace std::chrono_literals;

class SettableClock final : public core::Clock {
 public:
  core::SystemTime now() const override { return core::SystemTime{offset_}; }
  core::SteadyTime steady_now() const override { return core::SteadyTime{offset_}; }
  void advance(std::chrono::seconds s) { offset_ += s; }

 private:
  std::chrono::seconds offset_{1000};
};

struct C2dPollersTest : testing::Test {
  boost::asio::io_context io;
  ops::Registry metrics;
  hub::DeviceChannels channels{metrics};
  SettableClock clock;
  C2dQueue queue{clock};
  // A short interest so that the sweep (at most every interest / 4 + 1 s) runs within the test.
  C2dPollers pollers{channels, queue, clock, io.get_executor(), 2s};

  // Hands `body` to the device's registered channel as the upstream does; the outcome later.
  std::shared_ptr<std::optional<core::ErrorCode>> deliver(const std::string& device,
                                                          std::string_view body) {
    auto outcome = std::make_shared<std::optional<core::ErrorCode>>();
    auto entry = channels.find(core::ClientId{device, {}});
    EXPECT_TRUE(entry);
    if (!entry) return outcome;
    core::Message m;
    m.set_body(body);
    hub::DeviceChannels::post_c2d(entry->channel, std::move(m),
                                  [outcome](core::ErrorCode ec) { *outcome = ec; });
    io.poll();
    return outcome;
  }
};

TEST_F(C2dPollersTest, APollMakesTheDeviceAC2dSubscriberAndItsMessagesWaitInTheQueue) {
  EXPECT_FALSE(channels.find(core::ClientId{"http-1", {}}));
  pollers.on_poll("http-1");
  const auto entry = channels.find(core::ClientId{"http-1", {}});
  ASSERT_TRUE(entry);
  EXPECT_TRUE(entry->subscriptions.has(hub::Subscription::c2d));

  const auto completed = deliver("http-1", "one");
  const auto rejected = deliver("http-1", "two");
  EXPECT_EQ(queue.depth("http-1"), 2U);
  EXPECT_FALSE(*completed) << "unsettled until the device settles it";
  auto first = queue.receive("http-1");
  auto second = queue.receive("http-1");
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(queue.abandon("http-1", first->lock_token));
  EXPECT_FALSE(*completed) << "an abandon is not final";
  first = queue.receive("http-1");
  ASSERT_TRUE(queue.complete("http-1", first->lock_token));
  ASSERT_TRUE(queue.reject("http-1", second->lock_token));
  ASSERT_TRUE(*completed);
  EXPECT_FALSE(**completed);
  ASSERT_TRUE(*rejected);
  EXPECT_TRUE(**rejected);
}

TEST_F(C2dPollersTest, ADeviceConnectedOverAnotherProtocolIsLeftAlone) {
  auto session = std::make_shared<hub::testing::FakeChannel>(io.get_executor());
  auto registration = channels.attach(core::ClientId{"mqtt-1", {}}, session);
  pollers.on_poll("mqtt-1");
  io.poll();
  EXPECT_FALSE(session->closed) << "a poll must not supersede a live session";
  EXPECT_EQ(pollers.size(), 0U);
}

TEST_F(C2dPollersTest, ASessionThatConnectsLaterReplacesThePoller) {
  pollers.on_poll("both");
  auto session = std::make_shared<hub::testing::FakeChannel>(io.get_executor());
  auto registration = channels.attach(core::ClientId{"both", {}}, session);
  io.poll();
  EXPECT_EQ(pollers.size(), 0U);
  EXPECT_EQ(channels.find(core::ClientId{"both", {}})->channel, session);
}

TEST_F(C2dPollersTest, TheRegistrationLapsesAfterTheInterestWithoutPolls) {
  pollers.on_poll("quiet");
  pollers.on_poll("busy");
  clock.advance(3s);
  pollers.on_poll("busy");
  // The sweep runs on its own steady timer; let it fire once.
  io.run_for(2s);
  EXPECT_FALSE(channels.find(core::ClientId{"quiet", {}}));
  EXPECT_TRUE(channels.find(core::ClientId{"busy", {}}));
  pollers.stop();
  EXPECT_FALSE(channels.find(core::ClientId{"busy", {}}));
}

}  // namespace
}  // namespace edgehub::http
