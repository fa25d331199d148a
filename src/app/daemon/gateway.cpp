#include "app/daemon/gateway.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <nlohmann/json.hpp>

#include "edgehub/config/load.hpp"
#include "edgehub/core/uuid.hpp"
#include "edgehub/core/version.hpp"
#include "edgehub/ops/logging.hpp"
#include "edgehub/ops/process_metrics.hpp"

namespace edgehub::app {

namespace asio = boost::asio;

namespace {

// edgeHub's default labels on every metric (edgehub-reference.md §8), so dashboards built for
// IoT Edge select edgehubd's series unchanged.
std::vector<std::pair<std::string, std::string>> default_labels(const config::GatewayConfig& c) {
  return {{"iothub", c.iothub_hostname},
          {"edge_device", c.device_id},
          {"instance_number", core::random_uuid()}};
}

std::string_view state_name(Gateway::State s) {
  switch (s) {
    case Gateway::State::starting:
      return "starting";
    case Gateway::State::running:
      return "running";
    case Gateway::State::reloading:
      return "reloading";
    case Gateway::State::stopping:
      return "stopping";
  }
  return "unknown";
}

}  // namespace

Gateway::Gateway(std::shared_ptr<const config::GatewayConfig> config, const core::Clock& clock)
    : config_(std::move(config)),
      clock_(clock),
      started_at_(clock.steady_now()),
      signals_(io_, SIGTERM, SIGINT, SIGHUP),
      watchdog_timer_(io_),
      drain_timer_(io_),
      registry_(default_labels(*config_)) {
  ops::register_process_metrics(registry_, clock_);
}

Gateway::~Gateway() = default;

void Gateway::start() {
  const auto& cfg = *config_;
  for (const auto& table : cfg.ignored_tables) {
    spdlog::debug("config: ignoring [{}] (an aziot table edgehubd does not use)", table);
  }
  if (cfg.metrics) {
    admin_http_ = std::make_unique<net::AdminHttpServer>(
        io_, net::AdminHttpServer::Handlers{[this] { return registry_.render(); },
                                            [this] { return health_json(); }});
    if (auto r = admin_http_->start(*cfg.metrics); !r) {
      throw StartupError("cannot listen on [gateway] metrics = \"" + cfg.metrics->to_string() +
                         "\": " + r.error().message() +
                         " (choose a free address, or set metrics = \"\" to disable)");
    }
    spdlog::info("metrics and health on http://{}:{}/metrics and /health", cfg.metrics->host,
                 admin_http_->port());
  } else {
    spdlog::info("metrics endpoint disabled ([gateway] metrics = \"\")");
  }
  arm_signals();
  arm_watchdog();
  state_ = State::running;
  notifier_.ready();
  spdlog::info("edgehubd {} ready: gateway {} for {} (device {})", core::version(), cfg.hostname,
               cfg.iothub_hostname, cfg.device_id);
}

int Gateway::run() {
  io_.run();
  spdlog::info("edgehubd stopped");
  return 0;
}

void Gateway::arm_signals() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    if (signal_number == SIGHUP) {
      reload();
      arm_signals();
    } else {
      begin_shutdown(signal_number);
    }
  });
}

void Gateway::arm_watchdog() {
  const auto interval = ops::SystemdNotifier::watchdog_interval();
  if (!interval) return;
  // Sent from the event loop itself: a blocked loop stops the pings and systemd restarts us.
  notifier_.watchdog();
  watchdog_timer_.expires_after(*interval);
  watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && state_ != State::stopping) arm_watchdog();
  });
}

void Gateway::reload() {
  state_ = State::reloading;
  notifier_.reloading();
  spdlog::info("SIGHUP: reloading {}", config_->source_file.string());
  std::vector<config::ConfigIssue> issues;
  auto fresh = config::load_config(config_->source_file, issues);
  for (const auto& issue : issues) {
    if (issue.severity == config::Severity::warning) spdlog::warn("config: {}", issue.to_string());
  }
  if (!fresh) {
    for (const auto& issue : issues) {
      if (issue.severity == config::Severity::error) spdlog::error("config: {}", issue.to_string());
    }
    spdlog::error("reload rejected: the file has errors; the running configuration is unchanged");
  } else {
    if (auto level = ops::parse_log_level(fresh->log_level)) ops::set_log_level(*level);
    config_ = std::make_shared<const config::GatewayConfig>(std::move(*fresh));
    spdlog::info("configuration reloaded");
  }
  state_ = State::running;
  notifier_.ready();
}

void Gateway::begin_shutdown(int signal_number) {
  if (state_ == State::stopping) return;
  state_ = State::stopping;
  notifier_.stopping();
  spdlog::info("{}: draining (at most {} s)", signal_number == SIGINT ? "SIGINT" : "SIGTERM",
               config_->drain_timeout.count());
  watchdog_timer_.cancel();
  signals_.cancel();
  if (admin_http_) admin_http_->stop();
  // Each long-lived part that needs time to finish (sessions, store flush) increments
  // pending_drains_ and calls drain_done() when finished; the timer bounds the wait.
  drain_timer_.expires_after(config_->drain_timeout);
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) spdlog::warn("drain timeout reached; closing what is left");
    io_.stop();
  });
  drain_done_if_idle();
}

void Gateway::drain_done_if_idle() {
  if (pending_drains_ == 0) drain_timer_.cancel();
}

std::string Gateway::health_json() const {
  const auto uptime = std::chrono::duration<double>(clock_.steady_now() - started_at_).count();
  nlohmann::json j = {{"status", state_ == State::running ? "healthy" : "degraded"},
                      {"state", state_name(state_)},
                      {"uptime_seconds", uptime},
                      {"version", core::version()},
                      {"hostname", config_->hostname},
                      {"device_id", config_->device_id}};
  return j.dump();
}

}  // namespace edgehub::app
