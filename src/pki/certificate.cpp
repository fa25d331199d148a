#include "edgehub/pki/certificate.hpp"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/rand.h>

#include <array>
#include <cctype>

#include "edgehub/pki/errors.hpp"
#include "pki/ossl.hpp"

namespace edgehub::pki {
namespace {

using ossl::Free;

bool add_extension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION_free>> ext(
      X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

bool set_serial(X509* cert) {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return false;
  bytes[0] &= 0x7f;  // a positive INTEGER without a padding byte
  bytes[0] |= 0x40;  // and always 16 bytes long, so serials print with the same width
  std::unique_ptr<BIGNUM, Free<BN_free>> bn(
      BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  return bn && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr;
}

bool set_time(ASN1_TIME* field, SystemTime t) {
  return ASN1_TIME_set(field, std::chrono::system_clock::to_time_t(t)) != nullptr;
}

core::Result<void> add_subject_alt_names(X509* cert, const std::vector<std::string>& sans,
                                         std::string& why) {
  if (sans.empty()) return {};
  std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES_free>> names(sk_GENERAL_NAME_new_null());
  if (!names) return Errc::crypto_failure;
  for (const auto& san : sans) {
    std::unique_ptr<GENERAL_NAME, Free<GENERAL_NAME_free>> gn(GENERAL_NAME_new());
    if (!gn) return Errc::crypto_failure;
    if (is_ip_address(san)) {
      ASN1_OCTET_STRING* ip = a2i_IPADDRESS(san.c_str());
      if (ip == nullptr) return Errc::crypto_failure;
      GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, ip);
    } else if (is_dns_name(san)) {
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      if (dns == nullptr) return Errc::crypto_failure;
      if (ASN1_STRING_set(dns, san.data(), static_cast<int>(san.size())) != 1) {
        ASN1_IA5STRING_free(dns);
        return Errc::crypto_failure;
      }
      GENERAL_NAME_set0_value(gn.get(), GEN_DNS, dns);
    } else {
      why = "'" + san + "' is neither an IP address nor a valid DNS name";
      return Errc::invalid_name;
    }
    if (sk_GENERAL_NAME_push(names.get(), gn.get()) == 0) return Errc::crypto_failure;
    gn.release();  // owned by the stack now
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return Errc::crypto_failure;
  }
  return {};
}

const EVP_MD* digest_for(EVP_PKEY* signing_key) {
  if (EVP_PKEY_get_base_id(signing_key) == EVP_PKEY_EC && EVP_PKEY_get_bits(signing_key) >= 384) {
    return EVP_sha384();
  }
  return EVP_sha256();
}

}  // namespace

core::Result<std::string> generate_key(KeyAlgorithm algorithm, std::string& why) {
  ossl::ErrorQueueGuard guard;
  EVP_PKEY* raw = nullptr;
  switch (algorithm) {
    case KeyAlgorithm::ec_p256:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyAlgorithm::ec_p384:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeyAlgorithm::rsa2048:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
      break;
    case KeyAlgorithm::rsa3072:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(3072));
      break;
  }
  std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>> key(raw);
  if (!key) {
    why = "key generation failed: " + ossl::last_error();
    return Errc::crypto_failure;
  }
  std::string pem = ossl::to_pem(key.get());
  if (pem.empty()) {
    why = "key encoding failed: " + ossl::last_error();
    return Errc::crypto_failure;
  }
  return pem;
}

core::Result<std::string> sign_certificate(const CertificateSpec& spec, std::string_view key_pem,
                                           const KeyAndCertificate* issuer, std::string& why) {
  ossl::ErrorQueueGuard guard;
  auto subject_key = ossl::parse_private_key(key_pem);
  if (!subject_key) {
    why = "the subject key does not parse";
    return subject_key.error();
  }
  std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>> issuer_key;
  std::unique_ptr<X509, Free<X509_free>> issuer_cert;
  if (issuer != nullptr) {
    auto k = ossl::parse_private_key(issuer->key_pem);
    std::string block;
    auto c = ossl::parse_certificates(issuer->cert_pem, block);
    if (!k || !c) {
      why = "the issuer's key or certificate does not parse";
      return k ? c.error() : k.error();
    }
    issuer_key = std::move(*k);
    issuer_cert = std::move(c->front());
  }
  if (spec.common_name.empty() || spec.common_name.size() > 64) {
    why = "the common name must be 1 to 64 characters";
    return Errc::invalid_name;
  }
  if (spec.not_after <= spec.not_before) {
    why = "the certificate's validity period is empty";
    return Errc::invalid_name;
  }

  std::unique_ptr<X509, Free<X509_free>> cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1 || !set_serial(cert.get()) ||
      !set_time(X509_getm_notBefore(cert.get()), spec.not_before) ||
      !set_time(X509_getm_notAfter(cert.get()), spec.not_after) ||
      X509_set_pubkey(cert.get(), subject_key->get()) != 1) {
    why = "building the certificate failed: " + ossl::last_error();
    return Errc::crypto_failure;
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                                 -1, -1, 0) != 1) {
    why = "the common name '" + spec.common_name + "' is not valid in a certificate";
    return Errc::invalid_name;
  }
  X509* signer_cert = issuer_cert ? issuer_cert.get() : cert.get();
  EVP_PKEY* signer_key = issuer_key ? issuer_key.get() : subject_key->get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer_cert)) != 1) {
    return Errc::crypto_failure;
  }

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, signer_cert, cert.get(), nullptr, nullptr, 0);
  std::string usage;
  auto add_usage = [&usage](const char* u) {
    usage += usage.empty() ? "critical," : ",";
    usage += u;
  };
  if (spec.digital_signature) add_usage("digitalSignature");
  if (spec.digital_signature && !spec.is_ca &&
      EVP_PKEY_get_base_id(subject_key->get()) == EVP_PKEY_RSA) {
    add_usage("keyEncipherment");  // TLS 1.2 RSA key transport
  }
  if (spec.key_cert_sign) {
    add_usage("keyCertSign");
    add_usage("cRLSign");
  }
  std::string eku;
  if (spec.server_auth) eku = "serverAuth";
  if (spec.client_auth) eku += eku.empty() ? "clientAuth" : ",clientAuth";

  bool ok = add_extension(cert.get(), &ctx, NID_basic_constraints,
                          spec.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
            add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash") &&
            (usage.empty() || add_extension(cert.get(), &ctx, NID_key_usage, usage)) &&
            (eku.empty() || add_extension(cert.get(), &ctx, NID_ext_key_usage, eku));
  if (ok && issuer_cert) {
    // Optional: an issuer without a subjectKeyIdentifier simply gets no AKI in its children.
    if (!add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid")) ERR_clear_error();
  }
  if (!ok) {
    why = "adding certificate extensions failed: " + ossl::last_error();
    return Errc::crypto_failure;
  }
  if (auto sans = add_subject_alt_names(cert.get(), spec.subject_alt_names, why); !sans) {
    return sans.error();
  }
  if (X509_sign(cert.get(), signer_key, digest_for(signer_key)) <= 0) {
    why = "signing the certificate failed: " + ossl::last_error();
    return Errc::crypto_failure;
  }
  return ossl::to_pem(cert.get());
}

core::Result<KeyAndCertificate> make_certificate(const CertificateSpec& spec,
                                                 KeyAlgorithm algorithm,
                                                 const KeyAndCertificate* issuer,
                                                 std::string& why) {
  auto key = generate_key(algorithm, why);
  if (!key) return key.error();
  auto cert = sign_certificate(spec, *key, issuer, why);
  if (!cert) return cert.error();
  return KeyAndCertificate{std::move(*cert), std::move(*key)};
}

core::Result<std::vector<CertificateInfo>> describe_certificates(std::string_view pem,
                                                                 std::string_view source,
                                                                 std::string& why) {
  std::string block;
  auto certs = ossl::parse_certificates(pem, block);
  if (!certs) {
    if (certs.error() == make_error_code(Errc::unexpected_pem_block)) {
      why = std::string(source) + ": holds a " + block + " where a CERTIFICATE was expected";
    } else {
      why = std::string(source) + ": not a PEM certificate (expected -----BEGIN CERTIFICATE-----)";
    }
    return certs.error();
  }
  std::vector<CertificateInfo> out;
  for (const auto& cert : *certs) {
    CertificateInfo info;
    info.subject = ossl::name_oneline(X509_get_subject_name(cert.get()));
    info.common_name = ossl::common_name(X509_get_subject_name(cert.get()));
    info.issuer = ossl::name_oneline(X509_get_issuer_name(cert.get()));
    info.serial_hex = ossl::serial_hex(cert.get());
    info.not_before = ossl::to_system_time(X509_get0_notBefore(cert.get()));
    info.not_after = ossl::to_system_time(X509_get0_notAfter(cert.get()));
    info.is_ca = ossl::is_ca(cert.get());
    info.key_cert_sign = ossl::has_key_cert_sign(cert.get());
    ossl::subject_alt_names(cert.get(), info.dns_names, info.ip_addresses);
    info.sha1_thumbprint = ossl::digest_hex(cert.get(), EVP_sha1());
    info.sha256_thumbprint = ossl::digest_hex(cert.get(), EVP_sha256());
    out.push_back(std::move(info));
  }
  return out;
}

bool is_ip_address(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  const std::string s(text);
  std::array<unsigned char, 16> buf{};
  return inet_pton(AF_INET, s.c_str(), buf.data()) == 1 ||
         inet_pton(AF_INET6, s.c_str(), buf.data()) == 1;
}

bool is_dns_name(std::string_view name) {
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  char previous = '.';
  for (const char c : name) {
    if (c == '.') {
      if (label == 0 || previous == '-') return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-') {
      if (label == 0 && c == '-') return false;
      if (++label > 63) return false;
    } else {
      return false;
    }
    previous = c;
  }
  return label != 0 && previous != '-';
}

}  // namespace edgehub::pki
