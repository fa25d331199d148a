#include "app/ctl/simulated_amqp.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <deque>
#include <memory>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/delivery_mode.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/sender.hpp>
#include <proton/ssl.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>
#include <proton/work_queue.hpp>

namespace edgehub::app::ctl {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> interrupted{false};

extern "C" void on_interrupt(int) {
  interrupted = true;
}

proton::duration to_proton(Clock::duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return proton::duration(std::max<std::int64_t>(ms, 1));
}

/// One simulated device: its own connection and sender link, driven by the container's thread.
class AmqpDevice : public proton::messaging_handler {
 public:
  AmqpDevice(const SimulatedDeviceSettings& settings, SimulationStats& stats, const bool& stopping)
      : settings_(settings), stats_(stats), stopping_(stopping) {}

  bool done() const { return done_; }

  void on_connection_open(proton::connection& c) override {
    opened_ = true;
    ++stats_.connected;
    sender_ = c.open_sender("/devices/" + settings_.device_id + "/messages/events");
    schedule();
  }

  void on_tracker_accept(proton::tracker&) override {
    ++stats_.acknowledged;
    settled();
  }
  void on_tracker_reject(proton::tracker&) override {
    stats_.last_error = settings_.device_id + ": message rejected";
    settled();
  }
  void on_tracker_release(proton::tracker&) override {
    stats_.last_error = settings_.device_id + ": message released";
    settled();
  }

  void on_transport_error(proton::transport& t) override { fail(t.error().what()); }
  void on_connection_error(proton::connection& c) override { fail(c.error().what()); }
  void on_connection_close(proton::connection&) override { done_ = true; }
  void on_transport_close(proton::transport&) override { done_ = true; }

 private:
  // On the connection's own work queue, not the container's: Proton writes what a callback sent
  // only after callbacks in the connection's context.
  void schedule() {
    sender_.connection().work_queue().schedule(to_proton(settings_.interval), [this] { tick(); });
  }

  void tick() {
    if (done_) return;
    if (stopping_) {
      if (grace_ends_ == Clock::time_point{}) grace_ends_ = Clock::now() + std::chrono::seconds(5);
      // Let what is in flight be accepted before closing, for at most a few seconds.
      if (in_flight_ == 0 || Clock::now() >= grace_ends_) {
        closing_ = true;
        sender_.connection().close();
        return;
      }
    } else if (sender_.active() && sender_.credit() > 0) {
      if (in_flight_ >= settings_.window) {
        ++stats_.held_back;
      } else {
        send();
      }
    }
    schedule();
  }

  void send() {
    proton::message m;
    m.body(proton::binary(simulated_telemetry(settings_.device_id, sequence_++)));
    m.content_type("application/json");
    sender_.send(m);
    sent_at_.push_back(Clock::now());
    ++in_flight_;
    ++stats_.sent;
  }

  // The gateway settles telemetry in order (after its store commits), so the oldest send time
  // belongs to the settled message.
  void settled() {
    if (!sent_at_.empty()) {
      const auto latency = Clock::now() - sent_at_.front();
      stats_.latencies_ms.push_back(std::chrono::duration<double, std::milli>(latency).count());
      sent_at_.pop_front();
    }
    if (in_flight_ > 0) --in_flight_;
  }

  void fail(const std::string& what) {
    stats_.last_error = settings_.device_id + ": " + what;
    if (!opened_) {
      ++stats_.connect_failures;
    } else if (!closing_) {
      ++stats_.disconnects;
    }
    done_ = true;
  }

  SimulatedDeviceSettings settings_;
  SimulationStats& stats_;
  const bool& stopping_;
  proton::sender sender_;
  bool opened_ = false;
  bool closing_ = false;
  bool done_ = false;
  std::size_t in_flight_ = 0;
  std::uint64_t sequence_ = 0;
  std::deque<Clock::time_point> sent_at_;
  Clock::time_point grace_ends_{};
};

class Runner : public proton::messaging_handler {
 public:
  Runner(const std::vector<SimulatedDeviceSettings>& devices, const AmqpSimulationOptions& options,
         SimulationStats& stats)
      : options_(options) {
    for (const auto& d : devices)
      devices_.push_back(std::make_unique<AmqpDevice>(d, stats, stopping_));
    settings_ = devices;
  }

  /// Seconds from the start to the stop (0 when nothing stopped it: every device ended).
  double sending_seconds() const { return sending_seconds_; }

  void on_container_start(proton::container& c) override {
    start_ = Clock::now();
    const auto url = "amqps://" + options_.host + ":" + std::to_string(options_.port);
    for (std::size_t i = 0; i < devices_.size(); ++i) {
      const auto& s = settings_[i];
      proton::connection_options o;
      o.handler(*devices_[i]);
      o.virtual_host(options_.tls_hostname);
      o.ssl_client_options(
          proton::ssl_client_options(options_.trust_bundle, proton::ssl::VERIFY_PEER_NAME));
      o.sasl_enabled(true);
      o.sasl_allowed_mechs("PLAIN");
      // IoT Hub's SASL PLAIN user name: {device}@sas.{hub name without its domain}.
      o.user(s.device_id + "@sas." + s.iothub_hostname.substr(0, s.iothub_hostname.find('.')));
      o.password(s.password);
      c.connect(url, o);
    }
    c.schedule(proton::duration(100), [this, &c] { watch(c); });
  }

 private:
  // Every 100 ms: signals and --duration; once a second: the report.
  void watch(proton::container& c) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    if (!stopping_ && elapsed >= next_report_) {
      options_.report(elapsed);
      next_report_ += 1.0;
    }
    if (!stopping_ &&
        (interrupted || (options_.duration_seconds && elapsed >= *options_.duration_seconds))) {
      stopping_ = true;
      sending_seconds_ = elapsed;
    }
    bool all_done = true;
    for (const auto& d : devices_)
      all_done = all_done && d->done();
    if (!all_done) c.schedule(proton::duration(100), [this, &c] { watch(c); });
  }

  const AmqpSimulationOptions& options_;
  std::vector<SimulatedDeviceSettings> settings_;
  double sending_seconds_ = 0;
  std::vector<std::unique_ptr<AmqpDevice>> devices_;
  bool stopping_ = false;
  Clock::time_point start_;
  double next_report_ = 1.0;
};

}  // namespace

double run_amqp_simulation(const std::vector<SimulatedDeviceSettings>& devices,
                           const AmqpSimulationOptions& options, SimulationStats& stats) {
  interrupted = false;
  auto previous_int = std::signal(SIGINT, on_interrupt);
  auto previous_term = std::signal(SIGTERM, on_interrupt);
  Runner runner(devices, options, stats);
  proton::container container(runner);
  const auto start = Clock::now();
  container.run();
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  return runner.sending_seconds() > 0 ? runner.sending_seconds()
                                      : std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace edgehub::app::ctl
