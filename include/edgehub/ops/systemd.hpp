#pragma once

// The systemd service protocol (sd_notify): READY=1 after listeners and store are open,
// WATCHDOG=1 from the event loop, RELOADING=1/READY=1 around a reload, STOPPING=1 on shutdown.
// Without NOTIFY_SOCKET every call is a cheap no-op, so the daemon runs unchanged outside systemd.

#include <chrono>
#include <optional>
#include <string_view>

namespace edgehub::ops {

class SystemdNotifier {
 public:
  void ready() const noexcept;
  void reloading() const noexcept;
  void stopping() const noexcept;
  void watchdog() const noexcept;
  /// STATUS= line shown by `systemctl status`.
  void status(std::string_view text) const noexcept;

  /// The interval at which WATCHDOG=1 must be sent (half of WATCHDOG_USEC), when the service
  /// manager asked for a watchdog for this process.
  static std::optional<std::chrono::microseconds> watchdog_interval() noexcept;

 private:
  void send(std::string_view state) const noexcept;
};

}  // namespace edgehub::ops
