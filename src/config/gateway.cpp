// The [gateway] table: edgehubd's own settings. Unlike the aziot tables, an unknown key here is
// an error, because it is almost always a typo of a key that then silently keeps its default.

#include <algorithm>

#include "config/sections.hpp"
#include "edgehub/config/parse.hpp"

namespace edgehub::config::detail {
namespace {

constexpr std::uint32_t kMaxCertDays = 3650;
constexpr std::int64_t kMaxDrainSecs = 3600;
constexpr std::int64_t kMaxDiskMb = std::int64_t{1} << 30;  // 1 PiB: beyond that it is a typo
// A device waits this long for its acknowledgement at most; beyond 100 ms it is a typo.
constexpr std::uint32_t kMaxCommitWindowMs = 100;
constexpr std::uint32_t kMaxMessageBytes = 268435455;  // MQTT's largest remaining length
constexpr std::uint8_t kMaxPriority = 9;

struct Endpoint {
  std::string key;
  HostPort address;
  int line;
};

bool is_wildcard(std::string_view host) {
  return host == "0.0.0.0" || host == "::";
}

bool overlaps(const HostPort& a, const HostPort& b) {
  if (a.port == 0 || a.port != b.port) return false;
  return a.host == b.host || is_wildcard(a.host) || is_wildcard(b.host);
}

void read_proxy(Reader& r, const Field& f, GatewayConfig& out) {
  const auto text = r.string(f);
  if (!text) return;
  if (text->empty()) {
    out.proxy.reset();
    return;
  }
  // The proxy URL may carry a password: messages describe it, never quote it.
  const std::string fix = "write proxy = \"http://[user:password@]host:port\"";
  std::string_view rest = *text;
  if (!rest.starts_with("http://")) {
    r.error(f, "only http:// proxy URLs are supported", fix);
    return;
  }
  rest.remove_prefix(7);
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  if (rest.ends_with('/')) rest.remove_suffix(1);
  const auto hp = parse_host_port(rest);
  if (!hp || hp->port == 0 || rest.starts_with(':')) {
    r.error(f, "the proxy URL needs a host and a port from 1 to 65535", fix);
    return;
  }
  out.proxy = *text;
}

void read_listen(Reader& r, const toml::table& t, const std::string& prefix, GatewayConfig& out,
                 std::vector<Endpoint>& endpoints) {
  r.check_keys(t, prefix, {"mqtt", "amqp", "https"}, Severity::error);
  const std::pair<const char*, std::optional<HostPort>*> slots[] = {
      {"mqtt", &out.listen.mqtt}, {"amqp", &out.listen.amqp}, {"https", &out.listen.https}};
  for (const auto& [name, slot] : slots) {
    const auto f = Reader::field(t, prefix, name);
    if (f) r.endpoint(f, true, *slot);
    if (*slot) endpoints.push_back({prefix + "." + name, **slot, f ? f.line : 0});
  }
}

void read_store(Reader& r, const toml::table& t, const std::string& prefix, StoreConfig& out) {
  r.check_keys(t, prefix,
               {"time_to_live_secs", "max_disk_mb", "when_full", "sync", "commit_window_ms"},
               Severity::error);
  if (const auto f = Reader::field(t, prefix, "time_to_live_secs")) {
    if (auto v = r.u32(f, 1)) out.time_to_live_secs = *v;
  }
  if (const auto f = Reader::field(t, prefix, "max_disk_mb")) {
    if (auto v = r.integer(f, 1, kMaxDiskMb)) out.max_disk_mb = static_cast<std::uint64_t>(*v);
  }
  if (const auto f = Reader::field(t, prefix, "when_full")) {
    if (auto v = r.enumeration<WhenFull>(
            f, {{"refuse", WhenFull::refuse}, {"drop_oldest", WhenFull::drop_oldest}},
            {"refuse", "drop_oldest"})) {
      out.when_full = *v;
    }
  }
  if (const auto f = Reader::field(t, prefix, "sync")) {
    if (auto v = r.enumeration<StoreSync>(
            f, {{"full", StoreSync::full}, {"normal", StoreSync::normal}}, {"full", "normal"})) {
      out.sync = *v;
    }
  }
  if (const auto f = Reader::field(t, prefix, "commit_window_ms")) {
    if (auto v = r.u32(f, 0, kMaxCommitWindowMs)) out.commit_window_ms = *v;
  }
}

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

void read_routes(Reader& r, const toml::table& t, const std::string& prefix,
                 std::vector<RouteSpec>& out) {
  const std::string shape =
      "a route is a string, or a table { route = \"FROM ... INTO ...\", priority = 0-9, "
      "time_to_live_secs = N }";
  struct Ordered {
    RouteSpec spec;
    int column;
  };
  std::vector<Ordered> routes;
  for (const auto& [k, v] : t) {
    const auto f = Reader::field(t, prefix, k.str());
    if (k.str().empty()) {
      r.error(f, "a route needs a name", "write name = \"FROM ... INTO ...\"");
      continue;
    }
    RouteSpec spec;
    spec.name = std::string(k.str());
    spec.line = f.line;
    bool ok = true;
    if (const auto* s = v.as_string()) {
      spec.text = s->get();
    } else if (const auto* rt = v.as_table()) {
      r.check_keys(*rt, f.key, {"route", "priority", "time_to_live_secs"}, Severity::error);
      const auto route = Reader::field(*rt, f.key, "route");
      if (!route) {
        r.error(f.line, f.key + ".route", "missing; " + shape,
                "add route = \"FROM /messages/* INTO $upstream\"");
        ok = false;
      } else if (auto text = r.string(route)) {
        spec.text = std::move(*text);
      } else {
        ok = false;
      }
      if (const auto p = Reader::field(*rt, f.key, "priority")) {
        if (auto value = r.integer(p, 0, kMaxPriority)) {
          spec.priority = static_cast<std::uint8_t>(*value);
        } else {
          ok = false;
        }
      }
      if (const auto ttl = Reader::field(*rt, f.key, "time_to_live_secs")) {
        if (auto value = r.u32(ttl, 0)) {
          spec.time_to_live_secs = *value;
        } else {
          ok = false;
        }
      }
    } else {
      r.error(f, "expected a string or a table, got " + std::string(type_name(v)) + "; " + shape,
              "write " + spec.name + " = \"FROM /messages/* INTO $upstream\"");
      continue;
    }
    if (ok && blank(spec.text)) {
      r.error(f, "the route is empty",
              "write the route, e.g. \"FROM /messages/* INTO $upstream\", "
              "or remove it");
      continue;
    }
    if (ok) routes.push_back({std::move(spec), f.column});
  }
  // toml++ keeps keys sorted; the route order an operator sees is the file's.
  std::stable_sort(routes.begin(), routes.end(), [](const Ordered& a, const Ordered& b) {
    return a.spec.line != b.spec.line ? a.spec.line < b.spec.line : a.column < b.column;
  });
  for (auto& o : routes)
    out.push_back(std::move(o.spec));
}

void read_limits(Reader& r, const toml::table& t, const std::string& prefix, LimitsConfig& out) {
  r.check_keys(t, prefix,
               {"max_connections", "max_connections_per_listener", "max_message_bytes",
                "max_inflight_per_connection", "max_outbound_queue", "tls_handshake_timeout_ms",
                "connect_timeout_ms", "max_token_lifetime_secs"},
               Severity::error);
  const std::pair<const char*, std::uint32_t*> counts[] = {
      {"max_connections", &out.max_connections},
      {"max_connections_per_listener", &out.max_connections_per_listener},
      {"max_inflight_per_connection", &out.max_inflight_per_connection},
      {"max_outbound_queue", &out.max_outbound_queue}};
  for (const auto& [name, slot] : counts) {
    if (const auto f = Reader::field(t, prefix, name)) {
      if (auto v = r.u32(f, 1)) *slot = *v;
    }
  }
  if (const auto f = Reader::field(t, prefix, "max_message_bytes")) {
    if (auto v = r.u32(f, 1, kMaxMessageBytes)) out.max_message_bytes = *v;
  }
  const std::pair<const char*, std::chrono::milliseconds*> timeouts[] = {
      {"tls_handshake_timeout_ms", &out.tls_handshake_timeout},
      {"connect_timeout_ms", &out.connect_timeout}};
  for (const auto& [name, slot] : timeouts) {
    if (const auto f = Reader::field(t, prefix, name)) {
      if (auto v = r.u32(f, 1)) *slot = std::chrono::milliseconds(*v);
    }
  }
  if (const auto f = Reader::field(t, prefix, "max_token_lifetime_secs")) {
    if (auto v = r.u32(f, 0)) out.max_token_lifetime = std::chrono::seconds(*v);
  }
}

void check_duplicate_ports(Reader& r, std::vector<Endpoint> endpoints) {
  std::stable_sort(endpoints.begin(), endpoints.end(),
                   [](const Endpoint& a, const Endpoint& b) { return a.line < b.line; });
  for (std::size_t i = 1; i < endpoints.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (!overlaps(endpoints[i].address, endpoints[j].address)) continue;
      const auto& earlier = endpoints[j];
      const std::string where =
          earlier.line > 0 ? " (line " + std::to_string(earlier.line) + ")" : " (its default)";
      r.error(endpoints[i].line, endpoints[i].key,
              "port " + std::to_string(endpoints[i].address.port) + " is already used by " +
                  earlier.key + where,
              "choose another port for one of them, or \"\" to disable a listener");
      break;
    }
  }
}

std::optional<std::string> read_device_id(Reader& r, const Field& f) {
  auto text = r.non_empty_string(f);
  if (text && !is_valid_device_id(*text)) {
    r.error(f,
            "\"" + *text +
                "\" is not a valid IoT Hub device id (1-128 letters, digits and "
                "- . % _ * ? ! ( ) , : = @ $ ')",
            "use the gateway's device id exactly as registered in IoT Hub");
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> read_hub_name(Reader& r, const Field& f) {
  auto text = r.non_empty_string(f);
  if (text && !is_valid_host(*text)) {
    r.error(f, "\"" + *text + "\" is not a valid host name",
            "write iothub_hostname = \"<hub>.azure-devices.net\" (no port here)");
    return std::nullopt;
  }
  return text;
}

// A Unix socket path must fit sockaddr_un::sun_path (108 bytes with its terminating NUL).
void read_admin_socket(Reader& r, const Field& f, GatewayConfig& out) {
  constexpr std::size_t kMaxSocketPath = 107;
  if (f.node->is_string() && f.node->as_string()->get().empty()) {
    out.admin_socket.reset();
    return;
  }
  auto path = r.absolute_path(f);
  if (!path) return;
  if (path->string().size() > kMaxSocketPath) {
    r.error(f,
            "the path is " + std::to_string(path->string().size()) +
                " bytes; a Unix socket path may have at most 107",
            "choose a shorter path, e.g. \"/run/edgehubd/admin.sock\"");
    return;
  }
  out.admin_socket = std::move(*path);
}

// The scalar keys of [gateway]; sub-tables and the identity are read by read_gateway.
void read_settings(Reader& r, const toml::table& t, GatewayConfig& out,
                   std::vector<Endpoint>& endpoints) {
  const std::string prefix = "gateway";
  r.check_keys(t, prefix,
               {"state_dir", "identities", "upstream_protocol", "authentication_mode", "metrics",
                "admin_socket", "proxy", "server_cert_extra_sans", "server_cert_days",
                "server_cert_validity_secs", "drain_timeout_secs", "upstream_token_lifetime_secs",
                "log_level", "device_id", "iothub_hostname", "listen", "store", "routes", "limits"},
               Severity::error);
  if (const auto f = Reader::field(t, prefix, "state_dir")) {
    if (auto p = r.absolute_path(f)) out.state_dir = std::move(*p);
  }
  if (const auto f = Reader::field(t, prefix, "identities")) {
    if (f.node->is_string() && f.node->as_string()->get().empty()) {
      out.identities.reset();
    } else {
      out.identities = r.file_uri(f);
    }
  }
  if (const auto f = Reader::field(t, prefix, "upstream_protocol")) {
    if (auto v = r.enumeration<UpstreamProtocol>(f,
                                                 {{"amqp", UpstreamProtocol::amqp},
                                                  {"amqpws", UpstreamProtocol::amqpws},
                                                  {"mqtt", UpstreamProtocol::mqtt},
                                                  {"mqttws", UpstreamProtocol::mqttws}},
                                                 {"amqp", "amqpws", "mqtt", "mqttws"})) {
      out.upstream_protocol = *v;
    }
  }
  if (const auto f = Reader::field(t, prefix, "authentication_mode")) {
    if (auto v = r.enumeration<AuthenticationMode>(
            f,
            {{"scope", AuthenticationMode::scope},
             {"cloud_and_scope", AuthenticationMode::cloud_and_scope},
             {"cloud", AuthenticationMode::cloud}},
            {"scope", "cloud_and_scope", "cloud"})) {
      out.authentication_mode = *v;
    }
  }
  const auto metrics = Reader::field(t, prefix, "metrics");
  if (metrics) r.endpoint(metrics, true, out.metrics);
  if (out.metrics) endpoints.push_back({"gateway.metrics", *out.metrics, metrics.line});
  if (const auto f = Reader::field(t, prefix, "admin_socket")) read_admin_socket(r, f, out);
  if (const auto f = Reader::field(t, prefix, "proxy")) read_proxy(r, f, out);
  if (const auto f = Reader::field(t, prefix, "server_cert_extra_sans")) {
    if (const auto* arr = f.node->as_array()) {
      for (std::size_t i = 0; i < arr->size(); ++i) {
        Field item{arr->get(i), f.key + "[" + std::to_string(i) + "]",
                   Reader::line_of(*arr->get(i)), 0};
        const auto san = r.non_empty_string(item);
        if (!san) continue;
        if (!is_valid_host(*san)) {
          r.error(item, "\"" + *san + "\" is neither a DNS name nor an IP address",
                  "list DNS names and IP addresses only, e.g. [\"gw\", \"192.168.1.10\"]");
          continue;
        }
        out.server_cert_extra_sans.push_back(*san);
      }
    } else {
      r.error(f, "expected an array of strings, got " + std::string(type_name(*f.node)),
              "write server_cert_extra_sans = [\"name\", \"10.0.0.1\"]");
    }
  }
  if (const auto f = Reader::field(t, prefix, "server_cert_days")) {
    if (auto v = r.u32(f, 1, kMaxCertDays)) out.server_cert_days = *v;
  }
  if (const auto f = Reader::field(t, prefix, "server_cert_validity_secs")) {
    if (auto v = r.u32(f, 10, kMaxCertDays * 86400U)) {
      out.server_cert_validity = std::chrono::seconds(*v);
    }
  }
  if (const auto f = Reader::field(t, prefix, "upstream_token_lifetime_secs")) {
    // Below 10 s a renewal would be due before the put-token's answer could come back.
    if (auto v = r.u32(f, 10, 24 * 3600)) out.upstream_token_lifetime = std::chrono::seconds(*v);
  }
  if (const auto f = Reader::field(t, prefix, "drain_timeout_secs")) {
    if (auto v = r.integer(f, 0, kMaxDrainSecs)) out.drain_timeout = std::chrono::seconds(*v);
  }
  if (const auto f = Reader::field(t, prefix, "log_level")) {
    if (auto v = r.enumeration<std::string_view>(
            f,
            {{"trace", "trace"},
             {"debug", "debug"},
             {"info", "info"},
             {"warn", "warn"},
             {"warning", "warn"},
             {"error", "error"},
             {"critical", "critical"},
             {"off", "off"}},
            {"trace", "debug", "info", "warn", "error", "critical", "off"})) {
      out.log_level = std::string(*v);
    }
  }
}

}  // namespace

void read_gateway(Reader& r, const toml::table& root, bool provisioning_declared,
                  GatewayConfig& out) {
  const toml::table* gw = nullptr;
  int gw_line = 1;
  if (const auto f = Reader::field(root, "", "gateway")) {
    gw = r.table(f);
    gw_line = f.line;
    if (gw == nullptr) return;  // its type error says it all
  }
  std::vector<Endpoint> endpoints;
  Field device_field;
  Field hub_field;
  if (gw != nullptr) {
    const toml::table& t = *gw;
    const std::string prefix = "gateway";
    read_settings(r, t, out, endpoints);
    device_field = Reader::field(t, prefix, "device_id");
    hub_field = Reader::field(t, prefix, "iothub_hostname");
    if (const auto f = Reader::field(t, prefix, "listen")) {
      if (const auto* lt = r.table(f)) read_listen(r, *lt, f.key, out, endpoints);
    } else {
      read_listen(r, toml::table{}, "gateway.listen", out, endpoints);
    }
    if (const auto f = Reader::field(t, prefix, "store")) {
      if (const auto* st = r.table(f)) read_store(r, *st, f.key, out.store);
    }
    if (const auto f = Reader::field(t, prefix, "routes")) {
      if (const auto* rt = r.table(f)) read_routes(r, *rt, f.key, out.routes);
    }
    if (const auto f = Reader::field(t, prefix, "limits")) {
      if (const auto* lt = r.table(f)) read_limits(r, *lt, f.key, out.limits);
    }
  }
  check_duplicate_ports(r, std::move(endpoints));

  // The gateway's identity: [provisioning] wins; [gateway] device_id / iothub_hostname serve a
  // gateway without upstream and must agree with [provisioning] when both are given.
  const auto gw_device = device_field ? read_device_id(r, device_field) : std::nullopt;
  const auto gw_hub = hub_field ? read_hub_name(r, hub_field) : std::nullopt;
  if (out.provisioning) {
    out.device_id = out.provisioning->device_id;
    out.iothub_hostname = out.provisioning->iothub_hostname;
    if (gw_device && *gw_device != out.device_id) {
      r.error(device_field, "differs from the device id in [provisioning]",
              "remove [gateway] device_id; [provisioning] defines it");
    }
    if (gw_hub && *gw_hub != out.iothub_hostname) {
      r.error(hub_field, "differs from the IoT Hub host name in [provisioning]",
              "remove [gateway] iothub_hostname; [provisioning] defines it");
    }
    return;
  }
  if (provisioning_declared) return;  // its own errors already explain the problem
  if (!device_field) {
    r.error(gw_line, "gateway.device_id",
            "missing; without [provisioning] the gateway's device id must be set here",
            "add a [provisioning] table (connection_string = \"HostName=...;DeviceId=...;"
            "SharedAccessKey=...\"), or set device_id and iothub_hostname in [gateway]");
  } else if (gw_device) {
    out.device_id = *gw_device;
  }
  if (!hub_field) {
    if (device_field) {
      r.error(gw_line, "gateway.iothub_hostname",
              "missing; without [provisioning] the IoT Hub host name must be set here",
              "add iothub_hostname = \"<hub>.azure-devices.net\" to [gateway]");
    }
  } else if (gw_hub) {
    out.iothub_hostname = *gw_hub;
  }
}

}  // namespace edgehub::config::detail

namespace edgehub::config {

std::string_view to_string(UpstreamProtocol p) noexcept {
  switch (p) {
    case UpstreamProtocol::amqp:
      return "amqp";
    case UpstreamProtocol::amqpws:
      return "amqpws";
    case UpstreamProtocol::mqtt:
      return "mqtt";
    case UpstreamProtocol::mqttws:
      return "mqttws";
  }
  return "unknown";
}

}  // namespace edgehub::config
