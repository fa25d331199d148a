#pragma once

// The AMQP side of `edgehubctl simulate`: each simulated device opens its own AMQP 1.0 connection
// over TLS (Qpid Proton's container), authenticates with SASL PLAIN as the Azure IoT SDKs can
// ("{device}@sas.{hub}", SAS token as password) and sends telemetry on
// /devices/{id}/messages/events, counting the gateway's accepted dispositions.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "app/ctl/simulated_device.hpp"

namespace edgehub::app::ctl {

struct AmqpSimulationOptions {
  std::string host;
  std::uint16_t port = 5671;
  std::string tls_hostname;  ///< the name the server certificate must carry
  std::string trust_bundle;  ///< PEM file of trusted roots
  std::optional<double> duration_seconds;
  /// Called once a second on the simulation's thread with the elapsed seconds.
  std::function<void(double elapsed)> report;
};

/// Runs until every device has finished (after --duration, or SIGINT/SIGTERM). `devices` carry
/// the id, token, hub, interval and window of each simulated device. Returns the seconds spent
/// sending (up to the stop, without the wait for the last acknowledgements).
double run_amqp_simulation(const std::vector<SimulatedDeviceSettings>& devices,
                           const AmqpSimulationOptions& options, SimulationStats& stats);

}  // namespace edgehub::app::ctl
