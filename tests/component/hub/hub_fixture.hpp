#pragma once

// A hub wired as the daemon wires it, on a real SQLite store in a temporary directory, with the
// test's io_context as the only executor (tests drive it by hand), a FakeClock for the store and
// a ManualScheduler for the hub's timers.

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/hub/device_channels.hpp"
#include "edgehub/hub/forwarder.hpp"
#include "edgehub/hub/ingress.hpp"
#include "edgehub/ops/metrics.hpp"
#include "edgehub/routing/route_table.hpp"
#include "edgehub/store/sqlite_store.hpp"
#include "support/hub/hub_test_support.hpp"
#include "support/store/store_test_support.hpp"

namespace edgehub::hub::testing {

inline constexpr const char* kGateway = "gw";

inline config::RouteSpec route(std::string name, std::string text,
                               std::optional<std::uint8_t> priority = std::nullopt,
                               std::optional<std::uint32_t> ttl = std::nullopt) {
  return config::RouteSpec{std::move(name), std::move(text), priority, ttl, 0};
}

inline std::shared_ptr<const routing::RouteTable> make_routes(
    const std::vector<config::RouteSpec>& specs) {
  std::vector<routing::RouteIssue> issues;
  auto table = routing::RouteTable::build(specs, kGateway, 7200, issues);
  EXPECT_TRUE(table) << (issues.empty() ? "" : issues.front().to_string());
  return std::make_shared<const routing::RouteTable>(table ? std::move(*table)
                                                           : routing::RouteTable{});
}

inline core::Message telemetry(std::string body, std::string device = "dev1",
                               std::string module = {}) {
  core::Message m;
  m.origin = core::ClientId{std::move(device), std::move(module)};
  m.set_body(body);
  return m;
}

class HubFixture : public ::testing::Test {
 protected:
  HubFixture() { store_options_.maintenance_interval = std::chrono::milliseconds(0); }

  ~HubFixture() override {
    if (forwarders_) forwarders_->stop_all();
    settle_if_open();
    forwarders_.reset();
    ingress_.reset();
    store_.reset();
  }

  /// Opens the store and wires ingress + forwarders with `specs`.
  void start(const std::vector<config::RouteSpec>& specs, ForwarderOptions fo = {},
             IngressOptions io = {kGateway}) {
    open_store();
    routes_ = make_routes(specs);
    forwarders_ = std::make_unique<Forwarders>(*store_, channels_, scheduler_, registry_,
                                               ioc_.get_executor(), kGateway, fo);
    forwarders_->update_routes(*routes_);
    ingress_ = std::make_unique<RoutingIngress>(
        *store_, routes_, io, registry_, clock_, ioc_.get_executor(),
        [this](const std::vector<store::QueueId>& q) { forwarders_->on_committed(q); },
        [this] { return "edge-id-" + std::to_string(++ids_); });
  }

  void open_store() {
    store_options_.path = dir_.path() / store::kDatabaseFileName;
    std::string diagnostic;
    auto s = store::open_sqlite_store(store_options_, registry_, clock_, ioc_.get_executor(),
                                      diagnostic);
    ASSERT_TRUE(s) << diagnostic;
    store_ = wrap_store_ ? wrap_store_(std::move(*s)) : std::move(*s);
  }

  core::Result<Accepted> accept(core::Message m) {
    return store::testing::wait_for<Accepted>(
        ioc_, [&](auto h) { ingress_->async_accept(std::move(m), std::move(h)); });
  }

  std::vector<store::StoredEntry> peek(const store::QueueId& q, std::size_t max = 1000) {
    auto r = store::testing::wait_for<std::vector<store::StoredEntry>>(
        ioc_, [&](auto h) { store_->async_peek(q, max, std::move(h)); });
    EXPECT_TRUE(r) << r.error().message();
    return r ? std::move(*r) : std::vector<store::StoredEntry>{};
  }

  std::vector<std::string> bodies(const store::QueueId& q) {
    std::vector<std::string> out;
    for (const auto& e : peek(q))
      out.emplace_back(e.message.body_text());
    return out;
  }

  void settle() { hub::testing::settle(ioc_, *store_); }
  void settle_if_open() {
    if (store_) settle();
  }

  std::shared_ptr<FakeChannel> channel(std::size_t capacity = 1000) {
    return std::make_shared<FakeChannel>(ioc_.get_executor(), capacity);
  }

  std::uint64_t counter(const std::string& name, std::vector<std::string> label_names,
                        std::vector<std::string> values) {
    return registry_.counter(name, "", std::move(label_names)).with(values).value();
  }

  store::testing::TempDir dir_;
  store::testing::FakeClock clock_;
  ops::Registry registry_;
  boost::asio::io_context ioc_;
  store::Options store_options_;
  std::unique_ptr<store::MessageStore> store_;
  /// When set, what the hub gets instead of the SQLite store (a decorator that observes it).
  std::function<std::unique_ptr<store::MessageStore>(std::unique_ptr<store::MessageStore>)>
      wrap_store_;
  DeviceChannels channels_{registry_};
  ManualScheduler scheduler_;
  std::shared_ptr<const routing::RouteTable> routes_;
  std::unique_ptr<Forwarders> forwarders_;
  std::unique_ptr<RoutingIngress> ingress_;
  int ids_ = 0;
};

}  // namespace edgehub::hub::testing
