#include "edgehub/identity/authenticator.hpp"

namespace edgehub::identity {
namespace {

constexpr std::string_view kOverflowLabel = "_unknown";

bool valid_claim(const core::ClientId& id) {
  return is_valid_id(id.device) && (!id.is_module() || is_valid_id(id.module));
}

}  // namespace

core::Result<std::unique_ptr<Authenticator>> Authenticator::create(AuthenticatorOptions options,
                                                                   const KeyLookup& lookup,
                                                                   const core::Clock& clock,
                                                                   ops::Registry& metrics) {
  std::shared_ptr<const TrustBundle> trust;
  if (options.trust_bundle) {
    auto loaded = TrustBundle::load_file(*options.trust_bundle);
    if (!loaded) return loaded.error();
    trust = std::make_shared<const TrustBundle>(std::move(*loaded));
  }
  return std::make_unique<Authenticator>(std::move(options), lookup, std::move(trust), clock,
                                         metrics);
}

Authenticator::Authenticator(AuthenticatorOptions options, const KeyLookup& lookup,
                             std::shared_ptr<const TrustBundle> trust, const core::Clock& clock,
                             ops::Registry& metrics)
    : options_(std::move(options)),
      lookup_(lookup),
      clock_(clock),
      connect_failed_(metrics.counter(kConnectFailedMetric,
                                      "Client connections refused, by identity and reason",
                                      {"id", "reason"})),
      trust_(std::move(trust)) {}

core::Result<void> Authenticator::reload_trust_bundle() {
  if (!options_.trust_bundle) return {};
  auto loaded = TrustBundle::load_file(*options_.trust_bundle);
  if (!loaded) return loaded.error();
  auto next = std::make_shared<const TrustBundle>(std::move(*loaded));
  std::lock_guard lock(mutex_);
  trust_ = std::move(next);
  return {};
}

core::Result<AuthenticatedIdentity> Authenticator::authenticate(
    const core::ClientId& claimed, const Credential& credential) const {
  auto result = check(claimed, credential);
  if (!result) {
    const bool known = result.error() != make_error_code(Errc::unknown_identity);
    connect_failed_.with({metric_id(claimed, known), reason_label(result.error())}).inc();
  }
  return result;
}

core::Result<AuthenticatedIdentity> Authenticator::check(const core::ClientId& claimed,
                                                         const Credential& credential) const {
  if (!valid_claim(claimed)) return Errc::unknown_identity;
  // edgeHub refuses module certificates as an unsupported identity type, before any lookup.
  if (claimed.is_module() && std::holds_alternative<ClientCertificate>(credential)) {
    return Errc::module_x509;
  }
  const auto identity = lookup_.find(claimed);
  if (!identity) return Errc::unknown_identity;
  if (!identity->enabled) return Errc::disabled_identity;
  if (const auto* sas = std::get_if<SasCredential>(&credential)) {
    return check_sas(claimed, *identity, sas->token);
  }
  if (const auto* cert = std::get_if<ClientCertificate>(&credential)) {
    return check_certificate(*identity, *cert);
  }
  return Errc::no_credentials;
}

core::Result<AuthenticatedIdentity> Authenticator::check_sas(const core::ClientId& claimed,
                                                             const Identity& identity,
                                                             std::string_view text) const {
  if (identity.auth != AuthType::sas) return Errc::wrong_auth_type;
  auto token = parse_sas_token(text);
  if (!token) return token.error();

  std::vector<Bytes> keys = identity.keys;
  // edgeHub's allowDeviceAuthForModule: a module may sign with its device's key.
  if (claimed.is_module()) {
    const auto device = lookup_.find(core::ClientId{claimed.device, {}});
    if (device && device->enabled && device->auth == AuthType::sas) {
      keys.insert(keys.end(), device->keys.begin(), device->keys.end());
    }
  }
  const AudienceHosts hosts{options_.iothub_hostname, options_.gateway_hostname};
  if (auto ok = verify_sas_token(*token, claimed, keys, hosts, clock_.now()); !ok) {
    return ok.error();
  }
  return AuthenticatedIdentity{claimed, AuthType::sas, token->expires_at()};
}

core::Result<AuthenticatedIdentity> Authenticator::check_certificate(
    const Identity& identity, const ClientCertificate& cert) const {
  const core::SystemTime now = clock_.now();
  switch (identity.auth) {
    case AuthType::sas:
      return Errc::wrong_auth_type;
    case AuthType::x509_thumbprint:
      if (auto ok = check_thumbprint(cert, identity.thumbprints, now); !ok) return ok.error();
      break;
    case AuthType::x509_ca: {
      std::shared_ptr<const TrustBundle> trust;
      {
        std::lock_guard lock(mutex_);
        trust = trust_;
      }
      if (!trust) return Errc::no_trust_bundle;
      if (auto ok = check_ca_chain(cert, *trust, identity.id.device, now); !ok) return ok.error();
      break;
    }
  }
  auto facts = inspect_certificate(cert.leaf_der);
  if (!facts) return facts.error();
  return AuthenticatedIdentity{identity.id, identity.auth, facts->not_after};
}

std::string Authenticator::metric_id(const core::ClientId& claimed, bool known) const {
  std::string id = claimed.to_string();
  if (known) return id;
  std::lock_guard lock(mutex_);
  if (unknown_labels_.contains(id)) return id;
  if (unknown_labels_.size() >= kMaxUnknownIdLabels || !valid_claim(claimed)) {
    return std::string(kOverflowLabel);
  }
  unknown_labels_.insert(id);
  return id;
}

}  // namespace edgehub::identity
