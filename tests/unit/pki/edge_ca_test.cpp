// Loading and verifying the Edge CA: one test per failure, each checking the error code and that
// the message names the file and the fix.

#include "edgehub/pki/edge_ca.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "edgehub/pki/errors.hpp"
#include "unit/pki/fixtures.hpp"

namespace edgehub::pki {
namespace {

using namespace fixtures;
using ::testing::HasSubstr;

std::string run(const std::string& cmd) {
  EXPECT_EQ(std::system((cmd + " 2>/dev/null").c_str()), 0) << cmd;
  return cmd;
}

TEST(EdgeCaLoad, LoadsEcEdgeCaWithFullChain) {
  EdgeCaFiles f;
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_TRUE(ca) << why;
  EXPECT_EQ(ca->common_name, "edge CA");
  EXPECT_EQ(ca->cert_pem, f.edge.cert_pem);
  EXPECT_EQ(ca->chain_pem, f.edge.cert_pem + f.root.cert_pem);
  EXPECT_EQ(ca->trust_bundle_pem, f.root.cert_pem);
  EXPECT_EQ(ca->key_pem, f.edge.key_pem);
  EXPECT_EQ(ca->not_after, t0() + 365 * kDay);
  EXPECT_FALSE(ca->quickstart);
  EXPECT_EQ(ca->fingerprint.size(), 64u);
}

TEST(EdgeCaLoad, LoadsRsaAndP384EdgeCas) {
  for (auto algorithm : {KeyAlgorithm::rsa2048, KeyAlgorithm::ec_p384}) {
    CaOptions o;
    o.algorithm = algorithm;
    EdgeCaFiles f(make_ca("root"), o);
    std::string why;
    EXPECT_TRUE(load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why)) << why;
  }
}

TEST(EdgeCaLoad, AcceptsTraditionalKeyFormatAndIntermediates) {
  auto root = make_ca("root");
  auto intermediate = make_ca("intermediate", &root);
  EdgeCaFiles f(intermediate, CaOptions{});
  // Full chain: edge, intermediate (root only in the trust bundle).
  test::write_file(f.cert, f.edge.cert_pem + intermediate.cert_pem);
  test::write_file(f.trust_bundle, root.cert_pem);
  run("openssl pkey -in '" + f.key.string() + "' -traditional -out '" + f.key.string() +
      ".new' && mv '" + f.key.string() + ".new' '" + f.key.string() + "'");
  ASSERT_THAT(test::read_file(f.key), HasSubstr("BEGIN EC PRIVATE KEY"));
  std::filesystem::permissions(f.key, std::filesystem::perms(0600));
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_TRUE(ca) << why;
  EXPECT_EQ(ca->chain_pem, f.edge.cert_pem + intermediate.cert_pem);
}

TEST(EdgeCaLoad, NotACa) {
  CaOptions o;
  o.is_ca = false;
  EdgeCaFiles f(make_ca("root"), o);
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::not_a_ca));
  EXPECT_THAT(why, HasSubstr(f.cert.string()));
  EXPECT_THAT(why, HasSubstr("CA:TRUE"));
}

TEST(EdgeCaLoad, NoKeyCertSign) {
  CaOptions o;
  o.key_cert_sign = false;
  EdgeCaFiles f(make_ca("root"), o);
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::missing_key_cert_sign));
  EXPECT_THAT(why, HasSubstr(f.cert.string()));
  EXPECT_THAT(why, HasSubstr("keyCertSign"));
}

TEST(EdgeCaLoad, KeyMismatch) {
  EdgeCaFiles f;
  auto other = make_ca("other");
  test::write_file(f.key, other.key_pem, std::filesystem::perms(0600));
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::key_mismatch));
  EXPECT_EQ(why, f.key.string() + ": private key does not match certificate " + f.cert.string() +
                     " (CN=edge CA); regenerate the pair or point [edge_ca] pk at the key of "
                     "this certificate");
}

TEST(EdgeCaLoad, ChainToAnotherRoot) {
  EdgeCaFiles f;
  test::write_file(f.trust_bundle, make_ca("another root").cert_pem);
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::chain_untrusted));
  EXPECT_THAT(why, HasSubstr(f.cert.string()));
  EXPECT_THAT(why, HasSubstr(f.trust_bundle.string()));
}

TEST(EdgeCaLoad, ChainOutOfOrder) {
  EdgeCaFiles f;
  test::write_file(f.cert, f.edge.cert_pem + make_ca("unrelated").cert_pem + f.root.cert_pem);
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::chain_order));
  EXPECT_THAT(why, HasSubstr("CN=unrelated"));
}

TEST(EdgeCaLoad, Expired) {
  EdgeCaFiles f;
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0() + 366 * kDay, why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::certificate_expired));
  EXPECT_THAT(why, HasSubstr(f.cert.string()));
  EXPECT_THAT(why, HasSubstr("expired at 2031-01-01T00:00:00Z"));
}

TEST(EdgeCaLoad, ExpiredRootInChainFile) {
  CaOptions root_options;
  root_options.cn = "root";
  root_options.not_after = t0() - 1h;  // the root in the chain file has run out
  CaOptions edge_options;
  edge_options.not_after = t0() - 2h;
  EdgeCaFiles f(make_ca(root_options), edge_options);
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::certificate_expired));
}

TEST(EdgeCaLoad, NotYetValid) {
  EdgeCaFiles f;
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0() - 2 * kDay, why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::certificate_not_yet_valid));
  EXPECT_THAT(why, HasSubstr("not valid before"));
}

TEST(EdgeCaLoad, GarbagePemCertificate) {
  EdgeCaFiles f;
  test::write_file(f.cert, "this is not a certificate\n");
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::garbage_pem));
  EXPECT_THAT(why, HasSubstr(f.cert.string()));
  EXPECT_THAT(why, HasSubstr("[edge_ca] cert"));
}

TEST(EdgeCaLoad, CorruptBase64InsidePemBlock) {
  EdgeCaFiles f;
  std::string pem = f.edge.cert_pem;
  pem[pem.find('\n') + 5] = '!';
  test::write_file(f.cert, pem);
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::garbage_pem));
}

TEST(EdgeCaLoad, GarbagePemKey) {
  EdgeCaFiles f;
  test::write_file(f.key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                   std::filesystem::perms(0600));
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::garbage_pem));
  EXPECT_THAT(why, HasSubstr(f.key.string()));
}

TEST(EdgeCaLoad, CertAndKeySwapped) {
  EdgeCaFiles f;
  std::string why;
  auto ca = load_edge_ca(f.key, f.cert, f.trust_bundle, t0(), why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::unexpected_pem_block));
  EXPECT_THAT(why, HasSubstr("swapped"));
}

TEST(EdgeCaLoad, MissingFiles) {
  EdgeCaFiles f;
  std::string why;
  auto no_cert = load_edge_ca(f.dir.path() / "nope.pem", f.key, f.trust_bundle, t0(), why);
  ASSERT_FALSE(no_cert);
  EXPECT_EQ(no_cert.error(), make_error_code(Errc::file_not_found));
  EXPECT_THAT(why, HasSubstr((f.dir.path() / "nope.pem").string()));
  auto no_key = load_edge_ca(f.cert, f.dir.path() / "nokey.pem", f.trust_bundle, t0(), why);
  EXPECT_EQ(no_key.error(), make_error_code(Errc::file_not_found));
  EXPECT_THAT(why, HasSubstr("[edge_ca] pk"));
  auto no_bundle = load_edge_ca(f.cert, f.key, f.dir.path() / "nobundle.pem", t0(), why);
  EXPECT_EQ(no_bundle.error(), make_error_code(Errc::file_not_found));
  EXPECT_THAT(why, HasSubstr("trust_bundle_cert"));
}

TEST(EdgeCaLoad, UnreadableFile) {
  EdgeCaFiles f;
  std::string why;
  // A directory where the certificate should be: unreadable whatever the test's user is.
  auto ca = load_edge_ca(f.dir.path(), f.key, f.trust_bundle, t0(), why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::file_unreadable));
  EXPECT_THAT(why, HasSubstr(f.dir.path().string()));
}

TEST(EdgeCaLoad, OversizedFile) {
  EdgeCaFiles f;
  test::write_file(f.cert, std::string(2 * 1024 * 1024, 'A'));
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::file_too_large));
}

TEST(EdgeCaLoad, WrongKeyTypeOrSize) {
  EdgeCaFiles f;
  const std::string key = f.key.string();
  for (const std::string& gen :
       {"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out '" + key + "'",
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out '" + key + "'",
        "openssl genpkey -algorithm ED25519 -out '" + key + "'"}) {
    run(gen);
    std::filesystem::permissions(f.key, std::filesystem::perms(0600));
    std::string why;
    auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
    ASSERT_FALSE(ca) << gen;
    EXPECT_EQ(ca.error(), make_error_code(Errc::unsupported_key_type)) << gen;
    EXPECT_THAT(why, HasSubstr(key));
    EXPECT_THAT(why, HasSubstr("RSA 2048+ or EC P-256/P-384"));
  }
}

TEST(EdgeCaLoad, EncryptedKey) {
  EdgeCaFiles f;
  run("openssl pkey -in '" + f.key.string() + "' -aes256 -passout pass:secret -out '" +
      f.key.string() + ".new' && mv '" + f.key.string() + ".new' '" + f.key.string() + "'");
  std::filesystem::permissions(f.key, std::filesystem::perms(0600));
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::encrypted_key));
  EXPECT_THAT(why, HasSubstr("openssl pkey -in " + f.key.string()));
}

TEST(EdgeCaLoad, GroupReadableKeyIsRefusedWithChmodFix) {
  EdgeCaFiles f;
  std::filesystem::permissions(f.key, std::filesystem::perms(0644));
  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_FALSE(ca);
  EXPECT_EQ(ca.error(), make_error_code(Errc::key_file_permissions));
  EXPECT_THAT(why, HasSubstr("chmod 600 " + f.key.string()));
}

TEST(EdgeCaFingerprint, ChangesWhenEitherFileChanges) {
  EdgeCaFiles f;
  std::string why;
  auto before = edge_ca_fingerprint(f.cert, f.key, why);
  ASSERT_TRUE(before) << why;
  EXPECT_EQ(*edge_ca_fingerprint(f.cert, f.key, why), *before);
  test::write_file(f.cert, f.edge.cert_pem);  // chain without the root
  auto after_cert = edge_ca_fingerprint(f.cert, f.key, why);
  ASSERT_TRUE(after_cert);
  EXPECT_NE(*after_cert, *before);
  test::write_file(f.key, make_ca("x").key_pem, std::filesystem::perms(0600));
  EXPECT_NE(*edge_ca_fingerprint(f.cert, f.key, why), *after_cert);
}

TEST(EdgeCaOpen, FollowsConfiguration) {
  EdgeCaFiles f;
  config::GatewayConfig cfg;
  cfg.source_file = "/etc/aziot/config.toml";
  cfg.state_dir = f.dir.path() / "state";
  std::string why;

  // Nothing configured: a quickstart CA, as aziot, valid 90 days by default.
  auto none = open_edge_ca(cfg, t0(), why);
  ASSERT_TRUE(none) << why;
  EXPECT_TRUE(none->quickstart);
  EXPECT_EQ(none->not_after, t0() + 90 * kDay);

  cfg.edge_ca.cert = f.cert;
  auto half = open_edge_ca(cfg, t0(), why);
  EXPECT_EQ(half.error(), make_error_code(Errc::no_edge_ca));

  cfg.edge_ca.pk = f.key;
  auto no_bundle = open_edge_ca(cfg, t0(), why);
  EXPECT_EQ(no_bundle.error(), make_error_code(Errc::no_trust_bundle));

  cfg.trust_bundle_cert = f.trust_bundle;
  auto ok = open_edge_ca(cfg, t0(), why);
  ASSERT_TRUE(ok) << why;
  EXPECT_FALSE(ok->quickstart);

  config::GatewayConfig quick;
  quick.state_dir = f.dir.path() / "state2";
  quick.edge_ca.auto_generated_expiry_days = 30;
  auto q = open_edge_ca(quick, t0(), why);
  ASSERT_TRUE(q) << why;
  EXPECT_TRUE(q->quickstart);
  EXPECT_EQ(q->not_after, t0() + 30 * kDay);
}

int mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return static_cast<int>(st.st_mode & 0777);
}

TEST(QuickstartEdgeCa, GeneratesExportsAndReuses) {
  test::TempDir dir;
  std::string why;
  auto first = ensure_quickstart_edge_ca(dir.path(), 30, t0(), why);
  ASSERT_TRUE(first) << why;
  const auto paths = QuickstartPaths::in(dir.path());
  EXPECT_TRUE(first->quickstart);
  EXPECT_EQ(first->cert_file, paths.cert);
  EXPECT_EQ(mode_of(paths.cert), 0644);
  EXPECT_EQ(mode_of(paths.key), 0600);
  EXPECT_EQ(test::read_file(paths.cert), first->cert_pem);
  EXPECT_EQ(first->trust_bundle_pem, first->cert_pem);
  EXPECT_EQ(first->chain_pem, first->cert_pem);
  EXPECT_EQ(first->not_after, t0() + 30 * kDay);
  EXPECT_THAT(quickstart_warning(*first), HasSubstr("NOT FOR PRODUCTION"));
  EXPECT_THAT(quickstart_warning(*first), HasSubstr(paths.cert.string()));

  std::string issuer_why;
  auto info = describe_certificates(first->cert_pem, "quickstart", issuer_why);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->front().is_ca);
  EXPECT_TRUE(info->front().key_cert_sign);
  EXPECT_EQ(info->front().subject, info->front().issuer);  // self-signed

  auto again = ensure_quickstart_edge_ca(dir.path(), 30, t0() + 10 * kDay, why);
  ASSERT_TRUE(again) << why;
  EXPECT_EQ(again->cert_pem, first->cert_pem);
  EXPECT_EQ(again->fingerprint, first->fingerprint);
}

TEST(QuickstartEdgeCa, RegeneratesWhenDueOrDamaged) {
  test::TempDir dir;
  std::string why;
  auto first = ensure_quickstart_edge_ca(dir.path(), 30, t0(), why);
  ASSERT_TRUE(first) << why;
  // 80% of 30 days (plus the hour of backdating) has passed.
  auto due = ensure_quickstart_edge_ca(dir.path(), 30, t0() + 25 * kDay, why);
  ASSERT_TRUE(due) << why;
  EXPECT_NE(due->cert_pem, first->cert_pem);

  test::write_file(QuickstartPaths::in(dir.path()).cert, "garbage");
  auto repaired = ensure_quickstart_edge_ca(dir.path(), 30, t0() + 25 * kDay, why);
  ASSERT_TRUE(repaired) << why;
  EXPECT_NE(repaired->cert_pem, due->cert_pem);

  auto zero = ensure_quickstart_edge_ca(dir.path(), 0, t0(), why);
  EXPECT_EQ(zero.error(), make_error_code(Errc::no_edge_ca));
}

}  // namespace
}  // namespace edgehub::pki
