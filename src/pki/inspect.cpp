#include "edgehub/pki/inspect.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "edgehub/pki/certificate.hpp"
#include "edgehub/pki/errors.hpp"
#include "edgehub/pki/server_cert.hpp"
#include "pki/files.hpp"
#include "pki/ossl.hpp"

namespace edgehub::pki {
namespace {

using ossl::Free;
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;

constexpr int kCertMode = 0644;

std::string octal(int mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string describe(X509* cert) {
  const std::string cn = ossl::common_name(X509_get_subject_name(cert));
  return cn.empty() ? ossl::name_oneline(X509_get_subject_name(cert)) : "CN=" + cn;
}

class Inspector {
 public:
  explicit Inspector(const InspectInput& input) : in_(input) {}

  std::vector<CertFinding> run() {
    std::vector<X509Ptr> bundle;
    std::vector<X509Ptr> chain;
    if (in_.trust_bundle) {
      if (auto certs = read_certs(*in_.trust_bundle, "trust bundle", "trust_bundle_cert")) {
        bundle = std::move(*certs);
        cert_permissions(*in_.trust_bundle, "trust bundle");
        for (const auto& c : bundle)
          expiry(c.get(), "trust bundle");
      }
    }
    if (in_.edge_ca_cert && in_.edge_ca_key) {
      if (!in_.trust_bundle) {
        add(CertSeverity::error, "trust_bundle_cert is not set",
            "with [edge_ca] cert and pk, devices need the root that issued the Edge CA",
            "set trust_bundle_cert = \"file:///PATH/TO/ROOT.pem\" in config.toml");
      }
      if (auto certs = read_certs(*in_.edge_ca_cert, "Edge CA certificate", "[edge_ca] cert")) {
        chain = std::move(*certs);
        cert_permissions(*in_.edge_ca_cert, "Edge CA certificate");
        edge_ca_flags(chain.front().get());
        chain_order(chain);
        for (const auto& c : chain)
          expiry(c.get(), "Edge CA chain");
        hostname_vs_edge_ca(chain.front().get());
      }
      edge_ca_key(chain);
      if (!chain.empty() && !bundle.empty()) chain_to_bundle(chain, bundle);
    } else if (in_.edge_ca_cert || in_.edge_ca_key) {
      add(CertSeverity::error, "[edge_ca] needs both cert and pk", "",
          "set both [edge_ca] cert and pk in config.toml (edgehubctl certs demo --dir DIR makes "
          "a test pair)");
    } else {
      add(CertSeverity::warning,
          "Edge CA: quickstart CA generated in state_dir, valid " +
              std::to_string(in_.quickstart_expiry_days.value_or(90)) +
              " days (not for production)",
          "devices must trust state_dir/certs/edge-ca-quickstart.cert.pem",
          "set [edge_ca] cert and pk to a CA from your PKI (trust_bundle_cert = its root)");
    }
    hostname_usable();
    if (in_.state_dir) server_certificate();
    return std::move(findings_);
  }

 private:
  void add(CertSeverity severity, std::string title, std::string detail = {},
           std::string fix = {}) {
    findings_.push_back({severity, std::move(title), std::move(detail), std::move(fix)});
  }

  std::optional<std::vector<X509Ptr>> read_certs(const std::filesystem::path& file,
                                                 const std::string& what, const char* key) {
    std::string why;
    auto text = files::read_pem_file(file, why);
    if (!text) {
      add(CertSeverity::error, what + ": " + why, "",
          std::string("fix ") + key + " in config.toml or create the file");
      return std::nullopt;
    }
    std::string block;
    auto certs = ossl::parse_certificates(*text, block);
    if (!certs) {
      const bool wrong_kind = certs.error() == make_error_code(Errc::unexpected_pem_block);
      add(CertSeverity::error,
          what + " " + file.string() + ": " +
              (wrong_kind ? "holds a " + block + ", not certificates"
                          : std::string("not PEM (expected -----BEGIN CERTIFICATE-----)")),
          "",
          wrong_kind ? std::string("point ") + key + " at the certificate file"
                     : "openssl x509 -inform der -in " + file.string() + " -out " + file.string() +
                           ".pem, then point " + key + " at the .pem");
      return std::nullopt;
    }
    add(CertSeverity::ok, what + " " + file.string() + " is PEM with " +
                              std::to_string(certs->size()) + " certificate" +
                              (certs->size() == 1 ? "" : "s"));
    return std::move(*certs);
  }

  void cert_permissions(const std::filesystem::path& file, const std::string& what) {
    const int mode = files::permission_bits(file);
    if (mode < 0) return;
    if (mode != kCertMode) {
      add(CertSeverity::warning,
          what + " " + file.string() + " has mode " + octal(mode) + ", expected 0644", "",
          "chmod 644 " + file.string());
    } else {
      add(CertSeverity::ok, what + " " + file.string() + " has mode 0644");
    }
  }

  void expiry(X509* cert, const std::string& what) {
    const auto not_before = ossl::to_system_time(X509_get0_notBefore(cert));
    const auto not_after = ossl::to_system_time(X509_get0_notAfter(cert));
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(not_after - in_.now);
    const long days = static_cast<long>(left.count() / 86400);
    const std::string name = what + " " + describe(cert);
    if (in_.now < not_before) {
      add(CertSeverity::error, name + " is not yet valid", "",
          "check the system clock (timedatectl) or reissue the certificate");
    } else if (left.count() <= 0) {
      add(CertSeverity::error, name + " has expired", "",
          "renew the certificate (edgehubctl certs demo --dir DIR for a test PKI)");
    } else if (left < in_.expiry_warning) {
      add(CertSeverity::warning,
          name + " expires in " + std::to_string(days) + (days == 1 ? " day" : " days"), "",
          "renew the certificate before it expires");
    } else {
      add(CertSeverity::ok, name + " is valid for " + std::to_string(days) + " more days");
    }
  }

  void edge_ca_flags(X509* leaf) {
    const std::string name = "Edge CA " + describe(leaf);
    if (!ossl::is_ca(leaf)) {
      add(CertSeverity::error, name + " is not a CA (basicConstraints CA:TRUE missing)",
          "the first certificate of [edge_ca] cert must be the Edge CA itself",
          "reissue the Edge CA with basicConstraints=critical,CA:TRUE (edgehubctl certs demo "
          "--dir DIR shows a working set)");
    } else if (!ossl::has_key_cert_sign(leaf)) {
      add(CertSeverity::error, name + " lacks the keyCertSign key usage", "",
          "reissue the Edge CA with keyUsage=critical,digitalSignature,keyCertSign,cRLSign");
    } else {
      add(CertSeverity::ok, name + " is a CA with keyCertSign");
    }
  }

  void chain_order(const std::vector<X509Ptr>& chain) {
    for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
      if (!ossl::issued_by(chain[i].get(), chain[i + 1].get())) {
        add(CertSeverity::error,
            "Edge CA chain out of order: " + describe(chain[i].get()) + " is not issued by " +
                describe(chain[i + 1].get()),
            "",
            "list the Edge CA first, then each issuer: cat edge-ca.pem intermediate.pem > " +
                in_.edge_ca_cert->string());
        return;
      }
    }
    if (chain.size() > 1) add(CertSeverity::ok, "Edge CA chain is in order");
  }

  void edge_ca_key(const std::vector<X509Ptr>& chain) {
    const auto& file = *in_.edge_ca_key;
    std::string why;
    const int mode = files::permission_bits(file);
    if (mode >= 0 && (mode & 077) != 0) {
      add(CertSeverity::error,
          "Edge CA key " + file.string() + " has mode " + octal(mode) +
              " (readable or writable by group/others)",
          "private keys must be 0600", "chmod 600 " + file.string());
    } else if (mode >= 0) {
      add(CertSeverity::ok, "Edge CA key " + file.string() + " has mode " + octal(mode));
    }
    auto text = files::read_pem_file(file, why);
    if (!text) {
      add(CertSeverity::error, "Edge CA key: " + why, "",
          "fix [edge_ca] pk in config.toml or create the file");
      return;
    }
    auto key = ossl::parse_private_key(*text);
    if (!key) {
      const auto ec = key.error();
      add(CertSeverity::error,
          "Edge CA key " + file.string() + ": " +
              (ec == make_error_code(Errc::encrypted_key)          ? "encrypted"
               : ec == make_error_code(Errc::unexpected_pem_block) ? "holds no private key"
                                                                   : "not a PEM private key"),
          "",
          ec == make_error_code(Errc::encrypted_key)
              ? "openssl pkey -in " + file.string() + " -out KEY.pem && chmod 600 KEY.pem"
              : "point [edge_ca] pk at the Edge CA's PEM private key");
      return;
    }
    std::string description;
    if (!ossl::is_supported_key(key->get(), description)) {
      add(CertSeverity::error, "Edge CA key " + file.string() + " is " + description,
          "supported: RSA 2048+ or EC P-256/P-384", "issue a new Edge CA with a supported key");
      return;
    }
    if (chain.empty()) return;
    ossl::ErrorQueueGuard guard;
    if (EVP_PKEY_eq(X509_get0_pubkey(chain.front().get()), key->get()) != 1) {
      add(CertSeverity::error,
          "Edge CA key " + file.string() + " does not match certificate " +
              in_.edge_ca_cert->string(),
          "",
          "point [edge_ca] pk at the key of this certificate, or regenerate the pair; compare "
          "with: openssl x509 -in " +
              in_.edge_ca_cert->string() + " -noout -pubkey; openssl pkey -in " + file.string() +
              " -pubout");
    } else {
      add(CertSeverity::ok, "Edge CA key (" + description + ") matches the certificate");
    }
  }

  void chain_to_bundle(const std::vector<X509Ptr>& chain, const std::vector<X509Ptr>& bundle) {
    const int err = ossl::verify_to_roots(chain, bundle, in_.now);
    // Expiry is reported per certificate above; do not report it twice.
    if (err == X509_V_OK || err == X509_V_ERR_CERT_HAS_EXPIRED ||
        err == X509_V_ERR_CERT_NOT_YET_VALID) {
      if (err == X509_V_OK) add(CertSeverity::ok, "Edge CA chain verifies to the trust bundle");
      return;
    }
    add(CertSeverity::error,
        "Edge CA chain does not verify to the trust bundle " + in_.trust_bundle->string(),
        err < 0 ? "verification could not run" : X509_verify_cert_error_string(err),
        "point trust_bundle_cert at the root that issued the Edge CA: openssl verify -CAfile "
        "ROOT.pem " +
            in_.edge_ca_cert->string());
  }

  void hostname_vs_edge_ca(X509* leaf) {
    const std::string cn = ossl::common_name(X509_get_subject_name(leaf));
    if (!in_.hostname.empty() && lower(cn) == lower(in_.hostname)) {
      add(CertSeverity::error, "Edge CA common name equals the hostname '" + in_.hostname + "'",
          "TLS clients would take the CA for the server certificate; IoT Edge forbids this too",
          "issue an Edge CA with another CN (edgehubctl certs demo --dir DIR --edge-name NAME "
          "uses iot-edge-device-ca-NAME)");
    } else {
      add(CertSeverity::ok, "Edge CA common name differs from the hostname");
    }
  }

  void hostname_usable() {
    if (in_.hostname.empty()) return;  // the config check reports a missing hostname
    if (!is_dns_name(in_.hostname) && !is_ip_address(in_.hostname)) {
      add(CertSeverity::error,
          "hostname '" + in_.hostname + "' cannot be put in the server certificate",
          "letters, digits, '-' and '.' only (RFC 1123), or an IP address",
          "set hostname in config.toml to the name devices use as GatewayHostName");
    } else {
      add(CertSeverity::ok, "server certificate will be issued for " + in_.hostname);
    }
  }

  /// The certificate a previous run issued: informational, since edgehubd re-issues it at start
  /// when it no longer fits, except for an exposed key, which is an error.
  void server_certificate() {
    const auto paths = ServerCertPaths::in(*in_.state_dir);
    std::error_code ec;
    if (!std::filesystem::exists(paths.cert, ec)) {
      add(CertSeverity::ok, "no server certificate in " + paths.cert.parent_path().string() +
                                " yet; edgehubd issues one at start");
      return;
    }
    const int mode = files::permission_bits(paths.key);
    if (mode >= 0 && (mode & 077) != 0) {
      add(CertSeverity::error,
          "server key " + paths.key.string() + " has mode " + octal(mode) +
              " (readable or writable by group/others)",
          "", "chmod 600 " + paths.key.string());
    }
    std::string why;
    auto text = files::read_pem_file(paths.cert, why);
    auto info = text ? describe_certificates(*text, paths.cert.string(), why)
                     : core::Result<std::vector<CertificateInfo>>(text.error());
    if (!info) {
      add(CertSeverity::warning, "server certificate " + paths.cert.string() + " is unusable", why,
          "none needed: edgehubd issues a new one at start");
      return;
    }
    const auto& leaf = info->front();
    std::vector<std::string> names = leaf.dns_names;
    names.insert(names.end(), leaf.ip_addresses.begin(), leaf.ip_addresses.end());
    ServerCertPolicy issued_for;
    if (!names.empty()) {
      issued_for.hostname = names.front();
      issued_for.extra_sans.assign(names.begin() + 1, names.end());
    }
    ServerCertPolicy wanted;
    wanted.hostname = in_.hostname;
    wanted.extra_sans = in_.extra_sans;
    std::string list;
    for (const auto& n : issued_for.sans())
      list += (list.empty() ? "" : ", ") + n;
    if (names.empty() || issued_for.sans() != wanted.sans()) {
      add(CertSeverity::warning,
          "server certificate in state_dir is for " + (list.empty() ? "no names" : list) +
              ", not the configured hostname and server_cert_extra_sans",
          "", "none needed: edgehubd issues a new one at its next start or reload");
    } else if (in_.now >= leaf.not_after) {
      add(CertSeverity::warning, "server certificate in state_dir has expired", "",
          "none needed: edgehubd issues a new one at start");
    } else {
      add(CertSeverity::ok, "server certificate in state_dir covers " + list);
    }
  }

  const InspectInput& in_;
  std::vector<CertFinding> findings_;
};

}  // namespace

InspectInput inspect_input_from(const config::GatewayConfig& config, core::SystemTime now) {
  InspectInput in;
  in.trust_bundle = config.trust_bundle_cert;
  in.edge_ca_cert = config.edge_ca.cert;
  in.edge_ca_key = config.edge_ca.pk;
  in.quickstart_expiry_days = config.edge_ca.auto_generated_expiry_days;
  in.hostname = config.hostname;
  in.extra_sans = config.server_cert_extra_sans;
  in.state_dir = config.state_dir;
  in.now = now;
  return in;
}

std::vector<CertFinding> inspect_certificates(const InspectInput& input) {
  return Inspector(input).run();
}

}  // namespace edgehub::pki
