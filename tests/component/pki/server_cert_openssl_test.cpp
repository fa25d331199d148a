// The server certificate as a TLS client judges it: the OpenSSL CLI (`openssl verify` with the
// sslserver purpose and hostname/IP checks, at an injected time via -attime) on what pki issues
// from a demo PKI, for EC and RSA Edge CAs.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "edgehub/pki/edge_ca.hpp"
#include "edgehub/pki/server_cert.hpp"
#include "support/pki/test_pki.hpp"

namespace edgehub::pki {
namespace {

namespace fs = std::filesystem;

SystemTime t0() {
  return std::chrono::sys_days{std::chrono::year{2030} / 1 / 1};
}

long long epoch(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

struct Issued {
  test::TestPki pki;
  fs::path leaf;
  fs::path edge_chain;
};

Issued issue(KeyAlgorithm algorithm) {
  test::TestPkiOptions options;
  options.algorithm = algorithm;
  options.now = t0();
  options.validity = std::chrono::hours(24 * 365);
  Issued out{test::make_test_pki(options), {}, {}};
  std::string why;
  auto ca = load_edge_ca(out.pki.files.edge_ca_full_chain, out.pki.files.edge_ca_key,
                         out.pki.files.root_cert, t0(), why);
  if (!ca) throw std::runtime_error(why);
  ServerCertPolicy policy;
  policy.hostname = "gw.example.local";
  policy.extra_sans = {"10.0.0.5"};
  auto server = ensure_server_cert(out.pki.dir.path() / "state", *ca, policy, t0(), why);
  if (!server) throw std::runtime_error(why);
  out.leaf = out.pki.dir.path() / "leaf.pem";
  out.edge_chain = out.pki.dir.path() / "edge-chain.pem";
  test::write_file(out.leaf, server->identity.cert_pem);
  test::write_file(out.edge_chain, ca->chain_pem);
  return out;
}

int verify(const Issued& i, const std::string& extra, SystemTime at) {
  const std::string cmd = "openssl verify -attime " + std::to_string(epoch(at)) + " -CAfile '" +
                          i.pki.files.root_cert.string() + "' -untrusted '" +
                          i.edge_chain.string() + "' -purpose sslserver " + extra + " '" +
                          i.leaf.string() + "' >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class ServerCertOpenssl : public ::testing::TestWithParam<KeyAlgorithm> {};

TEST_P(ServerCertOpenssl, VerifiesAsTlsServerForItsNamesOnly) {
  const auto i = issue(GetParam());
  const SystemTime later = t0() + std::chrono::hours(24);
  EXPECT_EQ(verify(i, "-verify_hostname gw.example.local", later), 0);
  EXPECT_EQ(verify(i, "-verify_ip 10.0.0.5", later), 0);
  EXPECT_NE(verify(i, "-verify_hostname other.example.local", later), 0);
  EXPECT_NE(verify(i, "-verify_ip 10.0.0.6", later), 0);
  // Past its 90 days the same chain no longer verifies.
  EXPECT_NE(verify(i, "-verify_hostname gw.example.local", t0() + std::chrono::hours(24 * 91)), 0);
}

INSTANTIATE_TEST_SUITE_P(EdgeCaKeys, ServerCertOpenssl,
                         ::testing::Values(KeyAlgorithm::ec_p256, KeyAlgorithm::rsa2048,
                                           KeyAlgorithm::ec_p384));

}  // namespace
}  // namespace edgehub::pki
