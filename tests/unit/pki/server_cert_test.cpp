// Server-certificate issuance, persistence, reuse and renewal. Certificates are checked with
// OpenSSL itself (X509_verify_cert, X509_check_host), not with our own parsing.

#include "edgehub/pki/server_cert.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <memory>

#include "edgehub/pki/errors.hpp"
#include "unit/pki/fixtures.hpp"

namespace edgehub::pki {
namespace {

using namespace fixtures;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

std::vector<std::unique_ptr<X509, X509Free>> parse_all(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::vector<std::unique_ptr<X509, X509Free>> out;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    out.emplace_back(x);
  ERR_clear_error();
  return out;
}

/// X509_verify_cert of `chain_pem` (leaf first) against `root_pem` at `at`.
int verify_chain(const std::string& chain_pem, const std::string& root_pem, SystemTime at) {
  auto chain = parse_all(chain_pem);
  auto roots = parse_all(root_pem);
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  for (auto& r : roots)
    X509_STORE_add_cert(store.get(), r.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (std::size_t i = 1; i < chain.size(); ++i)
    sk_X509_push(untrusted, chain[i].get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), chain.front().get(), untrusted);
  X509_STORE_CTX_set_time(ctx.get(), 0, std::chrono::system_clock::to_time_t(at));
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  const int ok = X509_verify_cert(ctx.get());
  const int err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx.get());
  sk_X509_free(untrusted);
  return err;
}

struct Gateway {
  EdgeCaFiles files;
  EdgeCa ca;
  ServerCertPolicy policy;
  Gateway() : Gateway(CaOptions{}) {}
  explicit Gateway(CaOptions edge_options) : files(make_ca("root"), edge_options) {
    std::string why;
    auto loaded = load_edge_ca(files.cert, files.key, files.trust_bundle, t0(), why);
    if (!loaded) throw std::runtime_error(why);
    ca = *loaded;
    policy.hostname = "gw.example.local";
    policy.extra_sans = {"10.0.0.5", "Alt.Example.Local", "fd00::1"};
  }
  std::filesystem::path state() const { return files.dir.path() / "state"; }
};

TEST(ServerCertIssue, SansEkuKeyUsageAndChain) {
  Gateway s;
  std::string why;
  auto id = issue_server_cert(s.ca, s.policy, t0(), why);
  ASSERT_TRUE(id) << why;
  EXPECT_THAT(id->subject_alt_names,
              ElementsAre("10.0.0.5", "alt.example.local", "fd00::1", "gw.example.local"));
  EXPECT_EQ(id->chain_pem, id->cert_pem + s.ca.chain_pem);
  EXPECT_EQ(id->serial_hex.size(), 32u);

  auto leaf = parse_all(id->cert_pem);
  ASSERT_EQ(leaf.size(), 1u);
  X509* x = leaf.front().get();
  EXPECT_EQ(X509_check_ca(x), 0);
  EXPECT_NE(X509_get_extension_flags(x) & EXFLAG_XKUSAGE, 0u);
  EXPECT_NE(X509_get_extended_key_usage(x) & XKU_SSL_SERVER, 0u);
  EXPECT_NE(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE, 0u);
  EXPECT_EQ(X509_get_key_usage(x) & KU_KEY_CERT_SIGN, 0u);
  EXPECT_EQ(EVP_PKEY_get_base_id(X509_get0_pubkey(x)), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 256);

  EXPECT_EQ(X509_check_host(x, "gw.example.local", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(x, "alt.example.local", 0, 0, nullptr), 1);
  EXPECT_NE(X509_check_host(x, "other.example.local", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(x, "10.0.0.5", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(x, "fd00::1", 0), 1);
  EXPECT_NE(X509_check_ip_asc(x, "10.0.0.6", 0), 1);

  EXPECT_EQ(verify_chain(id->chain_pem, s.files.root.cert_pem, t0()), X509_V_OK);
  EXPECT_NE(verify_chain(id->chain_pem, make_ca("other root").cert_pem, t0()), X509_V_OK);
}

TEST(ServerCertIssue, ValidityDefaultsToPolicyAndIsCappedByEdgeCa) {
  Gateway s;
  std::string why;
  auto id = issue_server_cert(s.ca, s.policy, t0(), why);
  ASSERT_TRUE(id) << why;
  EXPECT_EQ(id->not_after, t0() + 90 * kDay);
  EXPECT_LT(id->not_before, t0());  // tolerates clients slightly behind

  CaOptions short_ca;
  short_ca.not_after = t0() + 10 * kDay;
  Gateway capped(short_ca);
  auto c = issue_server_cert(capped.ca, capped.policy, t0(), why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(c->not_after, t0() + 10 * kDay);
  EXPECT_EQ(verify_chain(c->chain_pem, capped.files.root.cert_pem, t0() + 9 * kDay), X509_V_OK);
}

/// The leaf's key: {EVP_PKEY base id, bits}.
std::pair<int, int> leaf_key(const std::string& chain_pem) {
  auto chain = parse_all(chain_pem);
  EVP_PKEY* key = X509_get0_pubkey(chain.front().get());
  return {EVP_PKEY_get_base_id(key), EVP_PKEY_get_bits(key)};
}

TEST(ServerCertIssue, KeyFollowsTheEdgeCaFamily) {
  const std::pair<KeyAlgorithm, std::pair<int, int>> cases[] = {
      {KeyAlgorithm::ec_p256, {EVP_PKEY_EC, 256}},
      {KeyAlgorithm::ec_p384, {EVP_PKEY_EC, 256}},
      {KeyAlgorithm::rsa2048, {EVP_PKEY_RSA, 2048}},
      {KeyAlgorithm::rsa3072, {EVP_PKEY_RSA, 2048}},
  };
  for (const auto& [edge_ca_key, expected] : cases) {
    CaOptions options;
    options.algorithm = edge_ca_key;
    Gateway s(options);
    std::string why;
    auto id = issue_server_cert(s.ca, s.policy, t0(), why);
    ASSERT_TRUE(id) << why;
    EXPECT_EQ(leaf_key(id->chain_pem), expected) << static_cast<int>(edge_ca_key);
    EXPECT_EQ(verify_chain(id->chain_pem, s.files.root.cert_pem, t0()), X509_V_OK);
  }
}

TEST(ServerCertIssue, OneMinuteValidityForRenewalTests) {
  Gateway s;
  s.policy.validity = std::chrono::seconds(60);
  std::string why;
  auto id = issue_server_cert(s.ca, s.policy, t0(), why);
  ASSERT_TRUE(id) << why;
  EXPECT_EQ(id->not_after, t0() + 60s);
  EXPECT_GT(renewal_time(*id), t0());
  EXPECT_LT(renewal_time(*id), id->not_after);
}

TEST(ServerCertIssue, RejectsBadNames) {
  Gateway s;
  std::string why;
  s.policy.extra_sans = {"bad name,DNS:evil"};
  auto bad_san = issue_server_cert(s.ca, s.policy, t0(), why);
  EXPECT_EQ(bad_san.error(), make_error_code(Errc::invalid_name));
  EXPECT_THAT(why, HasSubstr("server_cert_extra_sans"));
  s.policy.extra_sans = {};
  s.policy.hostname = "";
  EXPECT_EQ(issue_server_cert(s.ca, s.policy, t0(), why).error(),
            make_error_code(Errc::invalid_name));
  s.policy.hostname = "under_score.local";
  EXPECT_EQ(issue_server_cert(s.ca, s.policy, t0(), why).error(),
            make_error_code(Errc::invalid_name));
}

TEST(ServerCertIssue, HostnameMayBeAnIpAddress) {
  Gateway s;
  s.policy.hostname = "192.168.1.10";
  s.policy.extra_sans = {};
  std::string why;
  auto id = issue_server_cert(s.ca, s.policy, t0(), why);
  ASSERT_TRUE(id) << why;
  auto leaf = parse_all(id->cert_pem);
  EXPECT_EQ(X509_check_ip_asc(leaf.front().get(), "192.168.1.10", 0), 1);
}

TEST(RenewalTime, EightyPercentOfLifetime) {
  EXPECT_EQ(renewal_time(t0(), t0() + 100s), t0() + 80s);
  EXPECT_EQ(renewal_time(t0(), t0() + 90 * kDay), t0() + 72 * kDay);
  EXPECT_EQ(renewal_time(t0(), t0()), t0());
}

TEST(ServerCertPolicy, FromConfigAndNormalisedSans) {
  config::GatewayConfig cfg;
  cfg.hostname = "GW.local";
  cfg.server_cert_extra_sans = {"gw.local", "0:0:0:0:0:0:0:1", "10.1.1.1"};
  cfg.server_cert_days = 7;
  auto policy = ServerCertPolicy::from_config(cfg);
  EXPECT_EQ(policy.validity, 7 * kDay);
  EXPECT_THAT(policy.sans(), ElementsAre("10.1.1.1", "::1", "gw.local"));
  cfg.server_cert_validity = std::chrono::seconds(20);
  EXPECT_EQ(ServerCertPolicy::from_config(cfg).validity, std::chrono::seconds(20));
}

int mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return static_cast<int>(st.st_mode & 0777);
}

TEST(ServerCertPersist, WritesThenReusesWhileValid) {
  Gateway s;
  std::string why;
  auto first = ensure_server_cert(s.state(), s.ca, s.policy, t0(), why);
  ASSERT_TRUE(first) << why;
  EXPECT_FALSE(first->reused);
  EXPECT_EQ(first->reason, "no certificate in state_dir yet");
  const auto paths = ServerCertPaths::in(s.state());
  EXPECT_EQ(mode_of(paths.cert), 0644);
  EXPECT_EQ(mode_of(paths.key), 0600);
  EXPECT_EQ(test::read_file(paths.cert), first->identity.chain_pem);

  auto second = ensure_server_cert(s.state(), s.ca, s.policy, t0() + 30 * kDay, why);
  ASSERT_TRUE(second) << why;
  EXPECT_TRUE(second->reused);
  EXPECT_EQ(second->identity.serial_hex, first->identity.serial_hex);
  EXPECT_EQ(second->identity.key_pem, first->identity.key_pem);
  EXPECT_EQ(second->identity.chain_pem, first->identity.chain_pem);
}

TEST(ServerCertPersist, ReissuesWhenSansChange) {
  Gateway s;
  std::string why;
  auto first = ensure_server_cert(s.state(), s.ca, s.policy, t0(), why);
  ASSERT_TRUE(first) << why;
  s.policy.extra_sans.push_back("10.0.0.6");
  auto second = ensure_server_cert(s.state(), s.ca, s.policy, t0() + 1h, why);
  ASSERT_TRUE(second) << why;
  EXPECT_FALSE(second->reused);
  EXPECT_EQ(second->reason, "SAN set changed");
  EXPECT_NE(second->identity.serial_hex, first->identity.serial_hex);
}

TEST(ServerCertPersist, ReissuesWhenEdgeCaChanges) {
  Gateway s;
  std::string why;
  auto first = ensure_server_cert(s.state(), s.ca, s.policy, t0(), why);
  ASSERT_TRUE(first) << why;
  Gateway other;
  auto second = ensure_server_cert(s.state(), other.ca, s.policy, t0() + 1h, why);
  ASSERT_TRUE(second) << why;
  EXPECT_FALSE(second->reused);
  EXPECT_EQ(second->reason, "issued by another Edge CA");
  EXPECT_EQ(verify_chain(second->identity.chain_pem, other.files.root.cert_pem, t0() + 1h),
            X509_V_OK);
}

TEST(ServerCertPersist, ReissuesWhenItsKeyTypeIsNotTheEdgeCas) {
  CaOptions rsa;
  rsa.algorithm = KeyAlgorithm::rsa2048;
  Gateway s(rsa);
  // Valid in every other respect: what an RSA Edge CA issued before the key followed its family.
  CertificateSpec spec;
  spec.common_name = s.policy.hostname;
  spec.not_before = t0() - kDay;
  spec.not_after = t0() + 90 * kDay;
  spec.server_auth = true;
  spec.subject_alt_names = s.policy.sans();
  const KeyAndCertificate issuer{s.ca.cert_pem, s.ca.key_pem};
  ServerIdentity current;
  current.not_before = spec.not_before;
  current.not_after = spec.not_after;
  current.subject_alt_names = s.policy.sans();
  std::string why;
  auto ec = make_certificate(spec, KeyAlgorithm::ec_p256, &issuer, why);
  ASSERT_TRUE(ec) << why;
  current.cert_pem = ec->cert_pem;
  EXPECT_EQ(reissue_reason(current, s.ca, s.policy, t0()), "key type differs from the Edge CA's");
  auto matching = make_certificate(spec, KeyAlgorithm::rsa2048, &issuer, why);
  ASSERT_TRUE(matching) << why;
  current.cert_pem = matching->cert_pem;
  EXPECT_EQ(reissue_reason(current, s.ca, s.policy, t0()), std::nullopt);
}

TEST(ServerCertPersist, ReissuesPastRenewalTime) {
  Gateway s;
  std::string why;
  auto first = ensure_server_cert(s.state(), s.ca, s.policy, t0(), why);
  ASSERT_TRUE(first) << why;
  auto second = ensure_server_cert(s.state(), s.ca, s.policy, t0() + 73 * kDay, why);
  ASSERT_TRUE(second) << why;
  EXPECT_FALSE(second->reused);
  EXPECT_EQ(second->reason, "past renewal time (80% of lifetime)");
}

TEST(ServerCertPersist, ReissuesWhenFilesAreDamagedOrKeyExposed) {
  Gateway s;
  std::string why;
  ASSERT_TRUE(ensure_server_cert(s.state(), s.ca, s.policy, t0(), why)) << why;
  const auto paths = ServerCertPaths::in(s.state());
  test::write_file(paths.cert, "garbage");
  auto repaired = ensure_server_cert(s.state(), s.ca, s.policy, t0(), why);
  ASSERT_TRUE(repaired) << why;
  EXPECT_FALSE(repaired->reused);
  EXPECT_EQ(repaired->reason, "persisted certificate or key is damaged");

  std::filesystem::permissions(paths.key, std::filesystem::perms(0644));
  auto exposed = ensure_server_cert(s.state(), s.ca, s.policy, t0(), why);
  ASSERT_TRUE(exposed) << why;
  EXPECT_FALSE(exposed->reused);
  EXPECT_THAT(exposed->reason, HasSubstr("unsafe permissions"));
  EXPECT_EQ(mode_of(paths.key), 0600);

  test::write_file(paths.key, make_ca("x").key_pem, std::filesystem::perms(0600));
  auto mismatched = ensure_server_cert(s.state(), s.ca, s.policy, t0(), why);
  ASSERT_TRUE(mismatched) << why;
  EXPECT_EQ(mismatched->reason, "persisted key does not match the persisted certificate");
}

TEST(ServerCertPersist, UnwritableStateDirIsAnError) {
  Gateway s;
  test::write_file(s.state(), "a file where the state directory should be");
  std::string why;
  auto r = ensure_server_cert(s.state(), s.ca, s.policy, t0(), why);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(Errc::write_failed));
  EXPECT_THAT(why, HasSubstr(s.state().string()));
}

TEST(ServerCertManager, RenewsAtEightyPercentAndOnEdgeCaChange) {
  Gateway s;
  s.policy.validity = std::chrono::seconds(60);
  ServerCertManager manager(s.state(), s.policy);
  std::string why;
  auto started = manager.start(s.ca, t0(), why);
  ASSERT_TRUE(started) << why;
  const std::string first_serial = manager.current().serial_hex;

  auto early = manager.poll(manager.next_renewal() - 1s, why);
  ASSERT_TRUE(early) << why;
  EXPECT_FALSE(early->has_value());

  const SystemTime due = manager.next_renewal();
  auto renewed = manager.poll(due, why);
  ASSERT_TRUE(renewed) << why;
  ASSERT_TRUE(renewed->has_value());
  EXPECT_NE((*renewed)->serial_hex, first_serial);
  EXPECT_EQ(manager.current().serial_hex, (*renewed)->serial_hex);
  EXPECT_GT(manager.next_renewal(), due);
  // The renewed certificate is what a restart would reuse.
  auto persisted = ensure_server_cert(s.state(), s.ca, s.policy, due, why);
  ASSERT_TRUE(persisted) << why;
  EXPECT_TRUE(persisted->reused);
  EXPECT_EQ(persisted->identity.serial_hex, (*renewed)->serial_hex);

  // SIGHUP with unchanged files: nothing to do.
  auto same = manager.reload(s.ca, s.policy, due, why);
  ASSERT_TRUE(same) << why;
  EXPECT_FALSE(same->has_value());

  // SIGHUP after the Edge CA files were replaced (same key, new certificate).
  CertificateSpec spec;
  spec.common_name = "edge CA";
  spec.not_before = t0() - kDay;
  spec.not_after = t0() + 400 * kDay;
  spec.is_ca = spec.key_cert_sign = true;
  auto recert = sign_certificate(spec, s.files.edge.key_pem, &s.files.root, why);
  ASSERT_TRUE(recert) << why;
  test::write_file(s.files.cert, *recert + s.files.root.cert_pem);
  auto new_ca = load_edge_ca(s.files.cert, s.files.key, s.files.trust_bundle, due, why);
  ASSERT_TRUE(new_ca) << why;
  auto changed = manager.reload(*new_ca, s.policy, due, why);
  ASSERT_TRUE(changed) << why;
  ASSERT_TRUE(changed->has_value());
  EXPECT_EQ(manager.last_reason(), "Edge CA files changed");
  EXPECT_EQ((*changed)->chain_pem, (*changed)->cert_pem + new_ca->chain_pem);
}

TEST(ServerCertManager, CountsIssuesReusesAndFailures) {
  Gateway s;
  ops::Registry registry;
  auto stats = ServerCertStats::create(registry);
  std::string why;
  {
    ServerCertManager manager(s.state(), s.policy, &stats);
    ASSERT_TRUE(manager.start(s.ca, t0(), why)) << why;
    EXPECT_EQ(stats.issued.value(), 1u);
    EXPECT_EQ(stats.reused.value(), 0u);
    EXPECT_EQ(stats.expiry.value(),
              static_cast<double>(std::chrono::system_clock::to_time_t(t0() + 90 * kDay)));
    EXPECT_EQ(stats.edge_ca_expiry.value(),
              static_cast<double>(std::chrono::system_clock::to_time_t(s.ca.not_after)));
  }
  ServerCertManager restarted(s.state(), s.policy, &stats);
  ASSERT_TRUE(restarted.start(s.ca, t0() + kDay, why)) << why;
  EXPECT_EQ(stats.reused.value(), 1u);
  EXPECT_EQ(stats.issued.value(), 1u);

  // Renewal into an unwritable state_dir fails, is counted, and keeps the current certificate.
  const std::string serial = restarted.current().serial_hex;
  std::filesystem::remove_all(s.state());
  test::write_file(s.state(), "not a directory");
  auto failed = restarted.poll(restarted.next_renewal(), why);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), make_error_code(Errc::write_failed));
  EXPECT_EQ(stats.issue_failures.value(), 1u);
  EXPECT_EQ(restarted.current().serial_hex, serial);
  EXPECT_THAT(registry.render(), HasSubstr("edgehub_server_cert_issued_total"));
}

TEST(ServerCertManager, ReloadWithNewSansReissues) {
  Gateway s;
  ServerCertManager manager(s.state(), s.policy);
  std::string why;
  ASSERT_TRUE(manager.start(s.ca, t0(), why)) << why;
  auto policy = s.policy;
  policy.extra_sans = {"new.example.local"};
  auto r = manager.reload(s.ca, policy, t0() + 1h, why);
  ASSERT_TRUE(r) << why;
  ASSERT_TRUE(r->has_value());
  EXPECT_THAT((*r)->subject_alt_names, ElementsAre("gw.example.local", "new.example.local"));
  EXPECT_EQ(manager.last_reason(), "SAN set changed");
}

}  // namespace
}  // namespace edgehub::pki
