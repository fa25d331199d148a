#include "edgehub/upstream/connectivity.hpp"

#include "edgehub/ops/logging.hpp"

namespace edgehub::upstream {

Connectivity::Connectivity(ops::Registry& registry, const std::string& id, const core::Clock& clock)
    : clock_(clock),
      offline_count_(registry
                         .counter("edgehub_offline_count_total",
                                  "Times the gateway lost its upstream connectivity", {"id"})
                         .with({id})),
      offline_duration_(
          registry.summary("edgehub_offline_duration_seconds", "Length of offline periods", {"id"})
              .with({id})),
      online_gauge_(registry
                        .gauge("edgehubd_upstream_online",
                               "1 while IoT Hub (or the parent) is reachable, 0 while offline")
                        .with(std::vector<std::string>{})) {
  online_gauge_.set(1);
}

bool Connectivity::on_success() {
  last_success_ = clock_.steady_now();
  if (online_) return false;
  online_ = true;
  online_gauge_.set(1);
  const auto offline = std::chrono::duration<double>(clock_.steady_now() - offline_since_).count();
  offline_duration_.observe(offline);
  ops::log(spdlog::level::info, {}, "upstream online again after {:.1f} s offline", offline);
  return true;
}

bool Connectivity::on_failure() {
  if (!online_) return false;
  online_ = false;
  ++generation_;
  offline_since_ = clock_.steady_now();
  offline_count_.inc();
  online_gauge_.set(0);
  ops::log(spdlog::level::warn, {},
           "upstream offline: messages for $upstream wait in the store until it returns");
  return true;
}

}  // namespace edgehub::upstream
