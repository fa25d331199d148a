// The demo PKI generator: file names and modes of IoT Edge's demo scripts, chains that OpenSSL's
// own `openssl verify` accepts, thumbprints that match the files.

#include "edgehub/pki/demo.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include "edgehub/pki/errors.hpp"
#include "support/pki/test_pki.hpp"

namespace edgehub::pki {
namespace {

using namespace std::chrono_literals;

int mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return static_cast<int>(st.st_mode & 0777);
}

/// Runs `openssl verify` (the real CLI, not our code) and returns its exit status.
int openssl_verify(const std::filesystem::path& ca, const std::filesystem::path& untrusted,
                   const std::filesystem::path& cert) {
  std::string cmd = "openssl verify -CAfile '" + ca.string() + "'";
  if (!untrusted.empty()) cmd += " -untrusted '" + untrusted.string() + "'";
  cmd += " '" + cert.string() + "' >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

SystemTime real_now() {
  return std::chrono::system_clock::now();
}

TEST(DemoPki, WritesIotEdgeFileNamesWithModes) {
  test::TempDir dir;
  std::string why;
  DemoPkiOptions options;
  options.dir = dir.path();
  options.edge_name = "gw1";
  options.devices = {"dev-a"};
  options.now = real_now();
  auto pki = generate_demo_pki(options, why);
  ASSERT_TRUE(pki) << why;
  const auto& d = dir.path();
  EXPECT_EQ(pki->root_cert, d / "certs/azure-iot-test-only.root.ca.cert.pem");
  EXPECT_EQ(pki->root_key, d / "private/azure-iot-test-only.root.ca.key.pem");
  EXPECT_EQ(pki->edge_ca_cert, d / "certs/iot-edge-device-ca-gw1.cert.pem");
  EXPECT_EQ(pki->edge_ca_full_chain, d / "certs/iot-edge-device-ca-gw1-full-chain.cert.pem");
  EXPECT_EQ(pki->edge_ca_key, d / "private/iot-edge-device-ca-gw1.key.pem");
  ASSERT_EQ(pki->devices.size(), 1u);
  EXPECT_EQ(pki->devices[0].cert, d / "certs/iot-device-dev-a-full-chain.cert.pem");
  EXPECT_EQ(pki->devices[0].key, d / "private/iot-device-dev-a.key.pem");
  EXPECT_EQ(pki->devices[0].selfsigned_cert, d / "certs/iot-device-dev-a-selfsigned.cert.pem");
  EXPECT_EQ(pki->devices[0].selfsigned_key, d / "private/iot-device-dev-a-selfsigned.key.pem");

  for (const auto& key :
       {pki->root_key, pki->edge_ca_key, pki->devices[0].key, pki->devices[0].selfsigned_key}) {
    EXPECT_EQ(mode_of(key), 0600) << key;
  }
  for (const auto& cert : {pki->root_cert, pki->edge_ca_cert, pki->edge_ca_full_chain,
                           pki->devices[0].cert, pki->devices[0].selfsigned_cert}) {
    EXPECT_EQ(mode_of(cert), 0644) << cert;
  }
  EXPECT_EQ(mode_of(d / "private"), 0700);
}

TEST(DemoPki, ChainsVerifyWithOpensslCli) {
  auto pki = test::make_test_pki_for({"dev-a", "dev-b"});
  const auto& f = pki.files;
  EXPECT_EQ(openssl_verify(f.root_cert, {}, f.edge_ca_cert), 0);
  EXPECT_EQ(openssl_verify(f.root_cert, {}, f.edge_ca_full_chain), 0);
  EXPECT_EQ(openssl_verify(f.root_cert, {}, f.devices[1].cert), 0);
  // The self-signed device certificate does not chain to the root: thumbprint auth only.
  EXPECT_NE(openssl_verify(f.root_cert, {}, f.devices[0].selfsigned_cert), 0);
}

TEST(DemoPki, RsaOptionMakesRsaChainsThatVerify) {
  test::TestPkiOptions options;
  options.devices = {"dev"};
  options.algorithm = KeyAlgorithm::rsa2048;
  auto pki = test::make_test_pki(options);
  EXPECT_NE(test::read_file(pki.files.edge_ca_key).find("BEGIN PRIVATE KEY"), std::string::npos);
  const int status = std::system(("openssl x509 -in '" + pki.files.edge_ca_cert.string() +
                                  "' -noout -text | grep -q 'Public Key Algorithm: rsaEncryption'")
                                     .c_str());
  EXPECT_EQ(status, 0);
  EXPECT_EQ(openssl_verify(pki.files.root_cert, {}, pki.files.edge_ca_full_chain), 0);
  EXPECT_EQ(openssl_verify(pki.files.root_cert, {}, pki.files.devices[0].cert), 0);
}

TEST(DemoPki, DeviceCertsCarryDeviceIdAsCnAndThumbprintsMatchFile) {
  auto pki = test::make_test_pki_for({"sensor-7"});
  const auto& dev = pki.files.devices[0];
  std::string why;
  auto chain = describe_certificates(test::read_file(dev.cert), "device", why);
  ASSERT_TRUE(chain) << why;
  ASSERT_EQ(chain->size(), 2u);  // device, root
  EXPECT_EQ((*chain)[0].common_name, "sensor-7");
  EXPECT_FALSE((*chain)[0].is_ca);
  EXPECT_TRUE((*chain)[1].is_ca);

  auto self = describe_certificates(test::read_file(dev.selfsigned_cert), "self", why);
  ASSERT_TRUE(self) << why;
  EXPECT_EQ((*self)[0].common_name, "sensor-7");
  EXPECT_EQ(dev.sha1_thumbprint, (*self)[0].sha1_thumbprint);
  EXPECT_EQ(dev.sha1_thumbprint.size(), 40u);
  EXPECT_EQ(dev.sha256_thumbprint.size(), 64u);

  // Cross-check against the OpenSSL CLI's fingerprint of the same file.
  const std::string cmd = "openssl x509 -in '" + dev.selfsigned_cert.string() +
                          "' -noout -fingerprint -sha1 | tr -d ':' | grep -qi " +
                          dev.sha1_thumbprint;
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST(DemoPki, ExpiredDeviceOptionIssuesExpiredCertificate) {
  const SystemTime now = real_now();
  test::TestPkiOptions options;
  options.devices = {"old", "new"};
  options.now = now;
  options.expired_devices = {"old"};
  auto pki = test::make_test_pki(options);
  std::string why;
  auto old_chain = describe_certificates(test::read_file(pki.files.devices[0].cert), "old", why);
  auto new_chain = describe_certificates(test::read_file(pki.files.devices[1].cert), "new", why);
  ASSERT_TRUE(old_chain && new_chain) << why;
  EXPECT_LT(old_chain->front().not_after, now);
  EXPECT_GT(new_chain->front().not_after, now);
  EXPECT_NE(openssl_verify(pki.files.root_cert, {}, pki.files.devices[0].cert), 0);
}

TEST(DemoPki, EdgeCaCommonNameIsNotTheEdgeName) {
  test::TestPkiOptions options;
  options.edge_name = "gw.example.local";
  auto pki = test::make_test_pki(options);
  std::string why;
  auto edge = describe_certificates(test::read_file(pki.files.edge_ca_cert), "edge", why);
  ASSERT_TRUE(edge) << why;
  EXPECT_EQ(edge->front().common_name, "iot-edge-device-ca-gw.example.local");
  EXPECT_TRUE(edge->front().is_ca);
  EXPECT_TRUE(edge->front().key_cert_sign);
}

TEST(DemoPki, RejectsIdsThatCannotBeFileNames) {
  test::TempDir dir;
  std::string why;
  DemoPkiOptions options;
  options.dir = dir.path();
  options.now = real_now();
  options.devices = {"../escape"};
  auto bad_device = generate_demo_pki(options, why);
  ASSERT_FALSE(bad_device);
  EXPECT_EQ(bad_device.error(), make_error_code(Errc::invalid_name));
  EXPECT_NE(why.find("../escape"), std::string::npos);
  options.devices = {};
  options.edge_name = "a/b";
  auto bad_edge = generate_demo_pki(options, why);
  ASSERT_FALSE(bad_edge);
  EXPECT_EQ(bad_edge.error(), make_error_code(Errc::invalid_name));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "certs"));
}

TEST(DemoPki, ConfigSnippetUsesFileUris) {
  auto pki = test::make_test_pki();
  const std::string snippet = demo_config_snippet(pki.files);
  EXPECT_NE(snippet.find("trust_bundle_cert = \"file://" + pki.files.root_cert.string() + "\""),
            std::string::npos);
  EXPECT_NE(snippet.find("[edge_ca]"), std::string::npos);
  EXPECT_NE(snippet.find("cert = \"file://" + pki.files.edge_ca_full_chain.string() + "\""),
            std::string::npos);
  EXPECT_NE(snippet.find("pk = \"file://" + pki.files.edge_ca_key.string() + "\""),
            std::string::npos);
}

}  // namespace
}  // namespace edgehub::pki
