#pragma once

// One accepted connection's share of the connection caps; released exactly once, when the
// connection (whichever object owns it by then) goes away.

#include "edgehub/net/listener.hpp"

namespace edgehub::net {

class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(ConnectionBudget* global, ConnectionBudget* listener, ops::Gauge* active) noexcept
      : global_(global), listener_(listener), active_(active) {
    if (active_) active_->inc();
  }
  ConnectionSlot(ConnectionSlot&& o) noexcept
      : global_(std::exchange(o.global_, nullptr)),
        listener_(std::exchange(o.listener_, nullptr)),
        active_(std::exchange(o.active_, nullptr)) {}
  ConnectionSlot& operator=(ConnectionSlot&& o) noexcept {
    if (this != &o) {
      release();
      global_ = std::exchange(o.global_, nullptr);
      listener_ = std::exchange(o.listener_, nullptr);
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
    global_ = listener_ = nullptr;
    active_ = nullptr;
  }
  ConnectionBudget* global_ = nullptr;
  ConnectionBudget* listener_ = nullptr;
  ops::Gauge* active_ = nullptr;
};

}  // namespace edgehub::net
