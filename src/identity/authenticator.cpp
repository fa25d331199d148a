#include "edgehub/identity/authenticator.hpp"

#include "identity/crypto.hpp"

namespace edgehub::identity {
namespace {

constexpr std::string_view kOverflowLabel = "_unknown";

// SHA-256 over the presented chain, each element length-prefixed so that different splits of
// the same bytes cannot collide.
std::string cache_key(const ClientCertificate& cert) {
  std::string all;
  const auto append = [&all](std::string_view der) {
    const std::uint64_t size = der.size();
    all.append(reinterpret_cast<const char*>(&size), sizeof size);
    all.append(der);
  };
  append(cert.leaf_der);
  for (const auto& der : cert.chain_der)
    append(der);
  const Bytes digest = detail::sha256(detail::as_bytes(all));
  return std::string(digest.begin(), digest.end());
}

bool valid_claim(const core::ClientId& id) {
  return is_valid_id(id.device) && (!id.is_module() || is_valid_id(id.module));
}

// IoT Edge allows five layers of gateways; a longer parent chain is a loop or a mistake.
constexpr int kMaxNestingDepth = 5;

// A child gateway's edgeHub authenticates the identities below it with its own `$edgeHub`
// token (edgehub-reference.md §2.6): the token names that module, not the claimed identity.
std::optional<core::ClientId> on_behalf_actor(const SasToken& token,
                                              const core::ClientId& claimed) {
  auto actor = client_id_from_resource(token.resource);
  if (!actor || actor->module != "$edgeHub" || *actor == claimed) return std::nullopt;
  return *actor;
}

// Whether `claimed` sits below the child gateway `edge`: the gateway itself, its modules, or a
// device whose chain of parents reaches it (and that device's modules).
bool below(const KeyLookup& lookup, const core::ClientId& claimed, const std::string& edge) {
  std::string device = claimed.device;
  for (int depth = 0; depth <= kMaxNestingDepth; ++depth) {
    if (device == edge) return true;
    const auto d = lookup.find(core::ClientId{device, {}});
    if (!d || d->parent.empty()) return false;
    device = d->parent;
  }
  return false;
}

// The keys an on-behalf-of token for `claimed` must be signed with: those of `actor`, the
// `$edgeHub` module of an enabled child gateway that `claimed` sits below.
core::Result<std::vector<Bytes>> on_behalf_keys(const KeyLookup& lookup,
                                                const core::ClientId& claimed,
                                                const core::ClientId& actor) {
  const auto edge = lookup.find(core::ClientId{actor.device, {}});
  const auto module = lookup.find(actor);
  if (!edge || !edge->edge_device || !module || module->auth != AuthType::sas) {
    return Errc::wrong_audience;
  }
  if (!edge->enabled || !module->enabled) return Errc::disabled_identity;
  if (!below(lookup, claimed, actor.device)) return Errc::wrong_audience;
  return module->keys;
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

std::optional<std::string> Authenticator::last_token(const core::ClientId& id) const {
  std::lock_guard lock(mutex_);
  const auto it = tokens_.find(id);
  if (it == tokens_.end()) return std::nullopt;
  return it->second;
}

core::Result<void> Authenticator::reload_trust_bundle() {
  if (!options_.trust_bundle) return {};
  auto loaded = TrustBundle::load_file(*options_.trust_bundle);
  if (!loaded) return loaded.error();
  auto next = std::make_shared<const TrustBundle>(std::move(*loaded));
  std::lock_guard lock(mutex_);
  trust_ = std::move(next);
  ++trust_generation_;  // chains verified with the old bundle must verify again
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
  auto token = parse_sas_token(text);
  if (!token && identity.auth != AuthType::sas) return Errc::wrong_auth_type;
  if (!token) return token.error();

  core::ClientId signer = claimed;
  std::vector<Bytes> keys;
  if (const auto actor = on_behalf_actor(*token, claimed)) {
    // X.509 identities below a child gateway come this way too, as edgeHub sends them.
    auto actor_keys = on_behalf_keys(lookup_, claimed, *actor);
    if (!actor_keys) return actor_keys.error();
    signer = *actor;
    keys = std::move(*actor_keys);
  } else {
    if (identity.auth != AuthType::sas) return Errc::wrong_auth_type;
    keys = identity.keys;
    // edgeHub's allowDeviceAuthForModule: a module may sign with its device's key.
    if (claimed.is_module()) {
      const auto device = lookup_.find(core::ClientId{claimed.device, {}});
      if (device && device->enabled && device->auth == AuthType::sas) {
        keys.insert(keys.end(), device->keys.begin(), device->keys.end());
      }
    }
  }
  const AudienceHosts hosts{options_.iothub_hostname, options_.gateway_hostname};
  const auto now = clock_.now();
  if (auto ok = verify_sas_token(*token, signer, keys, hosts, now); !ok) {
    return ok.error();
  }
  // Checked after the signature, so a forged token is reported as forged.
  if (options_.max_token_lifetime.count() > 0 &&
      token->expires_at() > now + options_.max_token_lifetime) {
    return Errc::token_lifetime_too_long;
  }
  if (options_.remember_tokens && signer == claimed) {
    std::lock_guard lock(mutex_);
    tokens_[claimed] = std::string(text);
  }
  return AuthenticatedIdentity{claimed, AuthType::sas, token->expires_at()};
}

core::Result<AuthenticatedIdentity> Authenticator::check_certificate(
    const Identity& identity, const ClientCertificate& cert) const {
  if (identity.auth == AuthType::sas) return Errc::wrong_auth_type;
  const core::SystemTime now = clock_.now();
  const std::string key = cache_key(cert);
  std::optional<CachedCertificate> entry = cached(key);

  if (identity.auth == AuthType::x509_thumbprint) {
    if (entry) {
      bool matched = false;
      for (const auto& expected : identity.thumbprints) {
        const Bytes& actual = expected.size() == entry->sha1.size() ? entry->sha1 : entry->sha256;
        matched = detail::equal_constant_time(actual, expected) || matched;
      }
      if (!matched) return Errc::thumbprint_mismatch;
      if (now < entry->leaf_not_before || now > entry->leaf_not_after) {
        return Errc::certificate_expired;
      }
      return AuthenticatedIdentity{identity.id, identity.auth, entry->leaf_not_after};
    }
    auto facts = check_thumbprint(cert, identity.thumbprints, now);
    if (!facts) return facts.error();
    remember(key, {facts->sha1,
                   facts->sha256,
                   facts->common_name,
                   facts->not_before,
                   facts->not_after,
                   0,
                   {},
                   {}});
    return AuthenticatedIdentity{identity.id, identity.auth, facts->not_after};
  }

  std::shared_ptr<const TrustBundle> trust;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    trust = trust_;
    generation = trust_generation_;
  }
  if (!trust) return Errc::no_trust_bundle;
  if (entry && entry->chain_generation == generation) {
    if (now < entry->chain_not_before || now > entry->chain_not_after) {
      return Errc::certificate_expired;
    }
    if (entry->common_name != identity.id.device) return Errc::wrong_common_name;
    return AuthenticatedIdentity{identity.id, identity.auth, entry->chain_not_after};
  }
  auto chain = check_ca_chain(cert, *trust, identity.id.device, now);
  if (!chain) return chain.error();
  remember(key,
           {chain->leaf.sha1, chain->leaf.sha256, chain->leaf.common_name, chain->leaf.not_before,
            chain->leaf.not_after, generation, chain->not_before, chain->not_after});
  return AuthenticatedIdentity{identity.id, identity.auth, chain->not_after};
}

std::optional<Authenticator::CachedCertificate> Authenticator::cached(
    const std::string& key) const {
  std::lock_guard lock(mutex_);
  const auto it = cert_cache_.find(key);
  if (it == cert_cache_.end()) return std::nullopt;
  return it->second;
}

void Authenticator::remember(const std::string& key, const CachedCertificate& entry) const {
  std::lock_guard lock(mutex_);
  const auto [it, inserted] = cert_cache_.insert_or_assign(key, entry);
  if (!inserted) return;
  cert_cache_order_.push_back(key);
  if (cert_cache_order_.size() > kCertificateCacheSize) {
    cert_cache_.erase(cert_cache_order_.front());
    cert_cache_order_.pop_front();
  }
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
