// Live reload (SIGHUP, `edgehubctl config apply`): validate everything first, then apply it all.
// A reload with an error anywhere (the file, a route, the identities file, the trust bundle,
// the Edge CA) changes nothing; the reasons are logged and returned to the admin socket.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "app/daemon/gateway.hpp"
#include "edgehub/config/load.hpp"
#include "edgehub/identity/x509.hpp"
#include "edgehub/ops/logging.hpp"
#include "edgehub/pki/edge_ca.hpp"

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

bool same_route(const config::RouteSpec& a, const config::RouteSpec& b) {
  return a.text == b.text && a.priority == b.priority && a.time_to_live_secs == b.time_to_live_secs;
}

// "routes: added a, b; removed c; changed d", or nothing when the routes are the same.
std::optional<std::string> describe_route_changes(const std::vector<config::RouteSpec>& before,
                                                  const std::vector<config::RouteSpec>& after) {
  std::map<std::string, const config::RouteSpec*> old_by_name;
  for (const auto& r : before)
    old_by_name[r.name] = &r;
  std::vector<std::string> added, removed, changed;
  std::set<std::string> seen;
  for (const auto& r : after) {
    seen.insert(r.name);
    const auto it = old_by_name.find(r.name);
    if (it == old_by_name.end()) {
      added.push_back(r.name);
    } else if (!same_route(*it->second, r)) {
      changed.push_back(r.name);
    }
  }
  for (const auto& r : before) {
    if (!seen.contains(r.name)) removed.push_back(r.name);
  }
  if (added.empty() && removed.empty() && changed.empty()) return std::nullopt;
  std::string out = "routes:";
  const auto list = [&out](const char* verb, const std::vector<std::string>& names) {
    if (names.empty()) return;
    out += std::string(out.back() == ':' ? " " : "; ") + verb;
    for (std::size_t i = 0; i < names.size(); ++i)
      out += (i == 0 ? " " : ", ") + names[i];
  };
  list("added", added);
  list("removed", removed);
  list("changed", changed);
  return out + " (" + std::to_string(after.size()) + " in force)";
}

// Keys the running daemon cannot change in place: they name sockets it has bound, the store it
// has open, or the identity it is. Each is reported; the new value waits for a restart.
std::vector<std::string> restart_only_changes(const config::GatewayConfig& a,
                                              const config::GatewayConfig& b) {
  std::vector<std::string> keys;
  const auto check = [&keys](bool same, const char* key) {
    if (!same) keys.emplace_back(key);
  };
  check(a.listen.mqtt == b.listen.mqtt, "gateway.listen.mqtt");
  check(a.listen.amqp == b.listen.amqp, "gateway.listen.amqp");
  check(a.listen.https == b.listen.https, "gateway.listen.https");
  check(a.metrics == b.metrics, "gateway.metrics");
  check(a.admin_socket == b.admin_socket, "gateway.admin_socket");
  check(a.state_dir == b.state_dir, "gateway.state_dir");
  check(a.store.max_disk_mb == b.store.max_disk_mb && a.store.when_full == b.store.when_full &&
            a.store.sync == b.store.sync && a.store.time_to_live_secs == b.store.time_to_live_secs,
        "gateway.store");
  check(a.identities == b.identities, "gateway.identities");
  check(a.trust_bundle_cert == b.trust_bundle_cert, "trust_bundle_cert");
  check(a.device_id == b.device_id, "the gateway's device id");
  check(a.iothub_hostname == b.iothub_hostname, "the IoT Hub host name");
  check(a.provisioning.has_value() == b.provisioning.has_value(), "provisioning");
  check(a.upstream_protocol == b.upstream_protocol, "gateway.upstream_protocol");
  check(a.upstream_token_lifetime == b.upstream_token_lifetime,
        "gateway.upstream_token_lifetime_secs");
  check(a.authentication_mode == b.authentication_mode, "gateway.authentication_mode");
  check(a.limits.max_connections_per_listener == b.limits.max_connections_per_listener &&
            a.limits.max_message_bytes == b.limits.max_message_bytes &&
            a.limits.tls_handshake_timeout == b.limits.tls_handshake_timeout &&
            a.limits.connect_timeout == b.limits.connect_timeout &&
            a.limits.max_token_lifetime == b.limits.max_token_lifetime,
        "gateway.limits (max_connections_per_listener, max_message_bytes, "
        "tls_handshake_timeout_ms, connect_timeout_ms, max_token_lifetime_secs)");
  return keys;
}

// The limits a running daemon applies at once: the global connection cap, and what each
// session reads from the live limits when it needs them.
std::optional<std::string> describe_live_limit_changes(const config::LimitsConfig& a,
                                                       const config::LimitsConfig& b) {
  std::string out;
  const auto change = [&out](const char* key, std::uint32_t from, std::uint32_t to) {
    if (from == to) return;
    out += std::string(out.empty() ? "limits: " : ", ") + key + " " + std::to_string(from) +
           " -> " + std::to_string(to);
  };
  change("max_connections", a.max_connections, b.max_connections);
  change("max_inflight_per_connection", a.max_inflight_per_connection,
         b.max_inflight_per_connection);
  change("max_outbound_queue", a.max_outbound_queue, b.max_outbound_queue);
  if (out.empty()) return std::nullopt;
  return out;
}

}  // namespace

nlohmann::json ReloadOutcome::to_json() const {
  return {{"applied", applied},
          {"at", iso_time(at)},
          {"trigger", trigger},
          {"errors", errors},
          {"warnings", warnings},
          {"changes", changes},
          {"closed_connections", closed_connections}};
}

std::optional<Gateway::StagedReload> Gateway::stage_reload(ReloadOutcome& out) const {
  std::vector<config::ConfigIssue> issues;
  auto fresh = config::load_config(config_->source_file, issues);
  for (const auto& issue : issues) {
    (issue.severity == config::Severity::error ? out.errors : out.warnings)
        .push_back(issue.to_string());
  }
  if (!fresh) return std::nullopt;

  StagedReload staged;
  std::vector<routing::RouteIssue> route_issues;
  if (auto table = routing::RouteTable::build(*fresh, route_issues)) {
    staged.routes = std::make_shared<const routing::RouteTable>(std::move(*table));
  } else {
    for (const auto& i : route_issues)
      out.errors.push_back(config_->source_file.string() + ":" + std::to_string(i.line) + ": " +
                           i.to_string());
  }
  // The registry keeps the file it was started with (see restart_only_changes); that file is
  // what the reload re-reads, so it is what must parse.
  if (!identities_->file().empty()) {
    std::vector<identity::RegistryIssue> identity_issues;
    if (!identity::load_identities(identities_->file(), config_->device_id, identity_issues)) {
      for (const auto& i : identity_issues)
        out.errors.push_back(i.to_string());
    }
  }
  if (config_->trust_bundle_cert) {
    if (auto bundle = identity::TrustBundle::load_file(*config_->trust_bundle_cert); !bundle) {
      out.errors.push_back("trust_bundle_cert " + config_->trust_bundle_cert->string() + ": " +
                           bundle.error().message());
    }
  }
  if (certs_) {
    std::string why;
    if (auto ca = pki::open_edge_ca(*fresh, clock_.now(), why)) {
      staged.edge_ca = std::move(*ca);
    } else {
      out.errors.push_back("edge_ca: " + why);
    }
  }
  for (const auto& key : restart_only_changes(*config_, *fresh)) {
    out.warnings.push_back(key +
                           " changed: takes effect after a restart (systemctl restart edgehubd)");
  }
  if (!out.errors.empty()) return std::nullopt;
  staged.config = std::make_shared<const config::GatewayConfig>(std::move(*fresh));
  return staged;
}

void Gateway::apply_reload(StagedReload staged, ReloadOutcome& out) {
  const auto& fresh = *staged.config;
  // The server certificate first: it is the one step that can still fail (issuing), and when it
  // does, nothing else has changed yet.
  if (certs_ && staged.edge_ca) {
    std::string why;
    auto changed = certs_->reload(std::move(*staged.edge_ca),
                                  pki::ServerCertPolicy::from_config(fresh), clock_.now(), why);
    if (!changed) {
      out.errors.push_back("server certificate not re-issued: " + why);
      return;
    }
    if (*changed) {
      install_server_identity(**changed, certs_->last_reason());
      arm_renewal();
      out.changes.push_back("server certificate re-issued (serial " + (*changed)->serial_hex +
                            "): " + certs_->last_reason());
    }
  }
  out.applied = true;

  if (fresh.log_level != config_->log_level) {
    if (auto level = ops::parse_log_level(fresh.log_level)) ops::set_log_level(*level);
    out.changes.push_back("log level " + config_->log_level + " -> " + fresh.log_level);
  }

  if (identities_) {
    const auto before = identities_->snapshot()->identities().size();
    std::vector<identity::RegistryIssue> issues;
    if (auto revoked = identities_->reload(issues)) {
      std::vector<core::ClientId> closing;
      for (const auto& r : *revoked)
        closing.push_back(r.id);
      out.closed_connections = channels_.close_identities(closing, hub::Errc::revoked);
      for (const auto& r : *revoked) {
        const auto why = identity::describe(r.reason);
        spdlog::info("identity {} {}: its connection is closed", r.id.to_string(), why);
        out.changes.push_back("identity " + r.id.to_string() + " " + std::string(why) +
                              ": its connection is closed");
      }
      const auto after = identities_->snapshot()->identities().size();
      if (after != before) {
        out.changes.push_back("identities: " + std::to_string(before) + " -> " +
                              std::to_string(after));
      }
    } else {
      // Only when the file changed again after it was validated a moment ago.
      for (const auto& issue : issues)
        out.warnings.push_back(issue.to_string());
      out.warnings.push_back("identities file changed during the reload; previous identities kept");
    }
  }
  if (scope_sync_) {
    // An operator who reloads after changing IoT Hub's scope wants it now, not within the hour.
    spdlog::info("reload: device scope synchronising now");
    scope_sync_->refresh_now();
  }
  if (authenticator_) {
    if (auto r = authenticator_->reload_trust_bundle(); !r) {
      out.warnings.push_back("trust bundle not reloaded (" + r.error().message() +
                             "); the previous one stays in use");
    }
  }

  if (auto routes = describe_route_changes(config_->routes, fresh.routes)) {
    out.changes.push_back(*routes);
  }
  forwarders_->update_routes(*staged.routes);
  ingress_->set_routes(std::move(staged.routes));

  if (auto limits = describe_live_limit_changes(limits_, fresh.limits)) {
    out.changes.push_back(*limits);
  }
  connection_budget_.set_max(fresh.limits.max_connections);
  limits_ = fresh.limits;
  config_ = std::move(staged.config);
}

ReloadOutcome Gateway::reload(std::string_view trigger) {
  state_ = State::reloading;
  notifier_.reloading();
  spdlog::info("{}: reloading {}", trigger, config_->source_file.string());
  ReloadOutcome out;
  out.at = clock_.now();
  out.trigger = std::string(trigger);
  if (auto staged = stage_reload(out)) apply_reload(std::move(*staged), out);
  for (const auto& w : out.warnings)
    spdlog::warn("reload: {}", w);
  for (const auto& e : out.errors)
    spdlog::error("reload: {}", e);
  if (!out.applied) {
    spdlog::error(
        "reload rejected ({} errors); the running configuration, identities, routes and "
        "certificates are unchanged",
        out.errors.size());
  } else {
    for (const auto& c : out.changes)
      spdlog::info("reload: {}", c);
    spdlog::info("configuration reloaded ({} changes)", out.changes.size());
  }
  last_reload_ = out;
  state_ = State::running;
  notifier_.ready();
  return out;
}

}  // namespace edgehub::app
