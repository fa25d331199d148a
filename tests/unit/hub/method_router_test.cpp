// MethodRouter: delivery to a connected, subscribed target, IoT Hub's 404/504 semantics, the
// connect timeout, disconnects mid-call, the bound on pending calls and request validation.

#include "edgehub/hub/method_router.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "support/hub/hub_test_support.hpp"
#include "support/store/store_test_support.hpp"

namespace edgehub::hub::testing {
namespace {

using namespace std::chrono_literals;

class MethodRouterTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeChannel> channel() {
    return std::make_shared<FakeChannel>(ioc_.get_executor());
  }
  // Everything runs on this thread: polling until nothing is ready is deterministic.
  void run() {
    ioc_.restart();
    while (ioc_.poll() > 0)
      ioc_.restart();
  }
  MethodCall call(std::chrono::seconds response = 30s, std::chrono::seconds connect = 0s) {
    return MethodCall{caller_, target_, "reboot", R"({"delay":1})", response, connect};
  }
  std::optional<core::Result<MethodResponse>>& invoke(MethodCall c) {
    results_.push_back(std::make_unique<std::optional<core::Result<MethodResponse>>>());
    auto* slot = results_.back().get();
    router_.async_invoke(std::move(c),
                         [slot](core::Result<MethodResponse> r) { slot->emplace(std::move(r)); });
    run();
    return *slot;
  }
  std::uint64_t total() {
    return registry_.counter("edgehub_direct_methods_total", "", {"from", "to"})
        .with({"gw/caller", "dev1"})
        .value();
  }

  ops::Registry registry_;
  store::testing::FakeClock clock_;
  boost::asio::io_context ioc_;
  DeviceChannels channels_{registry_};
  ManualScheduler scheduler_;
  MethodRouter router_{channels_, scheduler_,          registry_,
                       clock_,    ioc_.get_executor(), MethodRouterOptions{.max_pending = 2}};
  const core::ClientId caller_{"gw", "caller"};
  const core::ClientId target_{"dev1", ""};
  std::vector<std::unique_ptr<std::optional<core::Result<MethodResponse>>>> results_;
};

TEST_F(MethodRouterTest, DeliversTheRequestAndCompletesWithTheTargetsResponse) {
  auto ch = channel();
  auto reg = channels_.attach(target_, ch, Subscription::methods);
  auto& result = invoke(call());
  ASSERT_EQ(ch->methods.size(), 1u);
  EXPECT_EQ(ch->methods[0].method_name, "reboot");
  EXPECT_EQ(ch->methods[0].payload, R"({"delay":1})");
  EXPECT_FALSE(result);
  clock_.advance(1500ms);
  router_.on_method_response(target_, ch->methods[0].request_id, 201, R"({"ok":true})");
  run();
  ASSERT_TRUE(result);
  ASSERT_TRUE(*result) << result->error().message();
  EXPECT_EQ((*result)->status, 201);
  EXPECT_EQ((*result)->payload, R"({"ok":true})");
  EXPECT_EQ(total(), 1u);
  auto snap = registry_.summary("edgehub_direct_method_duration_seconds", "", {"from", "to"})
                  .with({"gw/caller", "dev1"})
                  .snapshot();
  EXPECT_EQ(snap.count, 1u);
  EXPECT_DOUBLE_EQ(snap.sum, 1.5);
  EXPECT_EQ(scheduler_.pending(), 0u);  // the response timer is gone
}

TEST_F(MethodRouterTest, RequestIdsAreFreshPerCall) {
  auto ch = channel();
  auto reg = channels_.attach(target_, ch, Subscription::methods);
  invoke(call());
  invoke(call());
  ASSERT_EQ(ch->methods.size(), 2u);
  EXPECT_NE(ch->methods[0].request_id, ch->methods[1].request_id);
}

TEST_F(MethodRouterTest, NotConnectedIs404AtOnceWithoutConnectTimeout) {
  auto& result = invoke(call());
  ASSERT_TRUE(result);
  ASSERT_FALSE(*result);
  EXPECT_EQ(result->error(), Errc::not_connected);
  EXPECT_EQ(method_error_status(result->error()), 404);
}

TEST_F(MethodRouterTest, ConnectedButNotSubscribedIsNotConnected) {
  auto ch = channel();
  auto reg = channels_.attach(target_, ch, Subscription::module_inputs);
  auto& result = invoke(call());
  ASSERT_TRUE(result);
  EXPECT_EQ(result->error(), Errc::not_connected);
  EXPECT_TRUE(ch->methods.empty());
}

TEST_F(MethodRouterTest, WaitsForTheTargetToSubscribeWithinTheConnectTimeout) {
  auto& result = invoke(call(30s, 10s));
  EXPECT_FALSE(result);
  scheduler_.advance(9s);
  run();
  EXPECT_FALSE(result);
  auto ch = channel();
  auto reg = channels_.attach(target_, ch);
  run();
  EXPECT_TRUE(ch->methods.empty());  // connected, not yet subscribed
  reg.subscribe(Subscription::methods);
  run();
  ASSERT_EQ(ch->methods.size(), 1u);
  scheduler_.advance(2s);  // past the connect timeout: it no longer applies
  run();
  EXPECT_FALSE(result);
  router_.on_method_response(target_, ch->methods[0].request_id, 200, "null");
  run();
  ASSERT_TRUE(result);
  ASSERT_TRUE(*result);
  EXPECT_EQ((*result)->status, 200);
}

TEST_F(MethodRouterTest, ConnectTimeoutExpiresWith404) {
  auto& result = invoke(call(30s, 10s));
  scheduler_.advance(10s);
  run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->error(), Errc::not_connected);
}

TEST_F(MethodRouterTest, NoResponseWithinTheResponseTimeoutIs504AndALateResponseIsIgnored) {
  auto ch = channel();
  auto reg = channels_.attach(target_, ch, Subscription::methods);
  auto& result = invoke(call(20s));
  scheduler_.advance(19s);
  run();
  EXPECT_FALSE(result);
  scheduler_.advance(1s);
  run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->error(), Errc::timeout);
  EXPECT_EQ(method_error_status(result->error()), 504);
  router_.on_method_response(target_, ch->methods[0].request_id, 200, "{}");
  run();
  EXPECT_EQ(result->error(), Errc::timeout);
}

TEST_F(MethodRouterTest, TargetDisconnectingMidCallFailsThePendingCall) {
  auto ch = channel();
  auto reg = channels_.attach(target_, ch, Subscription::methods);
  auto& result = invoke(call());
  EXPECT_FALSE(result);
  reg.detach();
  run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->error(), Errc::disconnected);
}

TEST_F(MethodRouterTest, TargetReconnectingMidCallFailsThePendingCall) {
  auto ch = channel();
  auto reg = channels_.attach(target_, ch, Subscription::methods);
  auto& result = invoke(call());
  auto again = channel();
  auto reg2 = channels_.attach(target_, again, Subscription::methods);
  run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->error(), Errc::disconnected);
}

TEST_F(MethodRouterTest, AResponseFromAnotherIdentityIsIgnored) {
  auto ch = channel();
  auto reg = channels_.attach(target_, ch, Subscription::methods);
  auto& result = invoke(call());
  router_.on_method_response({"dev2", ""}, ch->methods[0].request_id, 200, "{}");
  router_.on_method_response(target_, "not-a-request", 200, "{}");
  run();
  EXPECT_FALSE(result);
}

TEST_F(MethodRouterTest, PendingCallsAreBounded) {
  auto& a = invoke(call(30s, 60s));
  auto& b = invoke(call(30s, 60s));
  auto& c = invoke(call(30s, 60s));
  EXPECT_FALSE(a);
  EXPECT_FALSE(b);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->error(), Errc::too_many_pending);
  router_.shutdown(make_error_code(Errc::shutting_down));
  run();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->error(), Errc::shutting_down);
  EXPECT_EQ(b->error(), Errc::shutting_down);
  auto& d = invoke(call(30s, 60s));  // room again
  EXPECT_FALSE(d);
}

TEST_F(MethodRouterTest, ASessionRefusingTheRequestFailsTheCall) {
  auto ch = channel();
  ch->refuse_methods = true;
  auto reg = channels_.attach(target_, ch, Subscription::methods);
  auto& result = invoke(call());
  ASSERT_TRUE(result);
  EXPECT_EQ(result->error(), Errc::queue_full);
}

TEST_F(MethodRouterTest, InvalidRequestsAreRefused) {
  auto bad = [&](MethodCall c) {
    auto& r = invoke(std::move(c));
    return r && !*r && r->error() == Errc::invalid_request;
  };
  EXPECT_TRUE(bad(call(4s)));
  EXPECT_TRUE(bad(call(301s)));
  EXPECT_TRUE(bad(call(30s, 301s)));
  auto unnamed = call();
  unnamed.method_name.clear();
  EXPECT_TRUE(bad(unnamed));
  auto long_name = call();
  long_name.method_name.assign(101, 'm');
  EXPECT_TRUE(bad(long_name));
  auto big = call();
  big.payload.assign(kMaxMethodPayloadBytes + 1, ' ');
  EXPECT_TRUE(bad(big));
  EXPECT_EQ(total(), 0u);
  EXPECT_FALSE(bad(call(5s, 300s)));
}

}  // namespace
}  // namespace edgehub::hub::testing
