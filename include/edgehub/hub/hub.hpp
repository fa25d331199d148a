#pragma once

// hub::Hub: the hub's parts wired together as the daemon needs them — DeviceChannels, the
// Forwarders, RoutingIngress (waking the forwarders after each commit), MethodRouter and
// TwinStore (routing its change notifications through the ingress). app/ builds one per process
// and hands its parts to the protocol sessions.
//
// Thread safety: every member may be called from any thread.
//
// Lifetime: the parts post work to `executor` that refers back to them. Shut down in this
// order: stop(), stop running the executor (or let it drain), destroy the sessions, the hub,
// then the store; handlers still queued are then destroyed without running.

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/hub/device_channels.hpp"
#include "edgehub/hub/forwarder.hpp"
#include "edgehub/hub/ingress.hpp"
#include "edgehub/hub/method_router.hpp"
#include "edgehub/hub/scheduler.hpp"
#include "edgehub/hub/twin_store.hpp"
#include "edgehub/ops/metrics.hpp"
#include "edgehub/routing/route_table.hpp"
#include "edgehub/store/message_store.hpp"

namespace edgehub::hub {

struct HubOptions {
  std::string edge_device_id;
  std::uint32_t max_message_bytes = 256 * 1024;
  ForwarderOptions forwarder;
  MethodRouterOptions methods;

  /// device_id and [gateway.limits] of a configuration snapshot (the forwarder window is
  /// max_inflight_per_connection).
  static HubOptions from_config(const config::GatewayConfig& config);
};

class Hub {
 public:
  /// `store`, `registry` and `clock` must outlive the hub. `scheduler` null: an AsioScheduler.
  Hub(store::MessageStore& store, std::shared_ptr<const routing::RouteTable> routes,
      HubOptions options, ops::Registry& registry, const core::Clock& clock,
      boost::asio::any_io_executor executor, Scheduler* scheduler = nullptr);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  /// Starts the forwarders of the routes and of the module-input queues already in the store;
  /// `done` (on the hub's executor) gets the number of queues recovered.
  void start(std::function<void(core::Result<std::size_t>)> done);

  /// Swaps the routes (reload): new messages use them; new endpoints and priorities get
  /// forwarders; queues of removed routes are still delivered.
  void set_routes(std::shared_ptr<const routing::RouteTable> routes);

  /// Closes revoked identities' connections (reload) with Errc::revoked.
  std::size_t revoke(std::span<const core::ClientId> ids);

  /// Shutdown: closes every connection (Errc::shutting_down), fails pending method calls and
  /// stops the forwarders.
  void stop();

  Ingress& ingress() noexcept { return *ingress_; }
  RoutingIngress& routing_ingress() noexcept { return *ingress_; }
  DeviceChannels& channels() noexcept { return channels_; }
  Forwarders& forwarders() noexcept { return *forwarders_; }
  MethodRouter& methods() noexcept { return *methods_; }
  TwinStore& twins() noexcept { return *twins_; }

 private:
  std::unique_ptr<AsioScheduler> own_scheduler_;
  Scheduler& scheduler_;
  DeviceChannels channels_;
  std::unique_ptr<Forwarders> forwarders_;
  std::unique_ptr<RoutingIngress> ingress_;
  std::unique_ptr<MethodRouter> methods_;
  std::unique_ptr<TwinStore> twins_;
};

}  // namespace edgehub::hub
