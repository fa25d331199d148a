#pragma once

// One accepted connection's share of the connection caps; released exactly once, when the
// connection (whichever object owns it by then) goes away.

#include <memory>
#include <utility>

#include "edgehub/net/listener.hpp"

namespace edgehub::net {

class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  /// `global` and `active` outlive every connection (the daemon owns them); the listener's own
  /// budget is shared, because a listener may be stopped and destroyed before its connections.
  ConnectionSlot(ConnectionBudget* global, std::shared_ptr<ConnectionBudget> listener,
                 ops::Gauge* active) noexcept
      : global_(global), listener_(std::move(listener)), active_(active) {
    if (active_) active_->inc();
  }
  ConnectionSlot(ConnectionSlot&& o) noexcept
      : global_(std::exchange(o.global_, nullptr)),
        listener_(std::move(o.listener_)),
        active_(std::exchange(o.active_, nullptr)) {}
  ConnectionSlot& operator=(ConnectionSlot&& o) noexcept {
    if (this != &o) {
      release();
      global_ = std::exchange(o.global_, nullptr);
      listener_ = std::move(o.listener_);
      active_ = std::exchange(o.active_, nullptr);
    }
    return *this;
  }
  ~ConnectionSlot() { release(); }

 private:
  void release() noexcept {
    if (global_) global_->release();
    if (listener_) listener_->release();
    if (active_) active_->dec();
    global_ = nullptr;
    listener_.reset();
    active_ = nullptr;
  }
  ConnectionBudget* global_ = nullptr;
  std::shared_ptr<ConnectionBudget> listener_;
  ops::Gauge* active_ = nullptr;
};

}  // namespace edgehub::net
