#pragma once

// The gateway's TLS server certificate (design.md §5): issued in-process from the Edge CA, kept
// in state_dir, reused across restarts while it fits, renewed at 80% of its lifetime or when the
// Edge CA changes. The TLS layer (net) takes a ServerIdentity and builds its SSL_CTX from it; this
// module never touches SSL_CTX.
//
// Time is always passed in (style P7). Functions doing file I/O say so; none throws.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/ops/metrics.hpp"
#include "edgehub/pki/edge_ca.hpp"

namespace edgehub::pki {

/// What the TLS layer serves. Holds a private key (PEM): do not log it.
struct ServerIdentity {
  std::string cert_pem;   ///< the server certificate alone
  std::string chain_pem;  ///< server certificate, then the Edge CA chain: what handshakes send
  std::string key_pem;    ///< EC P-256 (RSA 2048 under an RSA Edge CA), PKCS#8
  SystemTime not_before;
  SystemTime not_after;
  std::string serial_hex;
  std::vector<std::string> subject_alt_names;  ///< normalised, sorted (see ServerCertPolicy::sans)
};

struct ServerCertPolicy {
  std::string hostname;                 ///< config `hostname`: CN and first DNS SAN
  std::vector<std::string> extra_sans;  ///< [gateway] server_cert_extra_sans: DNS names or IPs
  /// [gateway] server_cert_days, or server_cert_validity_secs when set (tests use seconds or
  /// minutes). Always capped by the Edge CA's own expiry.
  std::chrono::seconds validity = std::chrono::hours(24 * 90);

  static ServerCertPolicy from_config(const config::GatewayConfig& config);

  /// hostname plus extra_sans, normalised (DNS names lower-case, IPs in canonical text form),
  /// sorted, without duplicates: two policies want the same certificate iff these are equal.
  std::vector<std::string> sans() const;
};

/// 80% into [not_before, not_after): when a certificate should be replaced.
SystemTime renewal_time(SystemTime not_before, SystemTime not_after);
SystemTime renewal_time(const ServerIdentity& identity);

/// Issues a new server certificate: new EC P-256 key (RSA 2048 when the Edge CA's key is RSA), SANs
/// from `policy` (IP addresses detected), serverAuth EKU, digitalSignature keyUsage, CA:FALSE,
/// random serial, valid from shortly before `now` for policy.validity but never past the Edge CA's
/// notAfter. No I/O. Errors: invalid_name (a SAN or hostname unusable), certificate_expired (the
/// Edge CA has no validity left), crypto_failure.
core::Result<ServerIdentity> issue_server_cert(const EdgeCa& ca, const ServerCertPolicy& policy,
                                               SystemTime now, std::string& why);

/// Whether `current` must be replaced: returns the reason ("SAN set changed", "past renewal
/// time", "issued by another Edge CA", "key type differs from the Edge CA's", ...), or nullopt
/// to keep it. Pure: no I/O.
std::optional<std::string> reissue_reason(const ServerIdentity& current, const EdgeCa& ca,
                                          const ServerCertPolicy& policy, SystemTime now);

/// The persisted certificate files.
struct ServerCertPaths {
  std::filesystem::path cert;  ///< state_dir/certs/server.cert.pem (0644, chain)
  std::filesystem::path key;   ///< state_dir/certs/server.key.pem (0600)
  static ServerCertPaths in(const std::filesystem::path& state_dir);
};

struct ServerCertOutcome {
  ServerIdentity identity;
  bool reused = false;  ///< true: loaded from state_dir; false: newly issued and written
  std::string reason;   ///< why a new certificate was issued (empty when reused)
};

/// Loads the persisted certificate and reuses it unless reissue_reason() (or damage, a missing or
/// group-readable key) says otherwise; then issues and writes a new one atomically. File I/O.
/// Errors: as issue_server_cert, write_failed.
core::Result<ServerCertOutcome> ensure_server_cert(const std::filesystem::path& state_dir,
                                                   const EdgeCa& ca, const ServerCertPolicy& policy,
                                                   SystemTime now, std::string& why);

/// Metrics of the server certificate's lifecycle (style P10), registered by app/.
struct ServerCertStats {
  ops::Counter& issued;          ///< edgehub_server_cert_issued_total
  ops::Counter& reused;          ///< edgehub_server_cert_reused_total (restarts that kept it)
  ops::Counter& issue_failures;  ///< edgehub_server_cert_issue_failures_total
  ops::Gauge& expiry;            ///< edgehub_server_cert_expiry_timestamp_seconds (Unix time)
  ops::Gauge& edge_ca_expiry;    ///< edgehub_edge_ca_expiry_timestamp_seconds (Unix time)

  static ServerCertStats create(ops::Registry& registry);
};

/// Owns the current Edge CA and server certificate for the daemon: start() at start-up, poll()
/// when the renewal timer fires, reload() on SIGHUP. Each returns the identity to hot-swap when it
/// changed. Not thread-safe: call from one executor.
class ServerCertManager {
 public:
  /// `stats` may be null; when given it must outlive the manager.
  ServerCertManager(std::filesystem::path state_dir, ServerCertPolicy policy,
                    ServerCertStats* stats = nullptr);

  /// Start-up: reuse or issue (ensure_server_cert).
  core::Result<ServerCertOutcome> start(EdgeCa ca, SystemTime now, std::string& why);

  /// Renews when `now` has reached next_renewal(); nullopt when nothing changed.
  core::Result<std::optional<ServerIdentity>> poll(SystemTime now, std::string& why);

  /// SIGHUP with a freshly loaded Edge CA and policy: re-issues when the Edge CA files changed
  /// (fingerprint), the SANs changed or the certificate is due; nullopt when nothing changed.
  core::Result<std::optional<ServerIdentity>> reload(EdgeCa ca, ServerCertPolicy policy,
                                                     SystemTime now, std::string& why);

  /// When poll() will renew. Precondition: start() succeeded.
  SystemTime next_renewal() const { return renewal_time(current_); }
  const ServerIdentity& current() const { return current_; }
  const EdgeCa& edge_ca() const { return ca_; }
  /// Why the last start/poll/reload issued a certificate (for the log).
  const std::string& last_reason() const { return last_reason_; }

 private:
  core::Result<std::optional<ServerIdentity>> reissue(std::string reason, SystemTime now,
                                                      std::string& why);
  void record(bool reused);

  std::filesystem::path state_dir_;
  ServerCertPolicy policy_;
  EdgeCa ca_;
  ServerIdentity current_;
  std::string last_reason_;
  ServerCertStats* stats_;
};

}  // namespace edgehub::pki
