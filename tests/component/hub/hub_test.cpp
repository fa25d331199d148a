// hub::Hub as the daemon wires it: telemetry from a device reaches a module input, a module's
// reported patch is routed as a twin change notification, start() recovers stored queues,
// reloads, revocations and shutdown reach the sessions.

#include "edgehub/hub/hub.hpp"

#include <nlohmann/json.hpp>

#include "component/hub/hub_fixture.hpp"
#include "edgehub/hub/errors.hpp"

namespace edgehub::hub::testing {
namespace {

using namespace std::chrono_literals;

const core::ClientId kFilter{kGateway, "filter"};

class HubTest : public HubFixture {
 protected:
  void make_hub(const std::vector<config::RouteSpec>& specs) {
    open_store();
    config::GatewayConfig config;
    config.device_id = kGateway;
    config.limits.max_inflight_per_connection = 8;
    hub_ = std::make_unique<Hub>(*store_, make_routes(specs), HubOptions::from_config(config),
                                 registry_, clock_, ioc_.get_executor(), &scheduler_);
    auto started =
        store::testing::wait_for<std::size_t>(ioc_, [&](auto h) { hub_->start(std::move(h)); });
    ASSERT_TRUE(started);
    recovered_ = *started;
  }
  void TearDown() override {
    if (hub_) {
      hub_->stop();
      settle();
      hub_.reset();
    }
  }
  core::Result<Accepted> send(core::Message m) {
    return store::testing::wait_for<Accepted>(
        ioc_, [&](auto h) { hub_->ingress().async_accept(std::move(m), std::move(h)); });
  }

  std::unique_ptr<Hub> hub_;
  std::size_t recovered_ = 0;
};

TEST_F(HubTest, DeviceTelemetryReachesTheModuleInput) {
  make_hub({route("toFilter",
                  "FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO "
                  "BrokeredEndpoint(\"/modules/filter/inputs/input1\")")});
  auto module = channel();
  auto reg = hub_->channels().attach(kFilter, module, Subscription::module_inputs);
  auto m = telemetry("{\"t\":1}");
  m.sys_prop(core::SystemProperty::message_id) = "m-1";
  m.set_app("alert", "high");
  ASSERT_TRUE(send(std::move(m)));
  settle();
  ASSERT_EQ(module->pending.size(), 1u);
  const auto& got = module->pending[0].message;
  EXPECT_EQ(module->pending[0].input, "input1");
  EXPECT_EQ(got.body_text(), "{\"t\":1}");
  EXPECT_EQ(got.sys_prop(core::SystemProperty::message_id), "m-1");
  EXPECT_EQ(got.sys_prop(core::SystemProperty::connection_device_id), "dev1");
  ASSERT_NE(got.find_app("alert"), nullptr);
  EXPECT_EQ(got.find_app("alert")->value, "high");
  module->ack_all();
  settle();
  EXPECT_TRUE(peek({"gw/filter/input1", routing::kDefaultPriority}).empty());
}

TEST_F(HubTest, AModulesReportedPatchIsRoutedToAnotherModule) {
  make_hub({route("twins",
                  "FROM /twinChangeNotifications INTO "
                  "BrokeredEndpoint(\"/modules/watcher/inputs/twins\")")});
  auto watcher = channel();
  auto reg = hub_->channels().attach({kGateway, "watcher"}, watcher, Subscription::module_inputs);
  auto v = store::testing::wait_for<std::int64_t>(ioc_, [&](auto h) {
    hub_->twins().async_update_reported(kFilter, R"({"status":"ok"})", std::move(h));
  });
  ASSERT_TRUE(v);
  settle();
  ASSERT_EQ(watcher->pending.size(), 1u);
  EXPECT_EQ(watcher->pending[0].message.kind, core::MessageKind::twin_change_notification);
  EXPECT_EQ(watcher->pending[0].message.body_text(), R"({"status":"ok"})");
}

TEST_F(HubTest, StartRecoversQueuesAndReloadAddsEndpoints) {
  open_store();
  store::AppendBatch batch;
  batch.push_back(store::testing::to_queue(telemetry("stored"), "gw/filter/input1"));
  ASSERT_TRUE((store::testing::wait_for<store::AppendResult>(
      ioc_, [&](auto h) { store_->async_append(std::move(batch), std::move(h)); })));
  store_.reset();
  make_hub({});
  EXPECT_EQ(recovered_, 1u);
  auto module = channel();
  auto reg = hub_->channels().attach(kFilter, module, Subscription::module_inputs);
  settle();
  EXPECT_EQ(module->received_bodies(), std::vector<std::string>{"stored"});

  EXPECT_EQ(send(telemetry("before"))->deliveries, 0u);
  hub_->set_routes(make_routes({route(
      "r", "FROM /messages/* INTO BrokeredEndpoint(\"/modules/filter/inputs/input2\")", 1)}));
  EXPECT_EQ(send(telemetry("after"))->deliveries, 1u);
  settle();
  EXPECT_EQ(module->received_bodies(), (std::vector<std::string>{"stored", "after"}));
  EXPECT_EQ(module->pending.back().input, "input2");
}

TEST_F(HubTest, RevocationAndShutdownCloseSessionsAndFailPendingCalls) {
  make_hub({});
  auto dev = channel();
  auto reg = hub_->channels().attach({"dev1", ""}, dev, Subscription::methods);
  auto other = channel();
  auto reg2 = hub_->channels().attach({"dev2", ""}, other);
  const core::ClientId revoked[] = {{"dev2", ""}};
  EXPECT_EQ(hub_->revoke(revoked), 1u);
  std::optional<core::Result<MethodResponse>> call;
  hub_->methods().async_invoke(MethodCall{kFilter, {"dev1", ""}, "m", "{}", 30s, 0s},
                               [&](core::Result<MethodResponse> r) { call.emplace(std::move(r)); });
  settle();
  EXPECT_EQ(other->closed, make_error_code(Errc::revoked));
  EXPECT_FALSE(dev->closed);
  ASSERT_EQ(dev->methods.size(), 1u);
  hub_->stop();
  settle();
  EXPECT_EQ(dev->closed, make_error_code(Errc::shutting_down));
  ASSERT_TRUE(call);
  EXPECT_EQ(call->error(), Errc::shutting_down);
}

TEST(HubOptions, FromConfigTakesTheDeviceIdAndLimits) {
  config::GatewayConfig config;
  config.device_id = "edge-1";
  config.limits.max_message_bytes = 1000;
  config.limits.max_inflight_per_connection = 5;
  auto o = HubOptions::from_config(config);
  EXPECT_EQ(o.edge_device_id, "edge-1");
  EXPECT_EQ(o.max_message_bytes, 1000u);
  EXPECT_EQ(o.forwarder.window, 5u);
}

}  // namespace
}  // namespace edgehub::hub::testing
