#pragma once

// The typed, immutable configuration snapshot (design.md §4, style P5). Parsed once from
// /etc/aziot/config.toml by load_config(); each module receives the slice it needs. A reload
// builds a new snapshot and swaps a shared_ptr<const GatewayConfig>.
//
// docs/configuration.md documents every key, its type, default and effect.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgehub::config {

/// A "host:port" listen or connect address; host may be an IPv4/IPv6 literal (IPv6 in brackets in
/// the file, stored without them) or a name.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const;  ///< Brackets IPv6 literals again.
  friend bool operator==(const HostPort&, const HostPort&) = default;
};

enum class UpstreamProtocol { amqp, amqpws, mqtt, mqttws };
/// The `upstream_protocol` value that selects `p` ("amqp", "amqpws", "mqtt", "mqttws").
std::string_view to_string(UpstreamProtocol p) noexcept;
enum class AuthenticationMode { scope, cloud_and_scope, cloud };
enum class StoreSync { full, normal };
enum class WhenFull { refuse, drop_oldest };
enum class ProvisioningAuth { sas, x509 };

/// [provisioning], manual source, in either aziot form (connection_string, or iothub_hostname +
/// device_id + [provisioning.authentication]).
struct ProvisioningConfig {
  std::string iothub_hostname;               ///< Host name only; used in token audiences.
  std::optional<std::uint16_t> iothub_port;  ///< A non-standard port, for dialing only.
  std::string device_id;
  ProvisioningAuth method = ProvisioningAuth::sas;
  std::string sas_key;  ///< Base64 device key (secret: never logged). Empty for x509.
  std::filesystem::path identity_cert;  ///< x509 only.
  std::filesystem::path identity_pk;    ///< x509 only.
  /// Base64 key of the gateway's `$edgeHub` module identity used to authenticate children
  /// upstream on their behalf ([provisioning] edgehub_module_key). Empty: not configured.
  std::string edgehub_module_key;
};

/// [edge_ca]: cert + pk files, or a quickstart CA generated in state_dir.
struct EdgeCaConfig {
  std::optional<std::filesystem::path> cert;
  std::optional<std::filesystem::path> pk;
  std::optional<std::uint32_t> auto_generated_expiry_days;
};

/// [gateway.listen]; an absent endpoint is a disabled listener.
struct ListenConfig {
  std::optional<HostPort> mqtt = HostPort{"0.0.0.0", 8883};
  std::optional<HostPort> amqp = HostPort{"0.0.0.0", 5671};
  std::optional<HostPort> https = HostPort{"0.0.0.0", 443};
};

/// [gateway.store]
struct StoreConfig {
  std::uint32_t time_to_live_secs = 7200;  ///< default TTL for routes that set none
  std::uint64_t max_disk_mb = 2048;
  WhenFull when_full = WhenFull::refuse;
  StoreSync sync = StoreSync::full;
  /// Under load, how long a commit waits for more messages to share its fsync (docs/store.md).
  std::uint32_t commit_window_ms = 3;
};

/// One entry of [gateway.routes]: a string, or { route, priority, time_to_live_secs }.
struct RouteSpec {
  std::string name;
  std::string text;
  std::optional<std::uint8_t> priority;            ///< 0 (highest) to 9; absent = lowest
  std::optional<std::uint32_t> time_to_live_secs;  ///< absent or 0 = [gateway.store] default
  int line = 0;                                    ///< where it was declared, for messages
};

/// [gateway.limits]: every bound has a documented default.
struct LimitsConfig {
  std::uint32_t max_connections = 10000;  ///< all listeners together
  std::uint32_t max_connections_per_listener = 10000;
  std::uint32_t max_message_bytes = 256 * 1024;    ///< IoT Hub's D2C limit
  std::uint32_t max_inflight_per_connection = 64;  ///< unacknowledged QoS 1 / AMQP deliveries
  std::uint32_t max_outbound_queue = 1000;         ///< messages queued towards one session
  std::chrono::milliseconds tls_handshake_timeout{10000};
  std::chrono::milliseconds connect_timeout{30000};  ///< TLS accepted -> protocol CONNECT/OPEN
  /// A SAS token may expire at most this far after it is presented (0: no limit). The SDKs mint
  /// 1 h tokens; a token valid for decades is a stolen credential that never stops working.
  std::chrono::seconds max_token_lifetime{std::chrono::hours(24 * 365)};
};

/// Where the daemon serves its admin socket unless [gateway] admin_socket says otherwise: the
/// systemd unit's RuntimeDirectory (0750, group edgehubd).
inline constexpr const char* kDefaultAdminSocket = "/run/edgehubd/admin.sock";

struct GatewayConfig {
  std::filesystem::path source_file;  ///< the file this snapshot came from

  // aziot top-level keys
  std::string hostname;                        ///< server-cert DNS name; GatewayHostName
  std::optional<std::string> parent_hostname;  ///< nested gateway: upstream goes to the parent
  std::optional<std::filesystem::path> trust_bundle_cert;
  std::optional<ProvisioningConfig> provisioning;  ///< absent: no upstream
  EdgeCaConfig edge_ca;

  /// The gateway's own device id and IoT Hub host name: from [provisioning], else from
  /// [gateway] device_id / iothub_hostname. Always set in a valid config.
  std::string device_id;
  std::string iothub_hostname;

  // [gateway]
  std::filesystem::path state_dir = "/var/lib/edgehubd";
  std::optional<std::filesystem::path> identities;
  /// AMQP by default, as edgeHub: one connection carries every identity.
  UpstreamProtocol upstream_protocol = UpstreamProtocol::amqp;
  /// [gateway] upstream_token_lifetime_secs: how long the SAS tokens the gateway mints for its
  /// upstream connections live (edgeHub: 1 h); renewed a fifth of it (at most 5 min) early.
  std::chrono::seconds upstream_token_lifetime{3600};
  AuthenticationMode authentication_mode = AuthenticationMode::scope;
  std::optional<HostPort> metrics = HostPort{"127.0.0.1", 9600};  ///< absent: disabled
  /// [gateway] admin_socket: the Unix socket `edgehubctl status` and `config apply` talk to
  /// (mode 0660); absent: disabled.
  std::optional<std::filesystem::path> admin_socket = std::filesystem::path(kDefaultAdminSocket);
  std::optional<std::string> proxy;  ///< http://[user:pass@]host:port for WebSocket upstream
  std::vector<std::string> server_cert_extra_sans;  ///< DNS names and IP addresses
  std::uint32_t server_cert_days = 90;
  /// [gateway] server_cert_validity_secs: overrides server_cert_days with a validity in seconds
  /// (at least 10), for tests of renewal and for deployments that want very short-lived certs.
  std::optional<std::chrono::seconds> server_cert_validity;
  std::chrono::seconds drain_timeout{10};  ///< graceful shutdown bound
  std::string log_level = "info";

  ListenConfig listen;
  StoreConfig store;
  std::vector<RouteSpec> routes;
  LimitsConfig limits;

  /// Top-level tables of the aziot file that edgehubd does not use ([agent], [moby_runtime],
  /// [aziot_keys], ...), in file order, so the daemon can log them at debug level.
  std::vector<std::string> ignored_tables;
};

}  // namespace edgehub::config
