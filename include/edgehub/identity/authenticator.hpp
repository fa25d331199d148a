#pragma once

// identity::Authenticator: the one place protocol sessions (MQTT CONNECT, AMQP SASL/CBS, HTTP
// Authorization, TLS client certificates) turn a claimed identity plus a credential into an
// authenticated identity or a refusal (design.md §2, edgehub-reference.md §2.1-2.2).
//
// Every refusal is counted in edgehub_client_connect_failed_total{id, reason}; reasons are listed
// in docs/identities.md. Nothing here logs: tokens and keys are secrets, and the caller logs the
// error code (whose message never contains the credential).
//
// Thread safety: authenticate() may be called from any thread concurrently, also while the
// registry reloads or the trust bundle is swapped.

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "edgehub/core/client_id.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/identity/registry.hpp"
#include "edgehub/identity/sas_token.hpp"
#include "edgehub/identity/x509.hpp"
#include "edgehub/ops/metrics.hpp"

namespace edgehub::identity {

/// The metric every refusal increments (edgeHub's name).
inline constexpr std::string_view kConnectFailedMetric = "edgehub_client_connect_failed_total";

/// Client certificates whose successful checks are remembered (keyed by a hash of the presented
/// DER chain), so that a reconnecting X.509 device costs hashes instead of certificate parsing and
/// chain verification. Only successes are cached, so strangers cannot fill it; FIFO eviction.
inline constexpr std::size_t kCertificateCacheSize = 4096;

/// Distinct unknown ids that get their own metric label; later ones share id="_unknown" so that a
/// client cycling random ids cannot grow the metrics endpoint without bound.
inline constexpr std::size_t kMaxUnknownIdLabels = 256;

struct NoCredential {};
struct SasCredential {
  std::string
      token;  ///< "SharedAccessSignature sr=...": MQTT password, AMQP PLAIN/CBS, HTTP header
};
/// What a session presents: nothing, a SAS token, or the TLS client certificate.
using Credential = std::variant<NoCredential, SasCredential, ClientCertificate>;

struct AuthenticatedIdentity {
  core::ClientId id;
  AuthType method = AuthType::sas;
  /// SAS: the token's expiry (the session must close then unless renewed); X.509: notAfter.
  core::SystemTime expires_at{};
};

struct AuthenticatorOptions {
  std::string iothub_hostname;   ///< audiences may name the hub (host only, no port)
  std::string gateway_hostname;  ///< ... or the gateway's own `hostname`
  /// `trust_bundle_cert`; absent: x509_ca identities are refused (Errc::no_trust_bundle).
  std::optional<std::filesystem::path> trust_bundle;
  /// A SAS token expiring later than this after now is refused (Errc::token_lifetime_too_long);
  /// 0: no limit.
  std::chrono::seconds max_token_lifetime{0};
  /// Keep the SAS token each identity last authenticated with (its own, not on behalf), for the
  /// upstream to forward in authentication_mode = "cloud" (last_token()).
  bool remember_tokens = false;
};

class Authenticator {
 public:
  /// Loads the trust bundle (if configured); fails with Errc::trust_bundle_unreadable. `lookup`,
  /// `clock` and `metrics` must outlive the authenticator.
  static core::Result<std::unique_ptr<Authenticator>> create(AuthenticatorOptions options,
                                                             const KeyLookup& lookup,
                                                             const core::Clock& clock,
                                                             ops::Registry& metrics);

  Authenticator(AuthenticatorOptions options, const KeyLookup& lookup,
                std::shared_ptr<const TrustBundle> trust, const core::Clock& clock,
                ops::Registry& metrics);

  /// Checks `credential` for `claimed`. Errors are identity::Errc values:
  ///  - all: unknown_identity, disabled_identity, no_credentials, wrong_auth_type;
  ///  - SAS: malformed_token, policy_token, wrong_audience, bad_signature, token_expired
  ///    (a module's token may be signed with its device's key, as edgeHub allows);
  ///  - X.509: module_x509, malformed_certificate, thumbprint_mismatch, certificate_expired,
  ///    untrusted_chain, wrong_common_name, no_trust_bundle.
  core::Result<AuthenticatedIdentity> authenticate(const core::ClientId& claimed,
                                                   const Credential& credential) const;

  /// The SAS token `id` last authenticated with as itself, when options.remember_tokens; nullopt
  /// when none (or the identity used a certificate or an on-behalf-of token). A secret.
  std::optional<std::string> last_token(const core::ClientId& id) const;

  /// Re-reads options.trust_bundle (SIGHUP). On failure the previous bundle stays in use.
  core::Result<void> reload_trust_bundle();

 private:
  core::Result<AuthenticatedIdentity> check(const core::ClientId& claimed,
                                            const Credential& credential) const;
  core::Result<AuthenticatedIdentity> check_sas(const core::ClientId& claimed,
                                                const Identity& identity,
                                                std::string_view token) const;
  core::Result<AuthenticatedIdentity> check_certificate(const Identity& identity,
                                                        const ClientCertificate& cert) const;
  std::string metric_id(const core::ClientId& claimed, bool known) const;

  /// What a successful check established about one presented chain. Validity is re-checked
  /// against the clock and thumbprints / CN against the identity on every hit, so a registry
  /// reload or the passing of time is never masked by the cache.
  struct CachedCertificate {
    Bytes sha1;
    Bytes sha256;
    std::string common_name;
    core::SystemTime leaf_not_before{};
    core::SystemTime leaf_not_after{};
    std::uint64_t chain_generation = 0;  ///< trust bundle the chain verified with; 0: never
    core::SystemTime chain_not_before{};
    core::SystemTime chain_not_after{};
  };
  std::optional<CachedCertificate> cached(const std::string& key) const;
  void remember(const std::string& key, const CachedCertificate& entry) const;

  const AuthenticatorOptions options_;
  const KeyLookup& lookup_;
  const core::Clock& clock_;
  ops::CounterFamily& connect_failed_;

  mutable std::mutex mutex_;  ///< guards everything below
  std::shared_ptr<const TrustBundle> trust_;
  std::uint64_t trust_generation_ = 1;  ///< bumped by reload_trust_bundle()
  mutable std::set<std::string, std::less<>> unknown_labels_;
  mutable std::unordered_map<std::string, CachedCertificate> cert_cache_;
  mutable std::deque<std::string> cert_cache_order_;  ///< insertion order, for eviction
  /// remember_tokens: one per registered identity at most (only successes are kept).
  mutable std::unordered_map<core::ClientId, std::string, core::ClientIdHash> tokens_;
};

}  // namespace edgehub::identity
