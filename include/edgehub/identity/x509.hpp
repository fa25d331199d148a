#pragma once

// X.509 client-certificate checks (design.md §5, edgehub-reference.md §2.2). The TLS layer
// requests but does not verify client certificates; after the handshake it hands the DER bytes
// here, so no OpenSSL type crosses this header.
//
// Getting the input from an SSL* (in net/): leaf = i2d_X509(SSL_get0_peer_certificate(ssl));
// chain = i2d_X509 of each SSL_get_peer_cert_chain(ssl) element (on the server side OpenSSL's
// chain excludes the leaf; a repeated leaf is tolerated anyway).

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/identity/errors.hpp"
#include "edgehub/identity/keys.hpp"

namespace edgehub::identity {

/// A client certificate as presented in the TLS handshake, DER encoded.
struct ClientCertificate {
  std::string leaf_der;
  std::vector<std::string> chain_der;  ///< intermediates as sent by the client, leaf first or not
};

/// The CA certificates that CA-signed identities must chain to (`trust_bundle_cert`).
/// Immutable once built; safe to share between threads.
class TrustBundle {
 public:
  /// PEM text with one or more certificates. Errc::trust_bundle_unreadable if none parses.
  static core::Result<TrustBundle> from_pem(std::string_view pem);
  /// Reads a PEM file. Errc::trust_bundle_unreadable when missing, unreadable or empty.
  static core::Result<TrustBundle> load_file(const std::filesystem::path& file);

  std::size_t size() const noexcept;

  struct Impl;
  const Impl& impl() const noexcept { return *impl_; }

 private:
  explicit TrustBundle(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

/// Facts about a leaf certificate that the checks and operators need.
struct CertificateFacts {
  std::string common_name;  ///< the last CN of the subject; empty when absent
  Bytes sha1;               ///< thumbprint over the DER
  Bytes sha256;
  core::SystemTime not_before;
  core::SystemTime not_after;
};

/// Parses the leaf. Errc::malformed_certificate on bad DER (trailing bytes included).
/// Cost note: OpenSSL 3.0 decodes the public key eagerly; one parse is ~100+ µs of CPU, which is
/// why the checks below parse each certificate once and the Authenticator caches successes.
core::Result<CertificateFacts> inspect_certificate(std::string_view der);

/// Whether the SHA-1 or SHA-256 thumbprint of `der` (hashed as bytes, without parsing) equals one
/// of `thumbprints`. Constant time per candidate.
bool thumbprint_matches(std::string_view der, std::span<const Bytes> thumbprints);

/// Thumbprint identity: the leaf's SHA-1 or SHA-256 thumbprint equals one of `thumbprints` and
/// `now` is within its validity. The chain is not verified, as in IoT Hub: thumbprint
/// certificates are usually self-signed. The thumbprint is compared before the certificate is
/// parsed, so a stranger's certificate costs two hashes, not a parse.
/// Returns the leaf's facts. Errors: thumbprint_mismatch, malformed_certificate,
/// certificate_expired.
core::Result<CertificateFacts> check_thumbprint(const ClientCertificate& cert,
                                                std::span<const Bytes> thumbprints,
                                                core::SystemTime now);

/// A chain that verified: the leaf, and the window in which every certificate of the verified
/// chain (leaf, intermediates, trust anchor) is valid.
struct VerifiedChain {
  CertificateFacts leaf;
  core::SystemTime not_before;  ///< the latest notBefore of the chain
  core::SystemTime not_after;   ///< the earliest notAfter of the chain
};

/// CA identity: the leaf verifies against `trust` (with the presented intermediates as untrusted
/// helpers, at time `now`, for TLS client use) and its CN equals `device_id` ordinally.
/// Errors: malformed_certificate, certificate_expired, untrusted_chain, wrong_common_name.
core::Result<VerifiedChain> check_ca_chain(const ClientCertificate& cert, const TrustBundle& trust,
                                           std::string_view device_id, core::SystemTime now);

}  // namespace edgehub::identity
