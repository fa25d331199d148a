#include "amqp_fleet.hpp"

#include <chrono>
#include <mutex>
#include <proton/binary.hpp>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/error_condition.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/sender.hpp>
#include <proton/ssl.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>
#include <proton/work_queue.hpp>
#include <thread>

#include "telemetry_body.hpp"

namespace edgehub::bench {

namespace {

using Clock = std::chrono::steady_clock;
const proton::duration kTick(2);  // ms between a device's send rounds

}  // namespace

struct AmqpFleet::State {
  class Device;
  class Runner;

  std::vector<AmqpDevice> devices;
  AmqpFleetOptions options;
  std::vector<std::unique_ptr<Device>> handlers;
  std::unique_ptr<Runner> runner;
  std::unique_ptr<proton::container> container;
  std::thread thread;

  // Written on the fleet's thread, read by the caller's.
  std::atomic<std::uint32_t> opened{0};
  std::atomic<std::uint32_t> closed{0};
  std::atomic<bool> failed{false};
  std::atomic<bool> sending{false};
  std::atomic<bool> finished{false};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> not_accepted{0};
  Clock::time_point go_at;
  mutable std::mutex error_mutex;
  std::string error;

  void fail(const std::string& what) {
    std::lock_guard lock(error_mutex);
    if (error.empty()) error = what;
    failed = true;
  }
};

/// One device: its connection, its sender link, its pacing (rate / devices).
class AmqpFleet::State::Device : public proton::messaging_handler {
 public:
  Device(State& fleet, std::size_t index)
      : fleet_(fleet), index_(index), body_(fleet.devices[index].id) {
    payload_.assign(body_.text.begin(), body_.text.end());
    message_.content_type("application/json");
    message_.content_encoding("utf-8");
  }

  std::uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }

  void on_connection_open(proton::connection& c) override {
    sender_ = c.open_sender("/devices/" + fleet_.devices[index_].id + "/messages/events");
  }
  void on_sender_open(proton::sender&) override {
    ++fleet_.opened;
    schedule();
  }
  void on_tracker_accept(proton::tracker&) override {
    ++fleet_.accepted;
    settled();
  }
  void on_tracker_reject(proton::tracker&) override {
    ++fleet_.not_accepted;
    settled();
  }
  void on_tracker_release(proton::tracker&) override {
    ++fleet_.not_accepted;
    settled();
  }
  void on_transport_error(proton::transport& t) override {
    if (!closing_) fleet_.fail(fleet_.devices[index_].id + ": " + t.error().what());
  }
  void on_connection_error(proton::connection& c) override {
    if (!closing_) fleet_.fail(fleet_.devices[index_].id + ": " + c.error().what());
  }
  void on_transport_close(proton::transport&) override { ++fleet_.closed; }

 private:
  // On the connection's own work queue: Proton writes what a callback sent after it returns.
  void schedule() {
    sender_.connection().work_queue().schedule(kTick, [this] { tick(); });
  }

  void tick() {
    if (fleet_.sending && !stopped_) {
      const double elapsed = std::chrono::duration<double>(Clock::now() - fleet_.go_at).count();
      if (elapsed >= fleet_.options.duration) {
        stopped_ = true;
      } else {
        const double share = fleet_.options.rate / static_cast<double>(fleet_.devices.size());
        const auto due = static_cast<std::uint64_t>(share * elapsed) + 1;
        while (sent() < due && in_flight_ < fleet_.options.window && sender_.credit() > 0)
          send();
      }
    }
    if (stopped_ && in_flight_ == 0) {
      closing_ = true;
      sender_.connection().close();
      return;
    }
    schedule();
  }

  void send() {
    body_.stamp(reinterpret_cast<std::uint8_t*>(payload_.data()), sent(), monotonic_us());
    message_.body(payload_);
    sender_.send(message_);
    sent_.fetch_add(1, std::memory_order_relaxed);
    ++in_flight_;
  }

  void settled() {
    if (in_flight_ > 0) --in_flight_;
  }

  State& fleet_;
  std::size_t index_;
  TelemetryBody body_;
  proton::binary payload_;
  proton::message message_;
  proton::sender sender_;
  std::atomic<std::uint64_t> sent_{0};  // read by the caller's thread for the warm-up cut
  std::uint32_t in_flight_ = 0;
  bool stopped_ = false;
  bool closing_ = false;
};

class AmqpFleet::State::Runner : public proton::messaging_handler {
 public:
  explicit Runner(State& fleet) : fleet_(fleet) {}

  void on_container_start(proton::container& c) override {
    const auto& o = fleet_.options;
    for (std::size_t i = 0; i < fleet_.devices.size(); ++i) {
      proton::connection_options co;
      co.handler(*fleet_.handlers[i]);
      co.virtual_host(o.virtual_host);
      co.ssl_client_options(proton::ssl_client_options(o.ca_file, proton::ssl::VERIFY_PEER_NAME));
      co.sasl_enabled(true);
      co.sasl_allowed_mechs("PLAIN");
      co.user(fleet_.devices[i].id + "@sas." + o.hub_name);
      co.password(fleet_.devices[i].password);
      c.connect(o.url, co);
    }
  }

 private:
  State& fleet_;
};

AmqpFleet::AmqpFleet(std::vector<AmqpDevice> devices, AmqpFleetOptions options)
    : state_(std::make_unique<State>()) {
  state_->devices = std::move(devices);
  state_->options = std::move(options);
  for (std::size_t i = 0; i < state_->devices.size(); ++i) {
    state_->handlers.push_back(std::make_unique<State::Device>(*state_, i));
  }
  state_->runner = std::make_unique<State::Runner>(*state_);
}

AmqpFleet::~AmqpFleet() {
  if (state_->thread.joinable()) {
    if (!done()) state_->container->stop();
    state_->thread.join();
  }
}

void AmqpFleet::start() {
  state_->container = std::make_unique<proton::container>(*state_->runner);
  state_->thread = std::thread([s = state_.get()] {
    try {
      s->container->run();
    } catch (const std::exception& e) {
      s->fail(e.what());
    }
    s->finished = true;
  });
}

bool AmqpFleet::ready() const {
  return state_->failed || state_->opened == state_->devices.size();
}

void AmqpFleet::go() {
  state_->go_at = Clock::now();
  state_->sending = true;
}

bool AmqpFleet::done() const {
  return state_->finished || state_->failed;
}

std::string AmqpFleet::error() const {
  std::lock_guard lock(state_->error_mutex);
  return state_->error;
}

std::vector<std::uint64_t> AmqpFleet::sent_per_device() const {
  std::vector<std::uint64_t> sent;
  for (const auto& d : state_->handlers)
    sent.push_back(d->sent());
  return sent;
}

std::uint64_t AmqpFleet::accepted() const {
  return state_->accepted;
}
std::uint64_t AmqpFleet::not_accepted() const {
  return state_->not_accepted;
}

}  // namespace edgehub::bench
