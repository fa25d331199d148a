// Issue 3 acceptance 6 (start-up half): missing files, garbage PEM and a key that does not match
// stop start-up with exit 1 and a message naming the file — never a crash.

#include <signal.h>

#include <filesystem>

#include "integration/tls/tls_fixture.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

class TlsStartupErrors : public ::testing::Test {
 protected:
  RunResult run_with(const std::filesystem::path& cert, const std::filesystem::path& key) {
    auto text = tls_config(pki_, dir_, ports_);
    auto replace = [&](const std::filesystem::path& from, const std::filesystem::path& to) {
      const auto needle = "file://" + from.string();
      text.replace(text.find(needle), needle.size(), "file://" + to.string());
    };
    replace(pki_.files.edge_ca_full_chain, cert);
    replace(pki_.files.edge_ca_key, key);
    write_file(dir_ / "config.toml", text);
    return run_command(
        {EDGEHUBD_BINARY, "--config", (dir_ / "config.toml").string(), "--log-target", "stderr"},
        dir_.path(), 30s);
  }

  test::TestPki pki_ = test::make_test_pki_for({});
  TempDir dir_;
  GatewayPorts ports_;
};

TEST_F(TlsStartupErrors, MissingCertificateFile) {
  const auto missing = dir_ / "nope.pem";
  const auto r = run_with(missing, pki_.files.edge_ca_key);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find(missing.string()), std::string::npos) << r.err;
}

TEST_F(TlsStartupErrors, GarbagePem) {
  const auto garbage = dir_ / "garbage.pem";
  test::write_file(garbage,
                   "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
  const auto r = run_with(garbage, pki_.files.edge_ca_key);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find(garbage.string()), std::string::npos) << r.err;
}

TEST_F(TlsStartupErrors, KeyThatDoesNotMatchTheCertificate) {
  auto other = test::make_test_pki_for({});
  const auto r = run_with(pki_.files.edge_ca_full_chain, other.files.edge_ca_key);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find(other.files.edge_ca_key.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("match"), std::string::npos) << r.err;
}

TEST_F(TlsStartupErrors, PortAlreadyInUseNamesTheListenerKey) {
  GatewayPorts taken = ports_;
  TempDir first_dir;
  write_file(first_dir / "config.toml", tls_config(pki_, first_dir, taken));
  ChildProcess first(
      {EDGEHUBD_BINARY, "--config", (first_dir / "config.toml").string(), "--log-target", "stderr"},
      {}, first_dir.path());
  for (int i = 0; i < 100 && !tcp_port_open(taken.https); ++i)
    std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(tcp_port_open(taken.https));
  ports_.metrics = free_tcp_port();
  const auto r = run_with(pki_.files.edge_ca_full_chain, pki_.files.edge_ca_key);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("[gateway.listen] mqtt"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace edgehub::testing

namespace edgehub::testing {
namespace {

TEST(IdentitiesStartup, GroupReadableIdentitiesFileStopsStartupWithTheChmodFix) {
  auto pki = test::make_test_pki_for({});
  TempDir dir;
  GatewayPorts ports;
  const auto identities = dir / "identities.toml";
  test::write_file(identities,
                   "[[device]]\nid = \"d1\"\nauth = \"sas\"\nprimary_key = "
                   "\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\"\n",
                   std::filesystem::perms(0644));
  write_file(dir / "config.toml",
             tls_config(pki, dir, ports, "identities = \"file://" + identities.string() + "\"\n"));
  const auto r = run_command(
      {EDGEHUBD_BINARY, "--config", (dir / "config.toml").string(), "--log-target", "stderr"},
      dir.path(), std::chrono::seconds(30));
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("chmod 600 " + identities.string()), std::string::npos) << r.err;

  std::filesystem::permissions(identities, std::filesystem::perms(0600));
  NotifySocket notify(dir / "n.sock");
  ChildProcess ok(
      {EDGEHUBD_BINARY, "--config", (dir / "config.toml").string(), "--log-target", "stderr"},
      {notify.env()}, dir.path());
  ASSERT_TRUE(notify.wait_for("READY=1", std::chrono::seconds(20))) << ok.stderr_text();
  EXPECT_NE(ok.stderr_text().find("1 identities from"), std::string::npos) << ok.stderr_text();
  ok.signal(SIGTERM);
  EXPECT_EQ(ok.wait_for(std::chrono::seconds(15)), 0);
}

}  // namespace
}  // namespace edgehub::testing
