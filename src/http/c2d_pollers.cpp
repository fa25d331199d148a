#include "edgehub/http/c2d_pollers.hpp"

#include <boost/asio/post.hpp>

#include "edgehub/hub/errors.hpp"

namespace edgehub::http {

namespace asio = boost::asio;

// The device's presence in hub::DeviceChannels while it polls: it takes C2D into the queue and
// nothing else (HTTPS devices have no module inputs, methods or twin, iot-hub-protocol.md §5).
class C2dPollers::Channel final : public hub::DeviceChannel {
 public:
  Channel(C2dPollers& owner, std::string device)
      : owner_(owner), alive_(owner.alive_), device_(std::move(device)) {}

  // Implements edgehub::hub::DeviceChannel
  asio::any_io_executor executor() const override { return owner_.executor_; }
  void deliver_input(core::Message, std::string, hub::DoneCallback done) override {
    done(make_error_code(hub::Errc::not_supported));
  }
  void deliver_c2d(core::Message message, hub::DoneCallback done) override {
    auto shared = std::make_shared<hub::DoneCallback>(std::move(done));
    auto queued = owner_.queue_.enqueue(device_, std::move(message), [shared](C2dOutcome o) {
      (*shared)(o == C2dOutcome::completed  ? core::ErrorCode{}
                : o == C2dOutcome::rejected ? make_error_code(hub::Errc::rejected)
                                            : make_error_code(hub::Errc::disconnected));
    });
    if (!queued) (*shared)(make_error_code(hub::Errc::queue_full));
  }
  void deliver_method(hub::MethodRequest, hub::DoneCallback done) override {
    done(make_error_code(hub::Errc::not_supported));
  }
  void deliver_desired(hub::DesiredPatch) override {}
  void close(core::ErrorCode) override {
    // Superseded by a session of the same device, revoked, or shutting down.
    if (!*alive_) return;
    owner_.forget(device_, this);
  }

 private:
  C2dPollers& owner_;
  std::shared_ptr<bool> alive_;  ///< false once the owner is gone
  std::string device_;
};

C2dPollers::C2dPollers(hub::DeviceChannels& channels, C2dQueue& queue, const core::Clock& clock,
                       asio::any_io_executor executor, std::chrono::steady_clock::duration interest)
    : channels_(channels),
      queue_(queue),
      clock_(clock),
      executor_(std::move(executor)),
      interest_(interest),
      sweep_timer_(executor_) {
  arm_sweep();
}

C2dPollers::~C2dPollers() {
  stop();
}

void C2dPollers::on_poll(const std::string& device) {
  const core::ClientId id{device, {}};
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  if (auto it = pollers_.find(device); it != pollers_.end()) {
    it->second.last_poll = clock_.steady_now();
    return;
  }
  // A device with a live MQTT or AMQP session gets its C2D there; never take its place.
  if (channels_.find(id)) return;
  auto channel = std::make_shared<Channel>(*this, device);
  auto registration = channels_.attach(id, channel, hub::Subscription::c2d);
  pollers_.emplace(device,
                   Poller{std::move(channel), std::move(registration), clock_.steady_now()});
}

std::size_t C2dPollers::size() const {
  std::lock_guard lock(mutex_);
  return pollers_.size();
}

void C2dPollers::stop() {
  std::map<std::string, Poller> gone;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    *alive_ = false;
    gone.swap(pollers_);
  }
  sweep_timer_.cancel();
  // Registrations detach outside the lock: DeviceChannels calls its watchers.
}

void C2dPollers::arm_sweep() {
  sweep_timer_.expires_after(std::min<std::chrono::steady_clock::duration>(
      interest_ / 4 + std::chrono::seconds(1), std::chrono::minutes(1)));
  sweep_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    sweep();
    arm_sweep();
  });
}

void C2dPollers::sweep() {
  std::vector<Poller> gone;
  {
    std::lock_guard lock(mutex_);
    const auto now = clock_.steady_now();
    for (auto it = pollers_.begin(); it != pollers_.end();) {
      if (now - it->second.last_poll < interest_) {
        ++it;
        continue;
      }
      gone.push_back(std::move(it->second));
      it = pollers_.erase(it);
    }
  }
}

void C2dPollers::forget(const std::string& device, const Channel* channel) {
  Poller gone;
  {
    std::lock_guard lock(mutex_);
    const auto it = pollers_.find(device);
    if (it == pollers_.end() || it->second.channel.get() != channel) return;
    gone = std::move(it->second);
    pollers_.erase(it);
  }
}

}  // namespace edgehub::http
