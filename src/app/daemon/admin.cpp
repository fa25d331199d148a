// The admin socket's requests (docs/operations.md): "status" answers what `edgehubctl status`
// shows, "reload" runs the same reload as SIGHUP and answers its outcome.

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "app/daemon/gateway.hpp"
#include "edgehub/core/version.hpp"

namespace edgehub::app {

namespace {

std::string iso_time(core::SystemTime t) {
  const auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

double seconds_between(core::SystemTime from, core::SystemTime to) {
  return std::chrono::duration<double>(to - from).count();
}

// Label value -> gauge value, for one-label gauge families (connections per listener, ...).
nlohmann::json by_label(const ops::GaugeFamily& family) {
  nlohmann::json out = nlohmann::json::object();
  family.for_each([&out](const std::vector<std::string>& labels, const ops::Gauge& g) {
    if (labels.size() == 1) out[labels[0]] = static_cast<std::int64_t>(g.value());
  });
  return out;
}

}  // namespace

void Gateway::start_admin_socket() {
  const auto& where = config_->admin_socket;
  if (!where) {
    spdlog::info("admin socket disabled ([gateway] admin_socket = \"\")");
    return;
  }
  admin_socket_ = std::make_unique<net::AdminSocketServer>(
      io_, [this](std::string_view request) { return admin_request(request); });
  std::string why;
  if (auto r = admin_socket_->start(*where, why); !r) {
    admin_socket_.reset();
    // The default lives in systemd's RuntimeDirectory; a gateway started by hand (a demo, a
    // test) has no /run/edgehubd, or shares it with the installed service, and runs without the
    // socket rather than not at all. A path the operator chose must work.
    if (*where == config::kDefaultAdminSocket) {
      spdlog::warn("admin socket disabled: {}; set [gateway] admin_socket to use edgehubctl status",
                   why);
      return;
    }
    throw StartupError("[gateway] admin_socket: " + why);
  }
  spdlog::info("admin socket on {} (mode 0660)", where->string());
}

std::string Gateway::admin_request(std::string_view request) {
  if (request == "status") return status_json();
  if (request == "reload") {
    if (state_ == State::stopping) {
      return nlohmann::json{{"error", "edgehubd is stopping"}}.dump();
    }
    return reload("admin socket").to_json().dump();
  }
  spdlog::warn("admin socket: unknown request ({} bytes)", request.size());
  return nlohmann::json{{"error", "unknown request; expected 'status' or 'reload'"}}.dump();
}

std::string Gateway::status_json() {
  const auto& cfg = *config_;
  const auto now = clock_.now();
  nlohmann::json j;
  j["version"] = core::version();
  j["pid"] = static_cast<std::int64_t>(::getpid());
  j["state"] = std::string(state_name(state_));
  j["uptime_seconds"] = std::chrono::duration<double>(clock_.steady_now() - started_at_).count();
  j["config_file"] = cfg.source_file.string();
  j["hostname"] = cfg.hostname;
  j["device_id"] = cfg.device_id;
  j["iothub_hostname"] = cfg.iothub_hostname;

  // The upstream client's own gauges (docs/metrics.md) say whether IoT Hub is reachable.
  const auto upstream_gauge = [this](const char* name) {
    return registry_.gauge(name, "").with(std::vector<std::string>{}).value();
  };
  if (upstream_) {
    // The client connects per identity on demand and counts as online until a connection fails,
    // so online with no connection open means "nothing tried yet", not "reached".
    const auto connections =
        static_cast<std::int64_t>(upstream_gauge("edgehubd_upstream_connections"));
    const bool online = upstream_gauge("edgehubd_upstream_online") > 0;
    j["upstream"] = {{"state", !online            ? "offline"
                               : connections == 0 ? "online (no connection open yet)"
                                                  : "online"},
                     {"protocol", config::to_string(cfg.upstream_protocol)},
                     {"hub", cfg.iothub_hostname},
                     {"connections", connections}};
  } else if (cfg.provisioning) {
    // Configured, but start_upstream() refused the settings (its warning is in the log).
    j["upstream"] = {{"state", "not started (see the log's upstream: warning)"},
                     {"protocol", config::to_string(cfg.upstream_protocol)},
                     {"hub", cfg.iothub_hostname}};
  } else {
    j["upstream"] = {{"state", "not configured"}};
  }

  nlohmann::json listeners = nlohmann::json::object();
  const auto listen = [&listeners](const char* name, const std::optional<config::HostPort>& hp) {
    listeners[name] = hp ? nlohmann::json(hp->to_string()) : nlohmann::json(nullptr);
  };
  listen("mqtt", cfg.listen.mqtt);
  listen("amqp", cfg.listen.amqp);
  listen("https", cfg.listen.https);
  listen("metrics", cfg.metrics);
  j["listeners"] = std::move(listeners);

  nlohmann::json identities = nlohmann::json::array();
  if (identities_) {
    for (const auto& entry : identities_->snapshot()->identities()) {
      if (channels_.find(entry.id)) {
        identities.push_back(
            {{"id", entry.id.to_string()}, {"kind", entry.id.is_module() ? "module" : "device"}});
      }
    }
  }
  j["connections"] = {{"total", connection_budget_.used()},
                      {"by_protocol", by_label(listener_stats_.active)},
                      {"mqtt_sessions", by_label(mqtt_stats_.sessions)},
                      {"identities_connected", channels_.size()},
                      {"identities", std::move(identities)}};

  nlohmann::json queues = nlohmann::json::array();
  registry_
      .gauge("edgehub_queue_length", "Entries waiting per endpoint queue", {"endpoint", "priority"})
      .for_each([&queues](const std::vector<std::string>& labels, const ops::Gauge& g) {
        queues.push_back({{"endpoint", labels.at(0)},
                          {"priority", std::stoi(labels.at(1))},
                          {"length", static_cast<std::int64_t>(g.value())}});
      });
  j["queues"] = std::move(queues);

  nlohmann::json certificates = nlohmann::json::object();
  if (certs_) {
    const auto& server = certs_->current();
    certificates["server"] = {{"serial", server.serial_hex},
                              {"not_after", iso_time(server.not_after)},
                              {"expires_in_seconds", seconds_between(now, server.not_after)},
                              {"renewal_at", iso_time(certs_->next_renewal())}};
    const auto& ca = certs_->edge_ca();
    certificates["edge_ca"] = {{"common_name", ca.common_name},
                               {"not_after", iso_time(ca.not_after)},
                               {"expires_in_seconds", seconds_between(now, ca.not_after)},
                               {"quickstart", ca.quickstart}};
  }
  j["certificates"] = std::move(certificates);
  j["last_reload"] = last_reload_ ? last_reload_->to_json() : nlohmann::json(nullptr);
  return j.dump();
}

}  // namespace edgehub::app
