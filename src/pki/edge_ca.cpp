#include "edgehub/pki/edge_ca.hpp"

#include <openssl/evp.h>
#include <openssl/x509_vfy.h>

#include <array>
#include <ctime>

#include "edgehub/pki/certificate.hpp"
#include "edgehub/pki/errors.hpp"
#include "edgehub/pki/server_cert.hpp"
#include "pki/files.hpp"
#include "pki/ossl.hpp"

namespace edgehub::pki {
namespace {

using ossl::Free;
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;

constexpr const char* kEdgeCaCertKey = "[edge_ca] cert";
constexpr const char* kEdgeCaKeyKey = "[edge_ca] pk";
constexpr const char* kQuickstartCn = "edgehubd quickstart Edge CA";
constexpr std::uint32_t kQuickstartDefaultDays = 90;

std::string utc(SystemTime t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::array<char, 32> buf{};
  std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf.data();
}

std::string describe(X509* cert) {
  const std::string cn = ossl::common_name(X509_get_subject_name(cert));
  return cn.empty() ? "'" + ossl::name_oneline(X509_get_subject_name(cert)) + "'" : "CN=" + cn;
}

/// Reads and parses a PEM certificate file; `role` says which config key names it.
core::Result<std::vector<X509Ptr>> load_certificates(const std::filesystem::path& file,
                                                     const char* role, std::string& why) {
  auto text = files::read_pem_file(file, why);
  if (!text) {
    why += "; check " + std::string(role) + " in config.toml";
    return text.error();
  }
  std::string block;
  auto certs = ossl::parse_certificates(*text, block);
  if (!certs) {
    if (certs.error() == make_error_code(Errc::unexpected_pem_block)) {
      why = file.string() + ": holds a " + block + " where certificates were expected; point " +
            role + " at a PEM certificate file (are cert and pk swapped?)";
    } else {
      why = file.string() + ": not a PEM certificate (expected -----BEGIN CERTIFICATE-----); " +
            "point " + role + " at a PEM file or convert it: openssl x509 -inform der -in " +
            file.string() + " -out " + file.string() + ".pem";
    }
    return certs.error();
  }
  return certs;
}

core::Result<std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>> load_key(
    const std::filesystem::path& file, std::string& text_out, std::string& why) {
  auto text = files::read_pem_file(file, why);
  if (!text) {
    why += std::string("; check ") + kEdgeCaKeyKey + " in config.toml";
    return text.error();
  }
  if (auto perms = files::check_key_permissions(file, why); !perms) return perms.error();
  auto key = ossl::parse_private_key(*text);
  if (!key) {
    const auto ec = key.error();
    if (ec == make_error_code(Errc::encrypted_key)) {
      why = file.string() +
            ": private key is encrypted; edgehubd needs it unencrypted: " + "openssl pkey -in " +
            file.string() + " -out KEY.pem && chmod 600 KEY.pem, then point " + kEdgeCaKeyKey +
            " at KEY.pem";
    } else if (ec == make_error_code(Errc::unexpected_pem_block)) {
      why = file.string() + ": holds no private key (a certificate?); point " + kEdgeCaKeyKey +
            " at the Edge CA's private key (are cert and pk swapped?)";
    } else {
      why = file.string() + ": not a PEM private key (expected -----BEGIN PRIVATE KEY-----, " +
            "RSA PRIVATE KEY or EC PRIVATE KEY); point " + kEdgeCaKeyKey +
            " at the Edge CA's PEM key";
    }
    return ec;
  }
  text_out = std::move(*text);
  return key;
}

core::Result<void> check_validity(X509* cert, const std::filesystem::path& file, SystemTime now,
                                  std::string& why) {
  const SystemTime not_before = ossl::to_system_time(X509_get0_notBefore(cert));
  const SystemTime not_after = ossl::to_system_time(X509_get0_notAfter(cert));
  if (now < not_before) {
    why = file.string() + ": certificate " + describe(cert) + " is not valid before " +
          utc(not_before) + " (now " + utc(now) + "); check the system clock or reissue it";
    return Errc::certificate_not_yet_valid;
  }
  if (now >= not_after) {
    why = file.string() + ": certificate " + describe(cert) + " expired at " + utc(not_after) +
          " (now " + utc(now) + "); renew it (edgehubctl certs demo for a test PKI)";
    return Errc::certificate_expired;
  }
  return {};
}

core::Result<void> verify_to_trust_bundle(const std::vector<X509Ptr>& chain,
                                          const std::vector<X509Ptr>& bundle,
                                          const std::filesystem::path& cert_file,
                                          const std::filesystem::path& bundle_file, SystemTime now,
                                          std::string& why) {
  const int err = ossl::verify_to_roots(chain, bundle, now);
  if (err == X509_V_OK) return {};
  if (err < 0) {
    why = "chain verification could not run: " + ossl::last_error();
    return Errc::crypto_failure;
  }
  if (err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID) {
    // Chain certificates were checked already, so this is a root from the trust bundle.
    why = bundle_file.string() + ": the trusted root is " + X509_verify_cert_error_string(err) +
          "; replace trust_bundle_cert with a valid root";
    return err == X509_V_ERR_CERT_HAS_EXPIRED ? Errc::certificate_expired
                                              : Errc::certificate_not_yet_valid;
  }
  why = cert_file.string() + ": the Edge CA chain does not verify to trust_bundle_cert " +
        bundle_file.string() + " (" + X509_verify_cert_error_string(err) +
        "); use the Edge CA issued under that root, or point trust_bundle_cert at the root " +
        "that issued it";
  return Errc::chain_untrusted;
}

std::string chain_to_pem(const std::vector<X509Ptr>& chain) {
  std::string out;
  for (const auto& cert : chain)
    out += ossl::to_pem(cert.get());
  return out;
}

/// The checks shared by configured and quickstart CAs: key type, CA flags, key match, order.
core::Result<void> check_ca_material(const std::vector<X509Ptr>& chain, EVP_PKEY* key,
                                     const std::filesystem::path& cert_file,
                                     const std::filesystem::path& key_file, std::string& why) {
  std::string key_desc;
  if (!ossl::is_supported_key(key, key_desc)) {
    why = key_file.string() + ": " + key_desc +
          " key; the Edge CA key must be RSA 2048+ or EC P-256/P-384: generate a new Edge CA " +
          "(edgehubctl certs demo shows one way)";
    return Errc::unsupported_key_type;
  }
  X509* leaf = chain.front().get();
  if (!ossl::is_ca(leaf)) {
    why = cert_file.string() + ": first certificate " + describe(leaf) +
          " is not a CA (basicConstraints CA:TRUE missing); the Edge CA must be a CA certificate " +
          "(not a device or server certificate): reissue it with basicConstraints=critical,CA:TRUE";
    return Errc::not_a_ca;
  }
  if (!ossl::has_key_cert_sign(leaf)) {
    why = cert_file.string() + ": Edge CA " + describe(leaf) +
          " lacks the keyCertSign key usage, so it may not issue the server certificate; reissue "
          "it with keyUsage=critical,digitalSignature,keyCertSign,cRLSign";
    return Errc::missing_key_cert_sign;
  }
  {
    ossl::ErrorQueueGuard guard;
    if (EVP_PKEY_eq(X509_get0_pubkey(leaf), key) != 1) {
      why = key_file.string() + ": private key does not match certificate " + cert_file.string() +
            " (" + describe(leaf) + "); regenerate the pair or point " + kEdgeCaKeyKey +
            " at the key of this certificate";
      return Errc::key_mismatch;
    }
  }
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    if (!ossl::issued_by(chain[i].get(), chain[i + 1].get())) {
      why = cert_file.string() + ": certificate " + std::to_string(i + 1) + " (" +
            describe(chain[i].get()) + ") is not issued by certificate " + std::to_string(i + 2) +
            " (" + describe(chain[i + 1].get()) +
            "); the file must list the Edge CA first, then each issuer in order";
      return Errc::chain_order;
    }
  }
  return {};
}

core::Result<std::string> fingerprint_of(std::string_view cert_text, std::string_view key_text) {
  ossl::ErrorQueueGuard guard;
  std::unique_ptr<EVP_MD_CTX, Free<EVP_MD_CTX_free>> md(EVP_MD_CTX_new());
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  // Length prefixes keep (cert, key) pairs with the same concatenation apart.
  const std::string cert_len = std::to_string(cert_text.size()) + ":";
  const std::string key_len = std::to_string(key_text.size()) + ":";
  if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(md.get(), cert_len.data(), cert_len.size()) != 1 ||
      EVP_DigestUpdate(md.get(), cert_text.data(), cert_text.size()) != 1 ||
      EVP_DigestUpdate(md.get(), key_len.data(), key_len.size()) != 1 ||
      EVP_DigestUpdate(md.get(), key_text.data(), key_text.size()) != 1 ||
      EVP_DigestFinal_ex(md.get(), digest.data(), &len) != 1) {
    return Errc::crypto_failure;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

/// Loads a previously generated quickstart CA when it is still usable at `now`.
core::Result<EdgeCa> load_quickstart(const QuickstartPaths& paths, SystemTime now) {
  std::string why;
  auto certs = load_certificates(paths.cert, "quickstart", why);
  if (!certs) return certs.error();
  std::string key_text;
  auto key = load_key(paths.key, key_text, why);
  if (!key) return key.error();
  if (certs->size() != 1) return Errc::chain_order;
  if (auto ok = check_ca_material(*certs, key->get(), paths.cert, paths.key, why); !ok) {
    return ok.error();
  }
  X509* cert = certs->front().get();
  EdgeCa ca;
  ca.not_before = ossl::to_system_time(X509_get0_notBefore(cert));
  ca.not_after = ossl::to_system_time(X509_get0_notAfter(cert));
  if (now < ca.not_before || now >= renewal_time(ca.not_before, ca.not_after)) {
    return Errc::certificate_expired;
  }
  ca.cert_pem = ossl::to_pem(cert);
  ca.chain_pem = ca.cert_pem;
  ca.trust_bundle_pem = ca.cert_pem;
  ca.key_pem = std::move(key_text);
  ca.common_name = ossl::common_name(X509_get_subject_name(cert));
  ca.quickstart = true;
  ca.cert_file = paths.cert;
  ca.key_file = paths.key;
  auto text = files::read_pem_file(paths.cert, why);
  if (!text) return text.error();
  auto fp = fingerprint_of(*text, ca.key_pem);
  if (!fp) return fp.error();
  ca.fingerprint = std::move(*fp);
  return ca;
}

}  // namespace

core::Result<EdgeCa> load_edge_ca(const std::filesystem::path& cert_file,
                                  const std::filesystem::path& key_file,
                                  const std::filesystem::path& trust_bundle_file, SystemTime now,
                                  std::string& why) {
  auto chain = load_certificates(cert_file, kEdgeCaCertKey, why);
  if (!chain) return chain.error();
  std::string key_text;
  auto key = load_key(key_file, key_text, why);
  if (!key) return key.error();
  if (auto ok = check_ca_material(*chain, key->get(), cert_file, key_file, why); !ok) {
    return ok.error();
  }
  for (const auto& cert : *chain) {
    if (auto valid = check_validity(cert.get(), cert_file, now, why); !valid) {
      return valid.error();
    }
  }
  auto bundle = load_certificates(trust_bundle_file, "trust_bundle_cert", why);
  if (!bundle) return bundle.error();
  if (auto verified =
          verify_to_trust_bundle(*chain, *bundle, cert_file, trust_bundle_file, now, why);
      !verified) {
    return verified.error();
  }

  X509* leaf = chain->front().get();
  EdgeCa ca;
  ca.cert_pem = ossl::to_pem(leaf);
  ca.chain_pem = chain_to_pem(*chain);
  ca.key_pem = std::move(key_text);
  ca.trust_bundle_pem = chain_to_pem(*bundle);
  ca.common_name = ossl::common_name(X509_get_subject_name(leaf));
  ca.not_before = ossl::to_system_time(X509_get0_notBefore(leaf));
  ca.not_after = ossl::to_system_time(X509_get0_notAfter(leaf));
  ca.cert_file = cert_file;
  ca.key_file = key_file;
  auto fp = edge_ca_fingerprint(cert_file, key_file, why);
  if (!fp) return fp.error();
  ca.fingerprint = std::move(*fp);
  return ca;
}

QuickstartPaths QuickstartPaths::in(const std::filesystem::path& state_dir) {
  return {state_dir / "certs" / "edge-ca-quickstart.cert.pem",
          state_dir / "certs" / "edge-ca-quickstart.key.pem"};
}

core::Result<EdgeCa> ensure_quickstart_edge_ca(const std::filesystem::path& state_dir,
                                               std::uint32_t expiry_days, SystemTime now,
                                               std::string& why) {
  if (expiry_days == 0) {
    why = "[edge_ca] auto_generated_edge_ca_expiry_days must be at least 1";
    return Errc::no_edge_ca;
  }
  const auto paths = QuickstartPaths::in(state_dir);
  if (auto existing = load_quickstart(paths, now)) return existing;

  if (auto dir = files::ensure_directory(paths.cert.parent_path(), 0755, why); !dir) {
    return dir.error();
  }
  CertificateSpec spec;
  spec.common_name = kQuickstartCn;
  spec.not_before = now - std::chrono::hours(1);  // tolerate device clocks a little behind
  spec.not_after = now + std::chrono::hours(24) * expiry_days;
  spec.is_ca = true;
  spec.key_cert_sign = true;
  auto pair = make_certificate(spec, KeyAlgorithm::ec_p256, nullptr, why);
  if (!pair) return pair.error();
  // Key first: a crash between the writes leaves a key without its certificate, which the next
  // start treats as missing and regenerates, never a certificate whose key is gone.
  if (auto r = files::write_atomic(paths.key, pair->key_pem, 0600, why); !r) return r.error();
  if (auto r = files::write_atomic(paths.cert, pair->cert_pem, 0644, why); !r) return r.error();
  auto loaded = load_quickstart(paths, now);
  if (!loaded) {
    why = paths.cert.string() + ": the quickstart Edge CA just written does not load back";
    return loaded.error();
  }
  return loaded;
}

core::Result<EdgeCa> open_edge_ca(const config::GatewayConfig& config, SystemTime now,
                                  std::string& why) {
  const auto& edge = config.edge_ca;
  if (edge.cert || edge.pk) {
    if (!edge.cert || !edge.pk) {
      why = std::string("[edge_ca] needs both cert and pk (only ") + (edge.cert ? "cert" : "pk") +
            " is set in " + config.source_file.string() + ")";
      return Errc::no_edge_ca;
    }
    if (!config.trust_bundle_cert) {
      why = config.source_file.string() +
            ": trust_bundle_cert is not set; with [edge_ca] cert and pk it must name the root CA "
            "that issued the Edge CA (devices trust the same file)";
      return Errc::no_trust_bundle;
    }
    return load_edge_ca(*edge.cert, *edge.pk, *config.trust_bundle_cert, now, why);
  }
  // As aziot: without cert and pk, a quickstart CA (90 days unless configured).
  return ensure_quickstart_edge_ca(
      config.state_dir, edge.auto_generated_expiry_days.value_or(kQuickstartDefaultDays), now, why);
}

core::Result<std::string> edge_ca_fingerprint(const std::filesystem::path& cert_file,
                                              const std::filesystem::path& key_file,
                                              std::string& why) {
  auto cert = files::read_pem_file(cert_file, why);
  if (!cert) return cert.error();
  auto key = files::read_pem_file(key_file, why);
  if (!key) return key.error();
  return fingerprint_of(*cert, *key);
}

std::string quickstart_warning(const EdgeCa& ca) {
  return "using a quickstart Edge CA (" + ca.common_name + ", expires " + utc(ca.not_after) +
         "), NOT FOR PRODUCTION: set [edge_ca] cert and pk to your own CA. Give devices " +
         ca.cert_file.string() + " as their trusted root";
}

}  // namespace edgehub::pki
