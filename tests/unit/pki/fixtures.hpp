#pragma once

// Shared by the pki unit tests: a fixed clock reading and small builders for CA hierarchies,
// including deliberately broken ones.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "edgehub/pki/certificate.hpp"
#include "support/pki/test_pki.hpp"

namespace edgehub::pki::fixtures {

using namespace std::chrono_literals;

/// 2030-01-01T00:00:00Z: every test runs at this injected instant.
inline SystemTime t0() {
  return std::chrono::sys_days{std::chrono::year{2030} / 1 / 1};
}

inline constexpr auto kDay = std::chrono::hours(24);

struct CaOptions {
  std::string cn = "test CA";
  KeyAlgorithm algorithm = KeyAlgorithm::ec_p256;
  SystemTime not_before = t0() - kDay;
  SystemTime not_after = t0() + 365 * kDay;
  bool is_ca = true;
  bool key_cert_sign = true;
};

inline KeyAndCertificate make_ca(const CaOptions& o, const KeyAndCertificate* issuer = nullptr) {
  CertificateSpec spec;
  spec.common_name = o.cn;
  spec.not_before = o.not_before;
  spec.not_after = o.not_after;
  spec.is_ca = o.is_ca;
  spec.key_cert_sign = o.key_cert_sign;
  std::string why;
  auto pair = make_certificate(spec, o.algorithm, issuer, why);
  if (!pair) throw std::runtime_error("make_ca: " + why);
  return *pair;
}

inline KeyAndCertificate make_ca(const std::string& cn, const KeyAndCertificate* issuer = nullptr) {
  CaOptions o;
  o.cn = cn;
  return make_ca(o, issuer);
}

/// A root and an Edge CA written as [edge_ca] expects: full chain (edge, root), key 0600, root.
struct EdgeCaFiles {
  test::TempDir dir;
  KeyAndCertificate root;
  KeyAndCertificate edge;
  std::filesystem::path cert;
  std::filesystem::path key;
  std::filesystem::path trust_bundle;

  EdgeCaFiles() : EdgeCaFiles(make_ca("root"), CaOptions{}) {}
  EdgeCaFiles(KeyAndCertificate root_ca, CaOptions edge_options) : root(std::move(root_ca)) {
    if (edge_options.cn == "test CA") edge_options.cn = "edge CA";
    edge = make_ca(edge_options, &root);
    cert = dir.path() / "edge-ca.cert.pem";
    key = dir.path() / "edge-ca.key.pem";
    trust_bundle = dir.path() / "root.cert.pem";
    test::write_file(cert, edge.cert_pem + root.cert_pem);
    test::write_file(key, edge.key_pem, std::filesystem::perms(0600));
    test::write_file(trust_bundle, root.cert_pem);
  }
};

}  // namespace edgehub::pki::fixtures
