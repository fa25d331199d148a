#pragma once

// The byte and time plumbing both connection roles (ServerConnection, ClientConnection) share
// over Proton's connection driver, private to amqp_core. The caller dispatches the driver's
// events itself after each step, as its role requires.

#include <proton/connection_driver.h>
#include <proton/transport.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <optional>
#include <span>

#include "edgehub/core/clock.hpp"

namespace edgehub::amqp_core::detail {

/// Copies `bytes` into the driver's read buffer as far as it takes them, calling `dispatch` after
/// each chunk; what a closed read side does not take is dropped.
template <typename Dispatch>
void feed_input(pn_connection_driver_t& driver, std::span<const std::byte> bytes,
                Dispatch&& dispatch) {
  while (!bytes.empty()) {
    auto buffer = pn_connection_driver_read_buffer(&driver);
    if (buffer.size == 0) break;  // reading is closed: the rest is dropped
    const auto n = std::min(buffer.size, bytes.size());
    std::memcpy(buffer.start, bytes.data(), n);
    pn_connection_driver_read_done(&driver, n);
    bytes = bytes.subspan(n);
    dispatch();
  }
}

/// The bytes the driver has for the peer now.
inline std::span<const std::byte> pending_output(pn_connection_driver_t& driver) {
  const auto b = pn_connection_driver_write_buffer(&driver);
  return {reinterpret_cast<const std::byte*>(b.start), b.size};
}

/// Runs the transport's idle-timeout and heartbeat logic at `now` (steady clock); when to call
/// again, nullopt for never.
inline std::optional<core::SteadyTime> tick_transport(pn_connection_driver_t& driver,
                                                      core::SteadyTime now) {
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const auto next = pn_transport_tick(driver.transport, millis);
  if (next == 0) return std::nullopt;
  return core::SteadyTime(std::chrono::milliseconds(next));
}

}  // namespace edgehub::amqp_core::detail
