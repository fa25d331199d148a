#include "edgehub/pki/server_cert.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "edgehub/pki/certificate.hpp"
#include "edgehub/pki/errors.hpp"
#include "pki/files.hpp"
#include "pki/ossl.hpp"

namespace edgehub::pki {
namespace {

using ossl::Free;

/// Devices whose clocks run a little behind must accept a certificate issued just now; short
/// test certificates get a proportionally short allowance so renewal stays ahead of expiry.
std::chrono::seconds backdate_for(std::chrono::seconds validity) {
  return std::min<std::chrono::seconds>(std::chrono::minutes(5), validity / 10);
}

std::string normalise_san(const std::string& san) {
  if (is_ip_address(san)) {
    std::array<unsigned char, 16> buf{};
    std::array<char, INET6_ADDRSTRLEN> text{};
    const int family = inet_pton(AF_INET, san.c_str(), buf.data()) == 1 ? AF_INET : AF_INET6;
    if (family == AF_INET6) inet_pton(AF_INET6, san.c_str(), buf.data());
    if (inet_ntop(family, buf.data(), text.data(), text.size()) != nullptr) return text.data();
    return san;
  }
  std::string lower = san;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

/// The server key follows the Edge CA's family: an RSA Edge CA gets an RSA 2048 server key (for
/// devices and stacks that want RSA all the way), an EC one an EC P-256 key (the cheaper
/// handshake). Unreadable keys fall back to EC; loading the Edge CA has already checked them.
KeyAlgorithm server_key_algorithm(const EdgeCa& ca) {
  auto key = ossl::parse_private_key(ca.key_pem);
  return key && EVP_PKEY_get_base_id(key->get()) == EVP_PKEY_RSA ? KeyAlgorithm::rsa2048
                                                                 : KeyAlgorithm::ec_p256;
}

bool is_rsa(KeyAlgorithm algorithm) {
  return algorithm == KeyAlgorithm::rsa2048 || algorithm == KeyAlgorithm::rsa3072;
}

/// Parses a persisted or in-memory identity's leaf and fills the derived fields.
core::Result<ServerIdentity> identity_from(std::string cert_pem, std::string key_pem,
                                           const EdgeCa& ca, std::string& why) {
  auto info = describe_certificates(cert_pem, "server certificate", why);
  if (!info) return info.error();
  const auto& leaf = info->front();
  ServerIdentity id;
  id.not_before = leaf.not_before;
  id.not_after = leaf.not_after;
  id.serial_hex = leaf.serial_hex;
  for (const auto& dns : leaf.dns_names)
    id.subject_alt_names.push_back(normalise_san(dns));
  for (const auto& ip : leaf.ip_addresses)
    id.subject_alt_names.push_back(normalise_san(ip));
  std::sort(id.subject_alt_names.begin(), id.subject_alt_names.end());
  id.subject_alt_names.erase(std::unique(id.subject_alt_names.begin(), id.subject_alt_names.end()),
                             id.subject_alt_names.end());
  id.cert_pem = std::move(cert_pem);
  id.chain_pem = id.cert_pem + ca.chain_pem;
  id.key_pem = std::move(key_pem);
  return id;
}

/// Loads state_dir's certificate; any problem is a reason to issue a new one, not an error.
std::optional<ServerIdentity> load_persisted(const ServerCertPaths& paths, const EdgeCa& ca,
                                             std::string& reason) {
  std::string why;
  auto chain_text = files::read_pem_file(paths.cert, why);
  auto key_text = chain_text ? files::read_pem_file(paths.key, why)
                             : core::Result<std::string>(chain_text.error());
  if (!chain_text || !key_text) {
    reason = chain_text.error() == make_error_code(Errc::file_not_found) ||
                     key_text.error() == make_error_code(Errc::file_not_found)
                 ? "no certificate in state_dir yet"
                 : "persisted certificate unreadable: " + why;
    return std::nullopt;
  }
  if (!files::check_key_permissions(paths.key, why)) {
    reason = "persisted key has unsafe permissions: " + why;
    return std::nullopt;
  }
  std::string block;
  auto certs = ossl::parse_certificates(*chain_text, block);
  auto key = ossl::parse_private_key(*key_text);
  if (!certs || !key) {
    reason = "persisted certificate or key is damaged";
    return std::nullopt;
  }
  {
    ossl::ErrorQueueGuard guard;
    if (EVP_PKEY_eq(X509_get0_pubkey(certs->front().get()), key->get()) != 1) {
      reason = "persisted key does not match the persisted certificate";
      return std::nullopt;
    }
  }
  auto id = identity_from(ossl::to_pem(certs->front().get()), std::move(*key_text), ca, why);
  if (!id) {
    reason = "persisted certificate is damaged";
    return std::nullopt;
  }
  return std::move(*id);
}

core::Result<void> persist(const ServerCertPaths& paths, const ServerIdentity& id,
                           std::string& why) {
  if (auto dir = files::ensure_directory(paths.cert.parent_path(), 0755, why); !dir) return dir;
  // Key first, certificate last: the certificate's presence implies its key was written, and the
  // reuse check (key matches certificate) catches a crash between the two renames.
  if (auto r = files::write_atomic(paths.key, id.key_pem, 0600, why); !r) return r;
  return files::write_atomic(paths.cert, id.chain_pem, 0644, why);
}

}  // namespace

ServerCertPolicy ServerCertPolicy::from_config(const config::GatewayConfig& config) {
  ServerCertPolicy policy;
  policy.hostname = config.hostname;
  policy.extra_sans = config.server_cert_extra_sans;
  policy.validity = config.server_cert_validity
                        ? *config.server_cert_validity
                        : std::chrono::seconds(std::chrono::hours(24) * config.server_cert_days);
  return policy;
}

std::vector<std::string> ServerCertPolicy::sans() const {
  std::vector<std::string> out;
  out.push_back(normalise_san(hostname));
  for (const auto& san : extra_sans)
    out.push_back(normalise_san(san));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

SystemTime renewal_time(SystemTime not_before, SystemTime not_after) {
  if (not_after <= not_before) return not_before;
  return not_before + (not_after - not_before) * 4 / 5;
}

SystemTime renewal_time(const ServerIdentity& identity) {
  return renewal_time(identity.not_before, identity.not_after);
}

core::Result<ServerIdentity> issue_server_cert(const EdgeCa& ca, const ServerCertPolicy& policy,
                                               SystemTime now, std::string& why) {
  if (policy.hostname.empty() ||
      (!is_dns_name(policy.hostname) && !is_ip_address(policy.hostname))) {
    why = "hostname '" + policy.hostname +
          "' is not a valid DNS name or IP address for the server certificate; fix `hostname` "
          "in config.toml";
    return Errc::invalid_name;
  }
  for (const auto& san : policy.extra_sans) {
    if (!is_dns_name(san) && !is_ip_address(san)) {
      why = "[gateway] server_cert_extra_sans: '" + san +
            "' is neither a DNS name nor an IP address; fix or remove it";
      return Errc::invalid_name;
    }
  }
  if (policy.validity <= std::chrono::seconds(0)) {
    why = "[gateway] server_cert_days must be at least 1";
    return Errc::invalid_name;
  }
  const SystemTime not_after = std::min(now + policy.validity, ca.not_after);
  if (not_after <= now) {
    why = "the Edge CA " + ca.cert_file.string() +
          " has expired; the server certificate cannot outlive it: renew the Edge CA";
    return Errc::certificate_expired;
  }
  CertificateSpec spec;
  // A CN is limited to 64 characters; the SANs carry the full name (what clients check).
  spec.common_name = policy.hostname.size() <= 64 ? policy.hostname : "edgehubd";
  spec.not_before = std::max(now - backdate_for(policy.validity), ca.not_before);
  spec.not_after = not_after;
  spec.server_auth = true;
  spec.digital_signature = true;
  spec.subject_alt_names = policy.sans();
  KeyAndCertificate issuer{ca.cert_pem, ca.key_pem};
  auto pair = make_certificate(spec, server_key_algorithm(ca), &issuer, why);
  if (!pair) return pair.error();
  return identity_from(std::move(pair->cert_pem), std::move(pair->key_pem), ca, why);
}

std::optional<std::string> reissue_reason(const ServerIdentity& current, const EdgeCa& ca,
                                          const ServerCertPolicy& policy, SystemTime now) {
  if (now < current.not_before) return "certificate not yet valid";
  if (now >= current.not_after) return "certificate expired";
  if (now >= renewal_time(current)) return "past renewal time (80% of lifetime)";
  if (current.subject_alt_names != policy.sans()) return "SAN set changed";
  if (current.not_after > ca.not_after) return "certificate outlives the Edge CA";
  std::string block;
  auto leaf = ossl::parse_certificates(current.cert_pem, block);
  auto issuer = ossl::parse_certificates(ca.cert_pem, block);
  if (!leaf || !issuer || !ossl::issued_by(leaf->front().get(), issuer->front().get())) {
    return "issued by another Edge CA";
  }
  const bool leaf_rsa = EVP_PKEY_get_base_id(X509_get0_pubkey(leaf->front().get())) == EVP_PKEY_RSA;
  if (leaf_rsa != is_rsa(server_key_algorithm(ca))) return "key type differs from the Edge CA's";
  return std::nullopt;
}

ServerCertPaths ServerCertPaths::in(const std::filesystem::path& state_dir) {
  return {state_dir / "certs" / "server.cert.pem", state_dir / "certs" / "server.key.pem"};
}

core::Result<ServerCertOutcome> ensure_server_cert(const std::filesystem::path& state_dir,
                                                   const EdgeCa& ca, const ServerCertPolicy& policy,
                                                   SystemTime now, std::string& why) {
  const auto paths = ServerCertPaths::in(state_dir);
  std::string reason;
  if (auto persisted = load_persisted(paths, ca, reason)) {
    auto why_not = reissue_reason(*persisted, ca, policy, now);
    if (!why_not) return ServerCertOutcome{std::move(*persisted), true, {}};
    reason = *why_not;
  }
  auto issued = issue_server_cert(ca, policy, now, why);
  if (!issued) return issued.error();
  if (auto written = persist(paths, *issued, why); !written) return written.error();
  return ServerCertOutcome{std::move(*issued), false, std::move(reason)};
}

ServerCertStats ServerCertStats::create(ops::Registry& registry) {
  return {
      registry
          .counter("edgehub_server_cert_issued_total",
                   "Server certificates issued from the Edge CA")
          .with({}),
      registry
          .counter("edgehub_server_cert_reused_total",
                   "Starts that reused the server certificate kept in state_dir")
          .with({}),
      registry
          .counter("edgehub_server_cert_issue_failures_total",
                   "Failed attempts to issue or renew the server certificate")
          .with({}),
      registry
          .gauge("edgehub_server_cert_expiry_timestamp_seconds",
                 "notAfter of the served server certificate, Unix time")
          .with({}),
      registry
          .gauge("edgehub_edge_ca_expiry_timestamp_seconds", "notAfter of the Edge CA, Unix time")
          .with({}),
  };
}

ServerCertManager::ServerCertManager(std::filesystem::path state_dir, ServerCertPolicy policy,
                                     ServerCertStats* stats)
    : state_dir_(std::move(state_dir)), policy_(std::move(policy)), stats_(stats) {}

void ServerCertManager::record(bool reused) {
  if (stats_ == nullptr) return;
  (reused ? stats_->reused : stats_->issued).inc();
  const auto unix_seconds = [](SystemTime t) {
    return static_cast<double>(
        std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  };
  stats_->expiry.set(unix_seconds(current_.not_after));
  stats_->edge_ca_expiry.set(unix_seconds(ca_.not_after));
}

core::Result<ServerCertOutcome> ServerCertManager::start(EdgeCa ca, SystemTime now,
                                                         std::string& why) {
  auto outcome = ensure_server_cert(state_dir_, ca, policy_, now, why);
  if (!outcome) {
    if (stats_ != nullptr) stats_->issue_failures.inc();
    return outcome.error();
  }
  ca_ = std::move(ca);
  current_ = outcome->identity;
  last_reason_ = outcome->reason;
  record(outcome->reused);
  return outcome;
}

core::Result<std::optional<ServerIdentity>> ServerCertManager::poll(SystemTime now,
                                                                    std::string& why) {
  if (now < next_renewal()) return std::optional<ServerIdentity>{};
  return reissue("past renewal time (80% of lifetime)", now, why);
}

core::Result<std::optional<ServerIdentity>> ServerCertManager::reload(EdgeCa ca,
                                                                      ServerCertPolicy policy,
                                                                      SystemTime now,
                                                                      std::string& why) {
  const bool ca_changed = ca.fingerprint != ca_.fingerprint;
  std::optional<std::string> reason = reissue_reason(current_, ca, policy, now);
  if (ca_changed) reason = "Edge CA files changed";
  // Adopt the new CA and policy only once a certificate for them exists, so a failed reload
  // leaves the running state consistent.
  if (!reason) {
    ca_ = std::move(ca);
    policy_ = std::move(policy);
    current_.chain_pem = current_.cert_pem + ca_.chain_pem;
    if (stats_ != nullptr) {
      stats_->edge_ca_expiry.set(static_cast<double>(
          std::chrono::duration_cast<std::chrono::seconds>(ca_.not_after.time_since_epoch())
              .count()));
    }
    return std::optional<ServerIdentity>{};
  }
  EdgeCa old_ca = std::exchange(ca_, std::move(ca));
  ServerCertPolicy old_policy = std::exchange(policy_, std::move(policy));
  auto renewed = reissue(std::move(*reason), now, why);
  if (!renewed) {
    ca_ = std::move(old_ca);
    policy_ = std::move(old_policy);
  }
  return renewed;
}

core::Result<std::optional<ServerIdentity>> ServerCertManager::reissue(std::string reason,
                                                                       SystemTime now,
                                                                       std::string& why) {
  auto issued = issue_server_cert(ca_, policy_, now, why);
  core::Result<void> written =
      issued ? persist(ServerCertPaths::in(state_dir_), *issued, why) : issued.error();
  if (!written) {
    if (stats_ != nullptr) stats_->issue_failures.inc();
    return written.error();
  }
  current_ = *issued;
  last_reason_ = std::move(reason);
  record(false);
  return std::optional<ServerIdentity>(std::move(*issued));
}

}  // namespace edgehub::pki
