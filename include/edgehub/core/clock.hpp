#pragma once

// Time is injected (style P7): protocol cores, SAS verification, TTLs and retries take a Clock so
// tests can move time deterministically.

#include <chrono>

namespace edgehub::core {

using SystemTime = std::chrono::system_clock::time_point;
using SteadyTime = std::chrono::steady_clock::time_point;

/// Thread-safe: implementations must allow concurrent now() calls.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual SystemTime now() const = 0;
  virtual SteadyTime steady_now() const = 0;
};

/// The real clocks.
class SystemClock final : public Clock {
 public:
  SystemTime now() const override { return std::chrono::system_clock::now(); }
  SteadyTime steady_now() const override { return std::chrono::steady_clock::now(); }

  /// A process-wide instance for wiring in app/.
  static const SystemClock& instance();
};

}  // namespace edgehub::core
