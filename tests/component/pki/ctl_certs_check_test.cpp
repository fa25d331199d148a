// `edgehubctl certs demo` and the certificate section of `edgehubctl check`, end to end: the real
// binary on generated PKIs, checking what is printed and the exit code (1 for certificate
// problems, 78 stays reserved for configuration errors).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "edgehub/pki/certificate.hpp"
#include "support/pki/test_pki.hpp"

namespace edgehub {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

struct Run {
  int exit_code = -1;
  std::string out;
};

// Arguments are our own test paths; single quotes keep the shell from interpreting them.
Run run_ctl(const std::vector<std::string>& args) {
  std::string cmd = std::string("'") + EDGEHUBCTL_PATH + "'";
  for (const auto& a : args)
    cmd += " '" + a + "'";
  cmd += " 2>&1";
  Run r;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0)
    r.out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// A valid config.toml naming the given PKI files.
fs::path write_config(const fs::path& dir, const fs::path& root, const fs::path& cert,
                      const fs::path& key, const std::string& hostname = "gw.example.local") {
  const fs::path file = dir / "config.toml";
  test::write_file(file, "hostname = \"" + hostname + "\"\ntrust_bundle_cert = \"file://" +
                             root.string() + "\"\n\n[edge_ca]\ncert = \"file://" + cert.string() +
                             "\"\npk = \"file://" + key.string() +
                             "\"\n\n[gateway]\ndevice_id = \"gw-1\"\n"
                             "iothub_hostname = \"hub.azure-devices.net\"\nstate_dir = \"" +
                             (dir / "state").string() + "\"\n");
  return file;
}

fs::path write_config(const test::TestPki& pki) {
  return write_config(pki.dir.path(), pki.files.root_cert, pki.files.edge_ca_full_chain,
                      pki.files.edge_ca_key);
}

TEST(CtlCertsDemo, GeneratesFilesAndPrintsConfigLinesAndThumbprints) {
  test::TempDir dir;
  const auto r = run_ctl({"certs", "demo", "--dir", dir.path().string(), "--edge-name", "gw",
                          "--device", "dev1", "--device", "dev2"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const fs::path certs = dir.path() / "certs";
  const fs::path priv = dir.path() / "private";
  for (const auto& f :
       {certs / "azure-iot-test-only.root.ca.cert.pem", certs / "iot-edge-device-ca-gw.cert.pem",
        certs / "iot-edge-device-ca-gw-full-chain.cert.pem",
        priv / "azure-iot-test-only.root.ca.key.pem", priv / "iot-edge-device-ca-gw.key.pem",
        certs / "iot-device-dev1-full-chain.cert.pem", priv / "iot-device-dev2.key.pem",
        certs / "iot-device-dev2-selfsigned.cert.pem"}) {
    EXPECT_TRUE(fs::exists(f)) << f;
  }
  EXPECT_THAT(r.out, HasSubstr("trust_bundle_cert = \"file://" +
                               (certs / "azure-iot-test-only.root.ca.cert.pem").string() + "\""));
  EXPECT_THAT(r.out, HasSubstr("pk = \"file://" +
                               (priv / "iot-edge-device-ca-gw.key.pem").string() + "\""));

  std::string why;
  auto self = pki::describe_certificates(
      test::read_file(certs / "iot-device-dev1-selfsigned.cert.pem"), "dev1", why);
  ASSERT_TRUE(self) << why;
  EXPECT_THAT(r.out, HasSubstr(self->front().sha1_thumbprint));
  EXPECT_THAT(r.out, HasSubstr(self->front().sha256_thumbprint));

  // What it printed is a configuration `check` accepts as it is.
  const fs::path config = dir.path() / "config.toml";
  const auto snippet_start = r.out.find("trust_bundle_cert");
  const auto snippet_end = r.out.find("\ndevice ");
  test::write_file(config, "hostname = \"gw.example.local\"\n" +
                               r.out.substr(snippet_start, snippet_end - snippet_start) +
                               "\n[gateway]\ndevice_id = \"gw-1\"\n"
                               "iothub_hostname = \"hub.azure-devices.net\"\n"
                               "state_dir = \"" +
                               (dir.path() / "state").string() + "\"\n");
  const auto check = run_ctl({"check", "--config", config.string()});
  EXPECT_EQ(check.exit_code, 0) << check.out;
  EXPECT_THAT(check.out, Not(HasSubstr("\u2717"))) << check.out;
}

TEST(CtlCertsDemo, UsageErrorsExitTwo) {
  EXPECT_EQ(run_ctl({"certs"}).exit_code, 64);
  EXPECT_EQ(run_ctl({"certs", "demo"}).exit_code, 64);
  EXPECT_EQ(run_ctl({"certs", "demo", "--dir"}).exit_code, 64);
  EXPECT_EQ(run_ctl({"certs", "demo", "--dir", "/tmp/x", "--days", "zero"}).exit_code, 64);
  EXPECT_EQ(run_ctl({"certs", "demo", "--dir", "/tmp/x", "--bogus"}).exit_code, 64);
  EXPECT_EQ(run_ctl({"certs", "renew"}).exit_code, 64);
  EXPECT_EQ(run_ctl({"certs", "--help"}).exit_code, 0);
}

TEST(CtlCertsDemo, BadDeviceIdFailsWithMessage) {
  test::TempDir dir;
  const auto r = run_ctl({"certs", "demo", "--dir", dir.path().string(), "--device", "a/b"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("device id 'a/b'"));
}

TEST(CtlCheckCertificates, HealthyDemoPkiPasses) {
  auto pki = test::make_test_pki();
  const auto r = run_ctl({"check", "--config", write_config(pki).string()});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Certificates"));
  EXPECT_THAT(r.out, HasSubstr("\u2713 Edge CA key (EC P-256) matches the certificate"));
  EXPECT_THAT(r.out, Not(HasSubstr("\u2717")));
}

TEST(CtlCheckCertificates, GroupReadableKeyReportsChmodFixAndExitsOne) {
  auto pki = test::make_test_pki();
  fs::permissions(pki.files.edge_ca_key, fs::perms(0644));
  const auto r = run_ctl({"check", "--config", write_config(pki).string()});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out,
              HasSubstr("\u2717 Edge CA key " + pki.files.edge_ca_key.string() + " has mode 0644"));
  EXPECT_THAT(r.out, HasSubstr("chmod 600 " + pki.files.edge_ca_key.string()));
}

TEST(CtlCheckCertificates, NonCaEdgeCaExitsOne) {
  auto pki = test::make_test_pki();
  pki::CertificateSpec spec;
  spec.common_name = "not a CA";
  spec.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
  spec.not_after = std::chrono::system_clock::now() + std::chrono::hours(24 * 100);
  pki::KeyAndCertificate root{test::read_file(pki.files.root_cert),
                              test::read_file(pki.files.root_key)};
  std::string why;
  auto leaf = pki::make_certificate(spec, pki::KeyAlgorithm::ec_p256, &root, why);
  ASSERT_TRUE(leaf) << why;
  test::write_file(pki.files.edge_ca_full_chain, leaf->cert_pem + root.cert_pem);
  test::write_file(pki.files.edge_ca_key, leaf->key_pem, fs::perms(0600));
  const auto r = run_ctl({"check", "--config", write_config(pki).string()});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\u2717 Edge CA CN=not a CA is not a CA"));
  EXPECT_THAT(r.out, HasSubstr("CA:TRUE"));
}

TEST(CtlCheckCertificates, KeyMismatchExitsOne) {
  auto pki = test::make_test_pki();
  auto other = test::make_test_pki();
  fs::copy_file(other.files.edge_ca_key, pki.files.edge_ca_key,
                fs::copy_options::overwrite_existing);
  const auto r = run_ctl({"check", "--config", write_config(pki).string()});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out,
              HasSubstr("does not match certificate " + pki.files.edge_ca_full_chain.string()));
}

TEST(CtlCheckCertificates, ExpiringCertificateWarnsAndExitsZero) {
  test::TestPkiOptions options;
  options.validity = std::chrono::hours(24 * 10);
  auto pki = test::make_test_pki(options);
  const auto r = run_ctl({"check", "--config", write_config(pki).string()});
  EXPECT_EQ(r.exit_code, 0) << r.out;  // a warning, not yet a failure
  EXPECT_THAT(r.out, HasSubstr("expires in 10 days"));
  EXPECT_THAT(r.out, HasSubstr("\u26a0"));
}

TEST(CtlCheckCertificates, MissingFilesAndConfigOnly) {
  test::TempDir dir;
  const auto config = write_config(dir.path(), dir.path() / "root.pem", dir.path() / "ca.pem",
                                   dir.path() / "k.pem");
  const auto r = run_ctl({"check", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr((dir.path() / "ca.pem").string() + ": file not found"));
  const auto only = run_ctl({"check", "--config", config.string(), "--config-only"});
  EXPECT_EQ(only.exit_code, 0) << only.out;
  EXPECT_THAT(only.out, Not(HasSubstr("Certificates")));
}

TEST(CtlCheckCertificates, EdgeCaNamedLikeTheHostnameExitsOne) {
  test::TestPkiOptions options;
  options.edge_name = "gw.example.local";  // CN iot-edge-device-ca-gw.example.local
  auto pki = test::make_test_pki(options);
  const auto config =
      write_config(pki.dir.path(), pki.files.root_cert, pki.files.edge_ca_full_chain,
                   pki.files.edge_ca_key, "iot-edge-device-ca-gw.example.local");
  const auto r = run_ctl({"check", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Edge CA common name equals the hostname"));
}

}  // namespace
}  // namespace edgehub
