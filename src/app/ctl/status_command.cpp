// edgehubctl status: what the running edgehubd reports on its admin socket (version, uptime,
// upstream, connections, queues, certificates, last reload), as a table for people or, with
// --json, the daemon's document unchanged for machines.

#include <cmath>
#include <cstdio>
#include <string>

#include "app/ctl/admin_client.hpp"
#include "app/ctl/commands.hpp"

namespace edgehub::app::ctl {
namespace {

constexpr auto kStatusTimeout = std::chrono::seconds(5);

void print_status_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: edgehubctl status [--config PATH] [--admin-socket PATH] [--json]\n\n"
               "Asks the running edgehubd on its admin socket ([gateway] admin_socket of the\n"
               "configuration, default %s; --admin-socket overrides) for\n"
               "its version, uptime, upstream state, connections by protocol and identity,\n"
               "queue lengths, certificate expiry and the outcome of the last reload.\n"
               "--json prints the daemon's JSON document as is.\n\n"
               "  --config PATH        configuration file (default %s)\n"
               "  --admin-socket PATH  the daemon's admin socket\n"
               "  --json               machine-readable output\n\n"
               "%s",
               "/run/edgehubd/admin.sock", kDefaultConfig, kExitCodesHelp);
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "edgehubctl status: %s\n\n", message.c_str());
  print_status_usage(stderr);
  return kExitUsage;
}

std::string text(const nlohmann::json& j, const char* key, const char* fallback = "-") {
  if (!j.is_object() || !j.contains(key)) return fallback;
  const auto& v = j.at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return fallback;
  return v.dump();
}

std::int64_t integer(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_number()) return 0;
  return j.at(key).get<std::int64_t>();
}

std::string duration(double seconds) {
  const bool past = seconds < 0;
  auto s = static_cast<std::int64_t>(std::llround(std::fabs(seconds)));
  const auto days = s / 86400;
  const auto hours = (s % 86400) / 3600;
  const auto minutes = (s % 3600) / 60;
  char buf[64];
  if (days > 0) {
    std::snprintf(buf, sizeof buf, "%lldd %lldh", static_cast<long long>(days),
                  static_cast<long long>(hours));
  } else if (hours > 0) {
    std::snprintf(buf, sizeof buf, "%lldh %02lldm", static_cast<long long>(hours),
                  static_cast<long long>(minutes));
  } else {
    std::snprintf(buf, sizeof buf, "%lldm %02llds", static_cast<long long>(minutes),
                  static_cast<long long>(s % 60));
  }
  return past ? std::string(buf) + " ago" : std::string(buf);
}

void print_certificate(const char* label, const nlohmann::json& c, const std::string& extra) {
  if (!c.is_object()) return;
  const double left = c.value("expires_in_seconds", 0.0);
  std::printf("  %-12s expires %s (%s %s)%s\n", label, text(c, "not_after").c_str(),
              left < 0 ? "EXPIRED" : "in", duration(left).c_str(), extra.c_str());
}

void print_table(const nlohmann::json& s) {
  std::printf("edgehubd %s, %s for %s (pid %lld)\n", text(s, "version").c_str(),
              text(s, "state").c_str(), duration(s.value("uptime_seconds", 0.0)).c_str(),
              static_cast<long long>(integer(s, "pid")));
  std::printf("  %-12s %s\n", "config", text(s, "config_file").c_str());
  std::printf("  %-12s %s (device %s of %s)\n", "gateway", text(s, "hostname").c_str(),
              text(s, "device_id").c_str(), text(s, "iothub_hostname").c_str());
  const auto& up = s.value("upstream", nlohmann::json::object());
  std::string upstream = text(up, "state");
  if (up.contains("protocol")) {
    upstream += " (" + text(up, "protocol") + " to " + text(up, "hub") + ")";
  }
  std::printf("  %-12s %s\n", "upstream", upstream.c_str());

  const auto& listeners = s.value("listeners", nlohmann::json::object());
  const auto& conns = s.value("connections", nlohmann::json::object());
  const auto& by_protocol = conns.value("by_protocol", nlohmann::json::object());
  std::printf("\nConnections: %lld\n", static_cast<long long>(integer(conns, "total")));
  std::printf("  %-10s %-26s %s\n", "PROTOCOL", "LISTENING ON", "CONNECTIONS");
  for (const char* name : {"mqtt", "amqp", "https"}) {
    std::printf("  %-10s %-26s %lld\n", name, text(listeners, name, "off").c_str(),
                static_cast<long long>(integer(by_protocol, name)));
  }
  const auto& identities = conns.value("identities", nlohmann::json::array());
  std::printf("\nConnected identities: %lld\n",
              static_cast<long long>(integer(conns, "identities_connected")));
  if (!identities.empty()) std::printf("  %-40s %s\n", "IDENTITY", "KIND");
  for (const auto& i : identities) {
    std::printf("  %-40s %s\n", text(i, "id").c_str(), text(i, "kind").c_str());
  }

  const auto& queues = s.value("queues", nlohmann::json::array());
  std::printf("\nQueues: %zu\n", queues.size());
  if (!queues.empty()) std::printf("  %-40s %10s %10s\n", "ENDPOINT", "PRIORITY", "LENGTH");
  for (const auto& q : queues) {
    std::printf("  %-40s %10lld %10lld\n", text(q, "endpoint").c_str(),
                static_cast<long long>(integer(q, "priority")),
                static_cast<long long>(integer(q, "length")));
  }

  const auto& certs = s.value("certificates", nlohmann::json::object());
  std::printf("\nCertificates:\n");
  if (certs.contains("server")) {
    print_certificate("server", certs.at("server"),
                      ", serial " + text(certs.at("server"), "serial") + ", renewal at " +
                          text(certs.at("server"), "renewal_at"));
  }
  if (certs.contains("edge_ca")) {
    const auto& ca = certs.at("edge_ca");
    print_certificate(
        "Edge CA", ca,
        ", " + text(ca, "common_name") +
            (ca.value("quickstart", false) ? ", quickstart (not for production)" : ""));
  }

  const auto& reload = s.value("last_reload", nlohmann::json());
  if (reload.is_object()) {
    std::printf("\nLast reload: %s by %s, %s\n", text(reload, "at").c_str(),
                text(reload, "trigger").c_str(),
                reload.value("applied", false) ? "applied" : "REJECTED (nothing changed)");
    for (const auto& e : reload.value("errors", nlohmann::json::array()))
      std::printf("  error: %s\n", e.get<std::string>().c_str());
  } else {
    std::printf("\nLast reload: none since start\n");
  }
}

}  // namespace

int run_status(Args args) {
  DaemonOptions o;
  const auto error = parse_daemon_options(args, o);
  if (o.help) {
    print_status_usage(stdout);
    return kExitOk;
  }
  if (error) return usage_error(*error);
  const auto socket = locate_admin_socket(o.admin_socket, o.config, o.config_named, "status");
  if (!socket) return kExitConfig;
  const auto reply = admin_request(*socket, "status", kStatusTimeout);
  if (!reply.document) {
    std::fprintf(stderr, "edgehubctl status: %s\n", reply.error.c_str());
    return kExitUnavailable;
  }
  if (o.json) {
    std::printf("%s\n", reply.document->dump(2).c_str());
  } else {
    print_table(*reply.document);
  }
  return kExitOk;
}

}  // namespace edgehub::app::ctl
