#pragma once

// Whether IoT Hub is reachable, from the outcome of every upstream call (edgehub-reference.md
// §5.3): a connection refused for network reasons or lost makes the gateway offline, any
// successful CONNACK or PUBACK online again. Offline periods are counted and timed with
// edgeHub's metric names:
//   edgehub_offline_count_total{id}        transitions to offline
//   edgehub_offline_duration_seconds{id}   summary of completed offline periods
//   edgehubd_upstream_online               1 online, 0 offline
//
// Not thread-safe: the upstream client calls it on its strand.

#include <cstdint>
#include <string>

#include "edgehub/core/clock.hpp"
#include "edgehub/ops/metrics.hpp"

namespace edgehub::upstream {

class Connectivity {
 public:
  /// `id` labels the metrics, as edgeHub's `{edgeDevice}/$edgeHub`.
  Connectivity(ops::Registry& registry, const std::string& id, const core::Clock& clock);

  /// Returns true when this call changed the state.
  bool on_success();
  bool on_failure();

  bool online() const noexcept { return online_; }
  /// Bumped on every online -> offline transition (never 0): the forwarder's signal that what it
  /// had in flight will not be acknowledged. Not on the way back: by then the window may have
  /// gone out again on the new connection, and resending it would only duplicate it.
  std::uint64_t generation() const noexcept { return generation_; }
  core::SteadyTime last_success() const noexcept { return last_success_; }

 private:
  const core::Clock& clock_;
  ops::Counter& offline_count_;
  ops::Summary& offline_duration_;
  ops::Gauge& online_gauge_;
  bool online_ = true;  ///< until a call fails: nothing is known to be wrong at start
  std::uint64_t generation_ = 1;
  core::SteadyTime offline_since_{};
  core::SteadyTime last_success_{};
};

}  // namespace edgehub::upstream
