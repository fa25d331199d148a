// X.509 identities end to end with the demo PKI (the files `edgehubctl certs demo` writes):
// identities added with `edgehubctl identity add`, loaded from the file, and the demo device
// certificates checked by the Authenticator against the demo root as trust bundle.

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/wait.h>

#include "edgehub/identity/authenticator.hpp"
#include "support/pki/test_pki.hpp"
#include "unit/identity/fake_clock.hpp"

namespace edgehub::identity {
namespace {

using core::ClientId;

const std::string kCtl = std::string(EDGEHUB_BINARY_DIR) + "/src/app/edgehubctl";

// Every certificate of a PEM file, DER encoded, in file order.
std::vector<std::string> pem_to_der(const std::filesystem::path& file) {
  const std::string pem = edgehub::test::read_file(file);
  std::vector<std::string> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    unsigned char* der = nullptr;
    const int len = i2d_X509(cert, &der);
    if (len > 0) out.emplace_back(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    X509_free(cert);
  }
  BIO_free(bio);
  return out;
}

// What the TLS layer would hand over for a client presenting `file` (leaf first).
ClientCertificate presented(const std::filesystem::path& file) {
  auto der = pem_to_der(file);
  ClientCertificate cert;
  if (der.empty()) return cert;
  cert.leaf_der = der.front();
  cert.chain_der.assign(der.begin() + 1, der.end());
  return cert;
}

class DemoPkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    edgehub::test::TestPkiOptions options;
    options.devices = {"dev-ca", "dev-thumb1", "dev-thumb256", "dev-old"};
    options.expired_devices = {"dev-old"};
    options.now = core::SystemTime{std::chrono::seconds{test::kT0}};
    pki_.emplace(edgehub::test::make_test_pki(options));
    ids_ = pki_->dir.path() / "identities.toml";
  }

  const pki::DemoDevice& device(std::string_view id) const {
    for (const auto& d : pki_->files.devices) {
      if (d.id == id) return d;
    }
    throw std::runtime_error("no demo device " + std::string(id));
  }

  int ctl(const std::string& args) const {
    const std::string command = "'" + kCtl + "' " + args + " --file '" + ids_.string() +
                                "' --gateway gw.local >/dev/null 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::optional<edgehub::test::TestPki> pki_;
  std::filesystem::path ids_;
};

TEST_F(DemoPkiTest, DemoDeviceCertificatesAuthenticate) {
  ASSERT_EQ(ctl("identity add dev-ca --x509-ca"), 0);
  ASSERT_EQ(ctl("identity add dev-old --x509-ca"), 0);
  ASSERT_EQ(
      ctl("identity add dev-thumb1 --x509-thumbprint " + device("dev-thumb1").sha1_thumbprint), 0);
  ASSERT_EQ(ctl("identity add dev-thumb256 --x509-thumbprint " +
                device("dev-thumb256").sha256_thumbprint),
            0);

  Registry registry(ids_, "gw-edge");
  std::vector<RegistryIssue> issues;
  ASSERT_TRUE(registry.load(issues)) << issues.at(0).to_string();
  test::FakeClock clock(test::kT0 + test::kDay);
  ops::Registry metrics;
  auto authenticator = Authenticator::create(
      {"hub.azure-devices.net", "gw.local", pki_->files.root_cert}, registry, clock, metrics);
  ASSERT_TRUE(authenticator) << authenticator.error().message();
  auto& auth = **authenticator;

  auto ca = auth.authenticate({"dev-ca", ""}, presented(device("dev-ca").cert));
  ASSERT_TRUE(ca) << ca.error().message();
  EXPECT_EQ(ca->method, AuthType::x509_ca);

  auto sha1 =
      auth.authenticate({"dev-thumb1", ""}, presented(device("dev-thumb1").selfsigned_cert));
  ASSERT_TRUE(sha1) << sha1.error().message();
  EXPECT_EQ(sha1->method, AuthType::x509_thumbprint);
  auto sha256 =
      auth.authenticate({"dev-thumb256", ""}, presented(device("dev-thumb256").selfsigned_cert));
  ASSERT_TRUE(sha256) << sha256.error().message();

  // The CA-signed certificate of another device: right chain, wrong CN.
  EXPECT_EQ(auth.authenticate({"dev-ca", ""}, presented(device("dev-thumb1").cert)).error(),
            Errc::wrong_common_name);
  // A self-signed certificate does not chain to the root.
  EXPECT_EQ(auth.authenticate({"dev-ca", ""}, presented(device("dev-ca").selfsigned_cert)).error(),
            Errc::untrusted_chain);
  // Another device's self-signed certificate has another thumbprint.
  EXPECT_EQ(auth.authenticate({"dev-thumb1", ""}, presented(device("dev-thumb256").selfsigned_cert))
                .error(),
            Errc::thumbprint_mismatch);
  // Issued already expired by the demo generator.
  EXPECT_EQ(auth.authenticate({"dev-old", ""}, presented(device("dev-old").cert)).error(),
            Errc::certificate_expired);
  EXPECT_EQ(metrics.counter(kConnectFailedMetric, "", {"id", "reason"})
                .with({"dev-ca", "wrong_common_name"})
                .value(),
            1u);
}

TEST_F(DemoPkiTest, EdgeCaFullChainAsTrustBundleAlsoVerifiesDevices) {
  // Operators sometimes point trust_bundle_cert at a bundle holding more than the root.
  auto bundle = TrustBundle::load_file(pki_->files.edge_ca_full_chain);
  ASSERT_TRUE(bundle);
  EXPECT_EQ(bundle->size(), 2u);
  EXPECT_TRUE(check_ca_chain(presented(device("dev-ca").cert), *bundle, "dev-ca",
                             core::SystemTime{std::chrono::seconds{test::kT0 + test::kDay}}));
}

}  // namespace
}  // namespace edgehub::identity
