#pragma once

// Certificate building blocks with no OpenSSL types in the interface: keys and certificates cross
// it as PEM text. Used by the Edge CA and server-certificate code, by the demo PKI generator and by
// tests that need unusual certificates (not a CA, expired, wrong CN, ...).
//
// Thread-safe: every function is reentrant. None throws; failures return a pki::Errc and set `why`.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"

namespace edgehub::pki {

using core::SystemTime;

enum class KeyAlgorithm { ec_p256, ec_p384, rsa2048, rsa3072 };

/// A fresh private key as PKCS#8 PEM.
core::Result<std::string> generate_key(KeyAlgorithm algorithm, std::string& why);

/// What to put in a certificate. Defaults describe an end-entity certificate.
struct CertificateSpec {
  std::string common_name;
  SystemTime not_before;
  SystemTime not_after;
  bool is_ca = false;             ///< basicConstraints CA:TRUE (critical)
  bool key_cert_sign = false;     ///< keyUsage keyCertSign + cRLSign
  bool digital_signature = true;  ///< keyUsage digitalSignature
  bool server_auth = false;       ///< extendedKeyUsage serverAuth
  bool client_auth = false;       ///< extendedKeyUsage clientAuth
  /// subjectAltName entries; each is an IP address when it parses as one, else a DNS name.
  std::vector<std::string> subject_alt_names;
};

/// A certificate and its private key, both PEM.
struct KeyAndCertificate {
  std::string cert_pem;
  std::string key_pem;
};

/// Signs `spec` for the public half of `key_pem` with `issuer` (its key signs, its subject becomes
/// the issuer name); when `issuer` is null the certificate is self-signed. The serial is 128 bits
/// of randomness. Returns the certificate PEM.
core::Result<std::string> sign_certificate(const CertificateSpec& spec, std::string_view key_pem,
                                           const KeyAndCertificate* issuer, std::string& why);

/// generate_key + sign_certificate.
core::Result<KeyAndCertificate> make_certificate(const CertificateSpec& spec,
                                                 KeyAlgorithm algorithm,
                                                 const KeyAndCertificate* issuer, std::string& why);

/// What a certificate says, for logs, tests and `edgehubctl check`.
struct CertificateInfo {
  std::string subject;      ///< one-line RFC 2253 form
  std::string common_name;  ///< empty when the subject has no CN
  std::string issuer;
  std::string serial_hex;  ///< upper-case hex, no separators
  SystemTime not_before;
  SystemTime not_after;
  bool is_ca = false;
  bool key_cert_sign = false;  ///< keyUsage absent counts as false
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  std::string sha1_thumbprint;    ///< upper-case hex of SHA-1 over the DER, as IoT Hub shows it
  std::string sha256_thumbprint;  ///< upper-case hex of SHA-256 over the DER
};

/// Every CERTIFICATE block of `pem`, in order. Fails with garbage_pem when there is none or one
/// does not decode, unexpected_pem_block for other PEM kinds (a key). `source` names the origin in
/// `why`.
core::Result<std::vector<CertificateInfo>> describe_certificates(std::string_view pem,
                                                                 std::string_view source,
                                                                 std::string& why);

/// True when `text` parses as an IPv4 or IPv6 address.
bool is_ip_address(std::string_view text);

/// True when `name` is usable as a DNS subjectAltName (letters, digits, '-', '.', optional leading
/// "*." wildcard, labels of 1-63 characters, 253 at most).
bool is_dns_name(std::string_view name);

}  // namespace edgehub::pki
