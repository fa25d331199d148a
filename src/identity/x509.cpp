#include "edgehub/identity/x509.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <sstream>

#include "identity/crypto.hpp"

namespace edgehub::identity {

struct TrustBundle::Impl {
  X509_STORE* store = nullptr;
  std::size_t count = 0;
  ~Impl() { X509_STORE_free(store); }
};

namespace {

struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

struct StackFree {
  void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_pop_free(s, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), StackFree>;

struct CtxFree {
  void operator()(X509_STORE_CTX* c) const noexcept { X509_STORE_CTX_free(c); }
};

X509Ptr parse_der(std::string_view der) {
  if (der.empty() || der.size() > (1u << 20)) return nullptr;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  // Trailing bytes mean the TLS layer handed over something other than one certificate.
  if (cert && p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) return nullptr;
  return cert;
}

std::optional<core::SystemTime> to_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string common_name(X509* cert) {
  X509_NAME* subject = X509_get_subject_name(cert);
  int index = -1;
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    index = i;
  }
  if (index < 0) return {};
  unsigned char* utf8 = nullptr;
  const int len =
      ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
  if (len < 0) return {};
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

core::Result<CertificateFacts> facts_of(X509* cert, std::string_view der) {
  CertificateFacts facts;
  const auto not_before = to_time(X509_get0_notBefore(cert));
  const auto not_after = to_time(X509_get0_notAfter(cert));
  if (!not_before || !not_after) return Errc::malformed_certificate;
  facts.not_before = *not_before;
  facts.not_after = *not_after;
  facts.common_name = common_name(cert);
  facts.sha1 = detail::sha1(detail::as_bytes(der));
  facts.sha256 = detail::sha256(detail::as_bytes(der));
  return facts;
}

bool within_validity(const CertificateFacts& facts, core::SystemTime now) {
  return facts.not_before <= now && now <= facts.not_after;
}

}  // namespace

core::Result<TrustBundle> TrustBundle::from_pem(std::string_view pem) {
  auto impl = std::make_shared<Impl>();
  impl->store = X509_STORE_new();
  if (impl->store == nullptr || pem.size() > (16u << 20)) return Errc::trust_bundle_unreadable;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return Errc::trust_bundle_unreadable;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (X509_STORE_add_cert(impl->store, cert) == 1) ++impl->count;
    X509_free(cert);
  }
  BIO_free(bio);
  // PEM_read_bio_X509 ends with a "no start line" error on the queue; it is not a failure.
  ERR_clear_error();
  if (impl->count == 0) return Errc::trust_bundle_unreadable;
  // A trust bundle may hold an intermediate (the CA uploaded to IoT Hub need not be a root):
  // accept chains that end at any certificate in the bundle.
  X509_STORE_set_flags(impl->store, X509_V_FLAG_PARTIAL_CHAIN);
  return TrustBundle(std::move(impl));
}

core::Result<TrustBundle> TrustBundle::load_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Errc::trust_bundle_unreadable;
  std::ostringstream text;
  text << in.rdbuf();
  return from_pem(text.str());
}

std::size_t TrustBundle::size() const noexcept {
  return impl_->count;
}

core::Result<CertificateFacts> inspect_certificate(std::string_view der) {
  const X509Ptr cert = parse_der(der);
  if (!cert) {
    ERR_clear_error();
    return Errc::malformed_certificate;
  }
  return facts_of(cert.get(), der);
}

bool thumbprint_matches(std::string_view der, std::span<const Bytes> thumbprints) {
  const Bytes sha1 = detail::sha1(detail::as_bytes(der));
  const Bytes sha256 = detail::sha256(detail::as_bytes(der));
  bool matched = false;
  for (const auto& expected : thumbprints) {
    const Bytes& actual = expected.size() == sha1.size() ? sha1 : sha256;
    matched = detail::equal_constant_time(actual, expected) || matched;
  }
  return matched;
}

core::Result<CertificateFacts> check_thumbprint(const ClientCertificate& cert,
                                                std::span<const Bytes> thumbprints,
                                                core::SystemTime now) {
  if (!thumbprint_matches(cert.leaf_der, thumbprints)) return Errc::thumbprint_mismatch;
  auto facts = inspect_certificate(cert.leaf_der);
  if (!facts) return facts.error();
  if (!within_validity(*facts, now)) return Errc::certificate_expired;
  return facts;
}

core::Result<VerifiedChain> check_ca_chain(const ClientCertificate& cert, const TrustBundle& trust,
                                           std::string_view device_id, core::SystemTime now) {
  const X509Ptr leaf = parse_der(cert.leaf_der);
  if (!leaf) {
    ERR_clear_error();
    return Errc::malformed_certificate;
  }
  X509StackPtr untrusted(sk_X509_new_null());
  if (!untrusted) return Errc::untrusted_chain;
  for (const auto& der : cert.chain_der) {
    // A client that repeats its leaf in the chain must not pay for a second parse.
    if (der == cert.leaf_der) continue;
    X509Ptr extra = parse_der(der);
    if (!extra) {
      ERR_clear_error();
      return Errc::malformed_certificate;
    }
    if (sk_X509_push(untrusted.get(), extra.get()) > 0) extra.release();
  }

  std::unique_ptr<X509_STORE_CTX, CtxFree> ctx(X509_STORE_CTX_new());
  if (!ctx ||
      X509_STORE_CTX_init(ctx.get(), trust.impl().store, leaf.get(), untrusted.get()) != 1) {
    ERR_clear_error();
    return Errc::untrusted_chain;
  }
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()),
                             std::chrono::system_clock::to_time_t(now));
  const int verified = X509_verify_cert(ctx.get());
  const int error = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (verified != 1) {
    if (error == X509_V_ERR_CERT_HAS_EXPIRED || error == X509_V_ERR_CERT_NOT_YET_VALID) {
      return Errc::certificate_expired;
    }
    return Errc::untrusted_chain;
  }
  // Ordinal comparison, as edgeHub: device ids are case-sensitive.
  if (common_name(leaf.get()) != device_id) return Errc::wrong_common_name;

  auto facts = facts_of(leaf.get(), cert.leaf_der);
  if (!facts) return facts.error();
  VerifiedChain result{std::move(*facts), {}, {}};
  result.not_before = result.leaf.not_before;
  result.not_after = result.leaf.not_after;
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    X509* link = sk_X509_value(chain, i);
    const auto nb = to_time(X509_get0_notBefore(link));
    const auto na = to_time(X509_get0_notAfter(link));
    if (!nb || !na) return Errc::malformed_certificate;
    result.not_before = std::max(result.not_before, *nb);
    result.not_after = std::min(result.not_after, *na);
  }
  return result;
}

}  // namespace edgehub::identity
