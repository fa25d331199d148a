#include "edgehub/hub/hub.hpp"

#include <algorithm>

#include "edgehub/hub/errors.hpp"

namespace edgehub::hub {

HubOptions HubOptions::from_config(const config::GatewayConfig& config) {
  HubOptions o;
  o.edge_device_id = config.device_id;
  o.max_message_bytes = config.limits.max_message_bytes;
  o.forwarder.window = std::max<std::size_t>(config.limits.max_inflight_per_connection, 1);
  return o;
}

Hub::Hub(store::MessageStore& store, std::shared_ptr<const routing::RouteTable> routes,
         HubOptions options, ops::Registry& registry, const core::Clock& clock,
         boost::asio::any_io_executor executor, Scheduler* scheduler)
    : own_scheduler_(scheduler ? nullptr : std::make_unique<AsioScheduler>()),
      scheduler_(scheduler ? *scheduler : *own_scheduler_),
      channels_(registry) {
  forwarders_ = std::make_unique<Forwarders>(store, channels_, scheduler_, registry, executor,
                                             options.edge_device_id, options.forwarder);
  if (routes) forwarders_->update_routes(*routes);
  Forwarders* forwarders = forwarders_.get();
  ingress_ = std::make_unique<RoutingIngress>(
      store, std::move(routes), IngressOptions{options.edge_device_id, options.max_message_bytes},
      registry, clock, executor, [forwarders](const std::vector<store::QueueId>& queues) {
        forwarders->on_committed(queues);
      });
  methods_ = std::make_unique<MethodRouter>(channels_, scheduler_, registry, clock, executor,
                                            options.methods);
  twins_ = std::make_unique<TwinStore>(store, channels_, ingress_.get(), registry, clock, executor);
}

Hub::~Hub() {
  // Users of the channels go first, the registry last (member order does the rest).
  twins_.reset();
  methods_.reset();
  ingress_.reset();
  forwarders_.reset();
}

void Hub::start(std::function<void(core::Result<std::size_t>)> done) {
  forwarders_->recover(std::move(done));
}

void Hub::set_routes(std::shared_ptr<const routing::RouteTable> routes) {
  if (routes) forwarders_->update_routes(*routes);
  ingress_->set_routes(std::move(routes));
}

std::size_t Hub::revoke(std::span<const core::ClientId> ids) {
  return channels_.close_identities(ids, make_error_code(Errc::revoked));
}

void Hub::stop() {
  channels_.close_all(make_error_code(Errc::shutting_down));
  methods_->shutdown(make_error_code(Errc::shutting_down));
  forwarders_->stop_all();
}

}  // namespace edgehub::hub
