#pragma once

// A settable clock for identity tests (style P7): SAS expiry and certificate validity are
// decided against this time, never the wall clock.

#include <chrono>

#include "edgehub/core/clock.hpp"

namespace edgehub::identity::test {

class FakeClock final : public core::Clock {
 public:
  explicit FakeClock(std::int64_t unix_seconds)
      : now_(core::SystemTime{std::chrono::seconds{unix_seconds}}) {}
  core::SystemTime now() const override { return now_; }
  core::SteadyTime steady_now() const override { return core::SteadyTime{now_.time_since_epoch()}; }
  void set(std::int64_t unix_seconds) {
    now_ = core::SystemTime{std::chrono::seconds{unix_seconds}};
  }

 private:
  core::SystemTime now_;
};

/// 2030-01-01T00:00:00Z, the "now" of the certificate tests.
inline constexpr std::int64_t kT0 = 1893456000;
inline constexpr std::int64_t kDay = 86400;

}  // namespace edgehub::identity::test
