// X.509 client-certificate checks: thumbprints (SHA-1, SHA-256) and CA chains with CN = device id.

#include "edgehub/identity/x509.hpp"

#include <gtest/gtest.h>

#include "fake_clock.hpp"
#include "test_certs.hpp"

namespace edgehub::identity {
namespace {

using test::kDay;
using test::kT0;

core::SystemTime at(std::int64_t s) {
  return core::SystemTime{std::chrono::seconds{s}};
}

class X509Test : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = test::make_cert({"Test Root CA", true, kT0 - 10 * kDay, kT0 + 3650 * kDay, nullptr});
    intermediate_ =
        test::make_cert({"Test Intermediate CA", true, kT0 - 10 * kDay, kT0 + 1000 * kDay, &root_});
    leaf_ = test::make_cert({"dev1", false, kT0 - kDay, kT0 + 365 * kDay, &intermediate_});
    self_signed_ = test::make_cert({"camera", false, kT0 - kDay, kT0 + 30 * kDay, nullptr});
    ASSERT_TRUE(root_.cert && intermediate_.cert && leaf_.cert && self_signed_.cert);
    auto bundle = TrustBundle::from_pem(root_.pem());
    ASSERT_TRUE(bundle);
    trust_ = std::make_shared<TrustBundle>(std::move(*bundle));
  }

  ClientCertificate chain_of(const test::TestCert& leaf) const {
    return {leaf.der(), {intermediate_.der()}};
  }

  test::TestCert root_, intermediate_, leaf_, self_signed_;
  std::shared_ptr<TrustBundle> trust_;
};

TEST_F(X509Test, InspectReadsCommonNameThumbprintsAndValidity) {
  auto facts = inspect_certificate(leaf_.der());
  ASSERT_TRUE(facts);
  EXPECT_EQ(facts->common_name, "dev1");
  EXPECT_EQ(facts->sha1.size(), 20u);
  EXPECT_EQ(facts->sha256.size(), 32u);
  EXPECT_EQ(facts->not_before, at(kT0 - kDay));
  EXPECT_EQ(facts->not_after, at(kT0 + 365 * kDay));
}

TEST_F(X509Test, GarbageIsMalformed) {
  EXPECT_EQ(inspect_certificate("").error(), Errc::malformed_certificate);
  EXPECT_EQ(inspect_certificate("\x30\x03\x02\x01\x01").error(), Errc::malformed_certificate);
  EXPECT_EQ(inspect_certificate(leaf_.der() + "x").error(), Errc::malformed_certificate);
  const std::string der = leaf_.der();
  EXPECT_EQ(inspect_certificate(der.substr(0, der.size() / 2)).error(),
            Errc::malformed_certificate);
}

TEST_F(X509Test, Sha1ThumbprintMatches) {
  const auto facts = *inspect_certificate(self_signed_.der());
  const std::vector<Bytes> thumbprints = {facts.sha1};
  EXPECT_TRUE(check_thumbprint({self_signed_.der(), {}}, thumbprints, at(kT0)));
}

TEST_F(X509Test, Sha256ThumbprintMatches) {
  const auto facts = *inspect_certificate(self_signed_.der());
  const std::vector<Bytes> thumbprints = {facts.sha256};
  EXPECT_TRUE(check_thumbprint({self_signed_.der(), {}}, thumbprints, at(kT0)));
}

TEST_F(X509Test, SecondaryThumbprintMatches) {
  const auto facts = *inspect_certificate(self_signed_.der());
  const std::vector<Bytes> thumbprints = {Bytes(20, 0xAB), facts.sha256};
  EXPECT_TRUE(check_thumbprint({self_signed_.der(), {}}, thumbprints, at(kT0)));
}

TEST_F(X509Test, OtherCertificateIsAThumbprintMismatch) {
  const auto facts = *inspect_certificate(self_signed_.der());
  const std::vector<Bytes> thumbprints = {facts.sha1, facts.sha256};
  EXPECT_EQ(check_thumbprint({leaf_.der(), {}}, thumbprints, at(kT0)).error(),
            Errc::thumbprint_mismatch);
}

TEST_F(X509Test, ThumbprintCertificateOutsideValidityIsExpired) {
  const auto facts = *inspect_certificate(self_signed_.der());
  const std::vector<Bytes> thumbprints = {facts.sha1};
  EXPECT_EQ(check_thumbprint({self_signed_.der(), {}}, thumbprints, at(kT0 + 31 * kDay)).error(),
            Errc::certificate_expired);
  EXPECT_EQ(check_thumbprint({self_signed_.der(), {}}, thumbprints, at(kT0 - 2 * kDay)).error(),
            Errc::certificate_expired);
}

TEST_F(X509Test, ChainThroughIntermediateIsAccepted) {
  EXPECT_TRUE(check_ca_chain(chain_of(leaf_), *trust_, "dev1", at(kT0)));
}

TEST_F(X509Test, ChainMayRepeatTheLeaf) {
  ClientCertificate cert{leaf_.der(), {leaf_.der(), intermediate_.der()}};
  EXPECT_TRUE(check_ca_chain(cert, *trust_, "dev1", at(kT0)));
}

TEST_F(X509Test, LeafSignedByTheRootIsAccepted) {
  const auto direct = test::make_cert({"dev2", false, kT0 - kDay, kT0 + kDay, &root_});
  EXPECT_TRUE(check_ca_chain({direct.der(), {}}, *trust_, "dev2", at(kT0)));
}

TEST_F(X509Test, MissingIntermediateIsAnUntrustedChain) {
  EXPECT_EQ(check_ca_chain({leaf_.der(), {}}, *trust_, "dev1", at(kT0)).error(),
            Errc::untrusted_chain);
}

TEST_F(X509Test, UnknownRootIsAnUntrustedChain) {
  const auto other_root = test::make_cert({"Other Root", true, kT0 - kDay, kT0 + kDay, nullptr});
  const auto other_leaf = test::make_cert({"dev1", false, kT0 - kDay, kT0 + kDay, &other_root});
  EXPECT_EQ(check_ca_chain({other_leaf.der(), {}}, *trust_, "dev1", at(kT0)).error(),
            Errc::untrusted_chain);
  // A self-signed certificate named like the device is not trusted either.
  const auto impostor = test::make_cert({"dev1", false, kT0 - kDay, kT0 + kDay, nullptr});
  EXPECT_EQ(check_ca_chain({impostor.der(), {}}, *trust_, "dev1", at(kT0)).error(),
            Errc::untrusted_chain);
}

TEST_F(X509Test, WrongCommonNameIsRefused) {
  EXPECT_EQ(check_ca_chain(chain_of(leaf_), *trust_, "dev2", at(kT0)).error(),
            Errc::wrong_common_name);
  // Ordinal: case matters.
  EXPECT_EQ(check_ca_chain(chain_of(leaf_), *trust_, "DEV1", at(kT0)).error(),
            Errc::wrong_common_name);
}

TEST_F(X509Test, ExpiredLeafIsRefusedAsExpired) {
  EXPECT_EQ(check_ca_chain(chain_of(leaf_), *trust_, "dev1", at(kT0 + 366 * kDay)).error(),
            Errc::certificate_expired);
  EXPECT_EQ(check_ca_chain(chain_of(leaf_), *trust_, "dev1", at(kT0 - 2 * kDay)).error(),
            Errc::certificate_expired);
}

TEST_F(X509Test, CaCertificateCannotActAsAClientLeaf) {
  // The intermediate is a CA, and its CN is not a device id anyway; verifying it as a client
  // leaf through the chain must not yield an identity named after it.
  EXPECT_FALSE(check_ca_chain({intermediate_.der(), {}}, *trust_, "dev1", at(kT0)));
}

TEST_F(X509Test, MalformedChainElementIsRefused) {
  ClientCertificate cert{leaf_.der(), {"garbage"}};
  EXPECT_EQ(check_ca_chain(cert, *trust_, "dev1", at(kT0)).error(), Errc::malformed_certificate);
}

TEST(TrustBundle, GarbageOrMissingIsUnreadable) {
  EXPECT_EQ(TrustBundle::from_pem("").error(), Errc::trust_bundle_unreadable);
  EXPECT_EQ(TrustBundle::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .error(),
            Errc::trust_bundle_unreadable);
  EXPECT_EQ(TrustBundle::load_file("/nonexistent/edgehubd/root.pem").error(),
            Errc::trust_bundle_unreadable);
}

TEST(TrustBundle, HoldsEveryCertificateOfTheFile) {
  const auto a = test::make_cert({"A", true, test::kT0, test::kT0 + test::kDay, nullptr});
  const auto b = test::make_cert({"B", true, test::kT0, test::kT0 + test::kDay, nullptr});
  auto bundle = TrustBundle::from_pem(a.pem() + "\n" + b.pem());
  ASSERT_TRUE(bundle);
  EXPECT_EQ(bundle->size(), 2u);
}

}  // namespace
}  // namespace edgehub::identity
