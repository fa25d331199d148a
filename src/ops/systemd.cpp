#include "edgehub/ops/systemd.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

namespace edgehub::ops {

void SystemdNotifier::send(std::string_view state) const noexcept {
  const std::string text(state);
  sd_notify(0, text.c_str());
}

void SystemdNotifier::ready() const noexcept {
  send("READY=1\nSTATUS=running");
}

void SystemdNotifier::reloading() const noexcept {
  // systemd 253+ pairs RELOADING=1 with the monotonic time of the request; older managers
  // ignore the extra field.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                    static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  send("RELOADING=1\nSTATUS=reloading configuration\nMONOTONIC_USEC=" + std::to_string(usec));
}

void SystemdNotifier::stopping() const noexcept {
  send("STOPPING=1\nSTATUS=draining");
}

void SystemdNotifier::watchdog() const noexcept {
  send("WATCHDOG=1");
}

void SystemdNotifier::status(std::string_view text) const noexcept {
  send("STATUS=" + std::string(text));
}

std::optional<std::chrono::microseconds> SystemdNotifier::watchdog_interval() noexcept {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

}  // namespace edgehub::ops
