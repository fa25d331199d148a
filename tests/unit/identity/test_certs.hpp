#pragma once

// In-process X.509 fixtures for the identity tests: EC P-256 keys and certificates with chosen
// subject, issuer, validity and CA flags. Built with OpenSSL directly so that the tests do not
// depend on files or on the pki module.

#include <cstdint>
#include <memory>
#include <string>

struct x509_st;
struct evp_pkey_st;

namespace edgehub::identity::test {

struct TestCert {
  std::shared_ptr<x509_st> cert;
  std::shared_ptr<evp_pkey_st> key;

  std::string der() const;
  std::string pem() const;
};

struct CertSpec {
  std::string common_name;
  bool ca = false;
  std::int64_t not_before = 0;  ///< unix seconds
  std::int64_t not_after = 0;
  const TestCert* issuer = nullptr;  ///< nullptr: self-signed
};

/// An empty TestCert when OpenSSL fails; callers ASSERT that cert is set.
TestCert make_cert(const CertSpec& spec);

}  // namespace edgehub::identity::test
