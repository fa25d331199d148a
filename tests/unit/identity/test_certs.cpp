#include "test_certs.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace edgehub::identity::test {
namespace {

bool add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

std::string TestCert::der() const {
  unsigned char* out = nullptr;
  const int len = i2d_X509(cert.get(), &out);
  if (len <= 0) return {};
  std::string der(reinterpret_cast<char*>(out), static_cast<std::size_t>(len));
  OPENSSL_free(out);
  return der;
}

std::string TestCert::pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert.get());
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return pem;
}

TestCert make_cert(const CertSpec& spec) {
  static long serial = 1;
  TestCert out;
  out.key = std::shared_ptr<EVP_PKEY>(EVP_EC_gen("P-256"), EVP_PKEY_free);
  out.cert = std::shared_ptr<X509>(X509_new(), X509_free);
  if (!out.key || !out.cert) return {};
  X509* x = out.cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  ASN1_TIME_set(X509_getm_notBefore(x), static_cast<time_t>(spec.not_before));
  ASN1_TIME_set(X509_getm_notAfter(x), static_cast<time_t>(spec.not_after));
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("edgehubd tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* issuer = spec.issuer ? spec.issuer->cert.get() : x;
  EVP_PKEY* signer = spec.issuer ? spec.issuer->key.get() : out.key.get();
  X509_set_issuer_name(x, X509_get_subject_name(issuer));
  X509_set_pubkey(x, out.key.get());
  bool ok = true;
  if (spec.ca) {
    ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE") &&
         add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
         add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") &&
         add_ext(x, issuer, NID_ext_key_usage, "clientAuth");
  }
  ok = ok && add_ext(x, issuer, NID_subject_key_identifier, "hash");
  if (spec.issuer) ok = ok && add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
  if (!ok || X509_sign(x, signer, EVP_sha256()) <= 0) return {};
  return out;
}

}  // namespace edgehub::identity::test
