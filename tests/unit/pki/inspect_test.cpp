// Certificate inspection for `edgehubctl check`: every problem is reported, with a fix.

#include "edgehub/pki/inspect.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "edgehub/pki/edge_ca.hpp"
#include "edgehub/pki/server_cert.hpp"
#include "unit/pki/fixtures.hpp"

namespace edgehub::pki {
namespace {

using namespace fixtures;
using ::testing::HasSubstr;

InspectInput input_for(const EdgeCaFiles& f, SystemTime now = t0()) {
  InspectInput in;
  in.trust_bundle = f.trust_bundle;
  in.edge_ca_cert = f.cert;
  in.edge_ca_key = f.key;
  in.hostname = "gw.example.local";
  in.now = now;
  return in;
}

const CertFinding* find(const std::vector<CertFinding>& findings, CertSeverity severity,
                        const std::string& needle) {
  for (const auto& f : findings) {
    if (f.severity == severity && f.title.find(needle) != std::string::npos) return &f;
  }
  return nullptr;
}

std::size_t count(const std::vector<CertFinding>& findings, CertSeverity severity) {
  std::size_t n = 0;
  for (const auto& f : findings)
    n += f.severity == severity ? 1 : 0;
  return n;
}

std::string dump(const std::vector<CertFinding>& findings) {
  std::string out;
  for (const auto& f : findings) {
    out += std::to_string(static_cast<int>(f.severity)) + " " + f.title + " | " + f.fix + "\n";
  }
  return out;
}

TEST(InspectCertificates, HealthySetupIsAllOk) {
  EdgeCaFiles f;
  auto findings = inspect_certificates(input_for(f));
  EXPECT_EQ(count(findings, CertSeverity::error), 0u) << dump(findings);
  EXPECT_EQ(count(findings, CertSeverity::warning), 0u) << dump(findings);
  EXPECT_NE(find(findings, CertSeverity::ok, "matches the certificate"), nullptr);
  EXPECT_NE(find(findings, CertSeverity::ok, "verifies to the trust bundle"), nullptr);
  EXPECT_NE(find(findings, CertSeverity::ok, "is a CA with keyCertSign"), nullptr);
  EXPECT_NE(find(findings, CertSeverity::ok, "is valid for 365 more days"), nullptr)
      << dump(findings);
}

TEST(InspectCertificates, GroupReadableKeyHasChmodFix) {
  EdgeCaFiles f;
  std::filesystem::permissions(f.key, std::filesystem::perms(0644));
  auto findings = inspect_certificates(input_for(f));
  const auto* e = find(findings, CertSeverity::error, "has mode 0644");
  ASSERT_NE(e, nullptr) << dump(findings);
  EXPECT_EQ(e->fix, "chmod 600 " + f.key.string());
}

TEST(InspectCertificates, CertificateModeOtherThan0644IsAWarning) {
  EdgeCaFiles f;
  std::filesystem::permissions(f.cert, std::filesystem::perms(0666));
  auto findings = inspect_certificates(input_for(f));
  const auto* w = find(findings, CertSeverity::warning, "expected 0644");
  ASSERT_NE(w, nullptr) << dump(findings);
  EXPECT_EQ(w->fix, "chmod 644 " + f.cert.string());
}

TEST(InspectCertificates, NonCaEdgeCa) {
  CaOptions o;
  o.is_ca = false;
  EdgeCaFiles f(make_ca("root"), o);
  auto findings = inspect_certificates(input_for(f));
  const auto* e = find(findings, CertSeverity::error, "is not a CA");
  ASSERT_NE(e, nullptr) << dump(findings);
  EXPECT_THAT(e->fix, HasSubstr("CA:TRUE"));
}

TEST(InspectCertificates, MissingKeyCertSign) {
  CaOptions o;
  o.key_cert_sign = false;
  EdgeCaFiles f(make_ca("root"), o);
  auto findings = inspect_certificates(input_for(f));
  EXPECT_NE(find(findings, CertSeverity::error, "lacks the keyCertSign"), nullptr)
      << dump(findings);
}

TEST(InspectCertificates, KeyMismatch) {
  EdgeCaFiles f;
  test::write_file(f.key, make_ca("other").key_pem, std::filesystem::perms(0600));
  auto findings = inspect_certificates(input_for(f));
  const auto* e = find(findings, CertSeverity::error, "does not match certificate");
  ASSERT_NE(e, nullptr) << dump(findings);
  EXPECT_THAT(e->fix, HasSubstr("[edge_ca] pk"));
}

TEST(InspectCertificates, ExpiringSoonIsAWarningExpiredIsAnError) {
  EdgeCaFiles f;
  auto soon = inspect_certificates(input_for(f, t0() + 350 * kDay));
  EXPECT_NE(find(soon, CertSeverity::warning, "expires in 15 days"), nullptr) << dump(soon);
  EXPECT_EQ(count(soon, CertSeverity::error), 0u) << dump(soon);
  auto late = inspect_certificates(input_for(f, t0() + 400 * kDay));
  EXPECT_NE(find(late, CertSeverity::error, "has expired"), nullptr) << dump(late);
}

TEST(InspectCertificates, ChainToAnotherRootAndOutOfOrder) {
  EdgeCaFiles f;
  test::write_file(f.trust_bundle, make_ca("another").cert_pem);
  auto other_root = inspect_certificates(input_for(f));
  EXPECT_NE(find(other_root, CertSeverity::error, "does not verify to the trust bundle"), nullptr)
      << dump(other_root);

  EdgeCaFiles g;
  test::write_file(g.cert, g.edge.cert_pem + make_ca("unrelated").cert_pem);
  auto disorder = inspect_certificates(input_for(g));
  EXPECT_NE(find(disorder, CertSeverity::error, "out of order"), nullptr) << dump(disorder);
}

TEST(InspectCertificates, GarbageAndMissingFiles) {
  EdgeCaFiles f;
  test::write_file(f.cert, "nonsense");
  std::filesystem::remove(f.key);
  auto findings = inspect_certificates(input_for(f));
  EXPECT_NE(find(findings, CertSeverity::error, "not PEM"), nullptr) << dump(findings);
  EXPECT_NE(find(findings, CertSeverity::error, "file not found"), nullptr) << dump(findings);
}

TEST(InspectCertificates, EdgeCaCnEqualToHostnameIsAnError) {
  CaOptions o;
  o.cn = "GW.example.local";
  EdgeCaFiles f(make_ca("root"), o);
  auto findings = inspect_certificates(input_for(f));
  const auto* e = find(findings, CertSeverity::error, "common name equals the hostname");
  ASSERT_NE(e, nullptr) << dump(findings);
  EXPECT_THAT(e->fix, HasSubstr("--edge-name"));
}

TEST(InspectCertificates, ConfigurationShapes) {
  InspectInput none;
  none.hostname = "gw";
  none.now = t0();
  auto quick_default = inspect_certificates(none);
  EXPECT_NE(find(quick_default, CertSeverity::warning,
                 "quickstart CA generated in state_dir, "
                 "valid 90 days"),
            nullptr)
      << dump(quick_default);
  EXPECT_EQ(count(quick_default, CertSeverity::error), 0u);

  InspectInput quick = none;
  quick.quickstart_expiry_days = 30;
  EXPECT_NE(find(inspect_certificates(quick), CertSeverity::warning, "valid 30 days"), nullptr);

  InspectInput half = none;
  half.edge_ca_cert = "/x.pem";
  EXPECT_NE(find(inspect_certificates(half), CertSeverity::error, "needs both"), nullptr);

  EdgeCaFiles f;
  InspectInput no_bundle = input_for(f);
  no_bundle.trust_bundle.reset();
  EXPECT_NE(find(inspect_certificates(no_bundle), CertSeverity::error, "trust_bundle_cert"),
            nullptr);

  InspectInput bad_host = input_for(f);
  bad_host.hostname = "bad host";
  EXPECT_NE(find(inspect_certificates(bad_host), CertSeverity::error, "cannot be put"), nullptr);
}

TEST(InspectCertificates, ServerCertificateInStateDir) {
  EdgeCaFiles f;
  InspectInput in = input_for(f);
  in.state_dir = f.dir.path() / "state";
  in.extra_sans = {"10.0.0.5"};
  auto before = inspect_certificates(in);
  EXPECT_NE(find(before, CertSeverity::ok, "no server certificate"), nullptr) << dump(before);

  std::string why;
  auto ca = load_edge_ca(f.cert, f.key, f.trust_bundle, t0(), why);
  ASSERT_TRUE(ca) << why;
  ServerCertPolicy policy;
  policy.hostname = in.hostname;
  policy.extra_sans = in.extra_sans;
  ASSERT_TRUE(ensure_server_cert(*in.state_dir, *ca, policy, t0(), why)) << why;
  auto fits = inspect_certificates(in);
  EXPECT_NE(find(fits, CertSeverity::ok, "covers 10.0.0.5, gw.example.local"), nullptr)
      << dump(fits);

  in.hostname = "renamed.example.local";
  auto renamed = inspect_certificates(in);
  EXPECT_NE(find(renamed, CertSeverity::warning, "not the configured hostname"), nullptr)
      << dump(renamed);

  std::filesystem::permissions(ServerCertPaths::in(*in.state_dir).key,
                               std::filesystem::perms(0640));
  auto exposed = inspect_certificates(in);
  const auto* e = find(exposed, CertSeverity::error, "server key");
  ASSERT_NE(e, nullptr) << dump(exposed);
  EXPECT_EQ(e->fix, "chmod 600 " + ServerCertPaths::in(*in.state_dir).key.string());
}

TEST(InspectCertificates, InputFromConfig) {
  config::GatewayConfig cfg;
  cfg.hostname = "h";
  cfg.trust_bundle_cert = "/r.pem";
  cfg.edge_ca.cert = "/c.pem";
  cfg.edge_ca.pk = "/k.pem";
  cfg.state_dir = "/var/lib/x";
  cfg.server_cert_extra_sans = {"1.2.3.4"};
  auto in = inspect_input_from(cfg, t0());
  EXPECT_EQ(in.trust_bundle, std::filesystem::path("/r.pem"));
  EXPECT_EQ(in.edge_ca_cert, std::filesystem::path("/c.pem"));
  EXPECT_EQ(in.edge_ca_key, std::filesystem::path("/k.pem"));
  EXPECT_EQ(in.hostname, "h");
  EXPECT_EQ(in.state_dir, std::filesystem::path("/var/lib/x"));
  EXPECT_EQ(in.extra_sans, std::vector<std::string>{"1.2.3.4"});
  EXPECT_EQ(in.now, t0());
}

}  // namespace
}  // namespace edgehub::pki
