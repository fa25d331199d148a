#pragma once

// hub::Scheduler: the hub's only source of time-based wake-ups (ack timeouts, method deadlines,
// retry back-off), injected like core::Clock (style P7) so tests move time by hand instead of
// sleeping. AsioScheduler is the real one.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace edgehub::hub {

/// Cancels its scheduled call when cancelled or destroyed. Move-only.
class TimerHandle {
 public:
  TimerHandle() = default;
  explicit TimerHandle(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  TimerHandle(TimerHandle&& other) noexcept : cancel_(std::move(other.cancel_)) {
    other.cancel_ = nullptr;
  }
  TimerHandle& operator=(TimerHandle&& other) noexcept {
    if (this != &other) {
      cancel();
      cancel_ = std::move(other.cancel_);
      other.cancel_ = nullptr;
    }
    return *this;
  }
  ~TimerHandle() { cancel(); }
  void cancel() {
    if (cancel_) {
      auto c = std::move(cancel_);
      cancel_ = nullptr;
      c();
    }
  }

 private:
  std::function<void()> cancel_;
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  /// Posts `fn` to `executor` once `delay` has passed. Cancelling the handle from `executor`
  /// guarantees `fn` does not run afterwards. Thread-safe.
  [[nodiscard]] virtual TimerHandle call_after(boost::asio::any_io_executor executor,
                                               std::chrono::milliseconds delay,
                                               std::function<void()> fn) = 0;
};

/// Asio steady_timer behind Scheduler.
class AsioScheduler final : public Scheduler {
 public:
  [[nodiscard]] TimerHandle call_after(boost::asio::any_io_executor executor,
                                       std::chrono::milliseconds delay,
                                       std::function<void()> fn) override;
};

}  // namespace edgehub::hub
