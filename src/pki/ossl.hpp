#pragma once

// OpenSSL plumbing private to the pki module: owning pointers, PEM parsing, time conversion. The
// OpenSSL error queue is per thread and shared with the TLS code, so every entry point that may
// fail clears it on the way out (ErrorQueueGuard) instead of leaving stale errors behind.

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"

namespace edgehub::pki::ossl {

/// unique_ptr deleter calling an OpenSSL free function.
template <auto FreeFn>
struct Free {
  template <typename T>
  void operator()(T* p) const noexcept {
    FreeFn(p);
  }
};

/// Owns a stack of X509 and the certificates in it.
struct FreeX509Stack {
  void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_pop_free(s, X509_free); }
};

class ErrorQueueGuard {
 public:
  ErrorQueueGuard() = default;
  ErrorQueueGuard(const ErrorQueueGuard&) = delete;
  ErrorQueueGuard& operator=(const ErrorQueueGuard&) = delete;
  ~ErrorQueueGuard() { ERR_clear_error(); }
};

/// The newest OpenSSL error as text, or "unknown error"; for crypto_failure messages.
std::string last_error();

/// Parses every CERTIFICATE block of `pem`. Errors: garbage_pem, unexpected_pem_block (with the
/// block name in `found_block`).
core::Result<std::vector<std::unique_ptr<X509, Free<X509_free>>>> parse_certificates(
    std::string_view pem, std::string& found_block);

/// Parses a PEM private key (PKCS#8 or traditional RSA/EC). Errors: garbage_pem, encrypted_key,
/// unexpected_pem_block (a certificate given as a key).
core::Result<std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>> parse_private_key(
    std::string_view pem);

/// RSA >= 2048 bits or EC on P-256/P-384. `description` gets e.g. "EC P-256" or "RSA 1024".
bool is_supported_key(EVP_PKEY* key, std::string& description);

std::string to_pem(X509* cert);
std::string to_pem(EVP_PKEY* key);

core::SystemTime to_system_time(const ASN1_TIME* t);
std::string serial_hex(X509* cert);
std::string digest_hex(X509* cert, const EVP_MD* md);
std::string common_name(X509_NAME* name);
std::string name_oneline(X509_NAME* name);

bool is_ca(X509* cert);
bool has_key_cert_sign(X509* cert);

/// The certificate's DNS and IP subjectAltNames.
void subject_alt_names(X509* cert, std::vector<std::string>& dns, std::vector<std::string>& ips);

/// True when `cert` was signed by the key of `issuer` and names it as issuer.
bool issued_by(X509* cert, X509* issuer);

/// X509_verify_cert of chain[0] with chain[1..] as untrusted intermediates against `roots`, at
/// `now`. Returns X509_V_OK or the X509_V_ERR_* code (-1 when OpenSSL could not run it).
int verify_to_roots(const std::vector<std::unique_ptr<X509, Free<X509_free>>>& chain,
                    const std::vector<std::unique_ptr<X509, Free<X509_free>>>& roots,
                    core::SystemTime now);

}  // namespace edgehub::pki::ossl
