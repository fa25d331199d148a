// identity::Authenticator: every acceptance path and every refusal reason, with its metric.

#include "edgehub/identity/authenticator.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fake_clock.hpp"
#include "test_certs.hpp"

namespace edgehub::identity {
namespace {

using core::ClientId;
using test::kDay;
using test::kT0;

constexpr std::string_view kHub = "myhub.azure-devices.net";
constexpr std::string_view kGateway = "gw.example.local";
constexpr std::string_view kDeviceKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr std::string_view kSecondaryKey = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=";
constexpr std::string_view kModuleKey = "bW9kdWxlLWtleS1tb2R1bGUta2V5LW1vZHVsZS1rZXk=";
constexpr std::string_view kChildEdgeHubKey = "Y2hpbGQtZWRnZWh1Yi1rZXktY2hpbGQtZWRnZWh1Yi0=";

/// The lookup seam, backed by a snapshot the test may replace (a registry reload).
class SnapshotLookup final : public KeyLookup {
 public:
  explicit SnapshotLookup(Snapshot snapshot) { replace(std::move(snapshot)); }
  void replace(Snapshot snapshot) {
    snapshot_ = std::make_shared<const Snapshot>(std::move(snapshot));
  }
  std::shared_ptr<const Identity> find(const ClientId& id) const override {
    const Identity* identity = snapshot_->find(id);
    return identity ? std::shared_ptr<const Identity>(snapshot_, identity) : nullptr;
  }

 private:
  std::shared_ptr<const Snapshot> snapshot_;
};

Identity sas(ClientId id, std::vector<std::string_view> keys, bool enabled = true) {
  Identity identity{std::move(id), AuthType::sas, enabled, {}, {}, 0, false, {}};
  for (auto k : keys)
    identity.keys.push_back(*decode_base64(k));
  return identity;
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest() : clock_(kT0) {
    root_ = test::make_cert({"Root", true, kT0 - kDay, kT0 + 3650 * kDay, nullptr});
    ca_leaf_ = test::make_cert({"door", false, kT0 - kDay, kT0 + 30 * kDay, &root_});
    thumb_cert_ = test::make_cert({"camera", false, kT0 - kDay, kT0 + 30 * kDay, nullptr});
    const auto facts = *inspect_certificate(thumb_cert_.der());

    std::vector<Identity> ids;
    ids.push_back(sas({"dev1", ""}, {kDeviceKey, kSecondaryKey}));
    ids.push_back(sas({"off", ""}, {kDeviceKey}, false));
    ids.push_back(Identity{
        {"camera", ""}, AuthType::x509_thumbprint, true, {}, {facts.sha256}, 0, false, {}});
    ids.push_back(Identity{{"door", ""}, AuthType::x509_ca, true, {}, {}, 0, false, {}});
    ids.push_back(Identity{{"dev2", ""}, AuthType::x509_ca, true, {}, {}, 0, false, {}});
    ids.push_back(sas({"gw", "filter"}, {kModuleKey}));
    ids.push_back(sas({"gw", ""}, {kDeviceKey}));
    ids.push_back(sas({"offdev", "m"}, {kModuleKey}));
    ids.push_back(sas({"offdev", ""}, {kDeviceKey}, false));
    // A child gateway with its $edgeHub module, a device and an X.509 camera below it, a device
    // below that device, and the same again under a second, disabled child gateway.
    for (const auto* edge : {"child", "child-off"}) {
      auto gateway = sas({edge, ""}, {kDeviceKey}, std::string_view(edge) == "child");
      gateway.edge_device = true;
      ids.push_back(std::move(gateway));
      ids.push_back(sas({edge, "$edgeHub"}, {kChildEdgeHubKey}));
    }
    auto leaf = sas({"leaf", ""}, {kDeviceKey});
    leaf.parent = "child";
    ids.push_back(leaf);
    ids.push_back(Identity{{"leaf-cam", ""}, AuthType::x509_ca, true, {}, {}, 0, false, "child"});
    auto deeper = sas({"deeper", ""}, {kDeviceKey});
    deeper.parent = "leaf";
    ids.push_back(deeper);
    auto off_leaf = sas({"off-leaf", ""}, {kDeviceKey});
    off_leaf.parent = "child-off";
    ids.push_back(off_leaf);
    lookup_ = std::make_unique<SnapshotLookup>(Snapshot(std::move(ids)));

    auto trust = TrustBundle::from_pem(root_.pem());
    authenticator_ = std::make_unique<Authenticator>(
        AuthenticatorOptions{std::string(kHub), std::string(kGateway), std::nullopt}, *lookup_,
        std::make_shared<const TrustBundle>(std::move(*trust)), clock_, metrics_);
  }

  std::string token(std::string_view resource, std::string_view key, std::int64_t se) {
    return *make_sas_token(resource, key, core::SystemTime{std::chrono::seconds{se}});
  }

  std::uint64_t failures(std::string_view id, std::string_view reason) {
    return metrics_.counter(kConnectFailedMetric, "", {"id", "reason"}).with({id, reason}).value();
  }

  // Authenticates and expects refusal with `errc`, counted under `reason`.
  void expect_refused(const ClientId& claimed, const Credential& credential, Errc errc,
                      std::string_view reason) {
    const auto before = failures(claimed.to_string(), reason);
    auto result = authenticator_->authenticate(claimed, credential);
    ASSERT_FALSE(result) << claimed.to_string();
    EXPECT_EQ(result.error(), errc) << result.error().message();
    EXPECT_EQ(failures(claimed.to_string(), reason), before + 1) << reason;
  }

  test::FakeClock clock_;
  ops::Registry metrics_;
  test::TestCert root_, ca_leaf_, thumb_cert_;
  std::unique_ptr<SnapshotLookup> lookup_;
  std::unique_ptr<Authenticator> authenticator_;
};

TEST_F(AuthenticatorTest, DeviceSasTokenIsAccepted) {
  const auto t = token("myhub.azure-devices.net/devices/dev1", kDeviceKey, kT0 + 3600);
  auto result = authenticator_->authenticate({"dev1", ""}, SasCredential{t});
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->id, (ClientId{"dev1", ""}));
  EXPECT_EQ(result->method, AuthType::sas);
  EXPECT_EQ(result->expires_at, core::SystemTime{std::chrono::seconds{kT0 + 3600}});
}

TEST_F(AuthenticatorTest, SecondaryKeyIsAccepted) {
  const auto t = token("myhub.azure-devices.net/devices/dev1", kSecondaryKey, kT0 + 3600);
  EXPECT_TRUE(authenticator_->authenticate({"dev1", ""}, SasCredential{t}));
}

TEST_F(AuthenticatorTest, GatewayAudienceIsAccepted) {
  const auto t = token("gw.example.local/devices/dev1", kDeviceKey, kT0 + 3600);
  EXPECT_TRUE(authenticator_->authenticate({"dev1", ""}, SasCredential{t}));
}

TEST_F(AuthenticatorTest, ModuleTokenWithModuleKeyIsAccepted) {
  const auto t = token("myhub.azure-devices.net/devices/gw/modules/filter", kModuleKey, kT0 + 60);
  auto result = authenticator_->authenticate({"gw", "filter"}, SasCredential{t});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->id, (ClientId{"gw", "filter"}));
}

TEST_F(AuthenticatorTest, ModuleTokenSignedWithItsDeviceKeyIsAccepted) {
  const auto t = token("myhub.azure-devices.net/devices/gw/modules/filter", kDeviceKey, kT0 + 60);
  EXPECT_TRUE(authenticator_->authenticate({"gw", "filter"}, SasCredential{t}));
}

TEST_F(AuthenticatorTest, ModuleCannotUseTheKeyOfADisabledDevice) {
  const auto t = token("myhub.azure-devices.net/devices/offdev/modules/m", kDeviceKey, kT0 + 60);
  expect_refused({"offdev", "m"}, SasCredential{t}, Errc::bad_signature, "bad_signature");
}

TEST_F(AuthenticatorTest, DeviceCannotUseAModuleKey) {
  const auto t = token("myhub.azure-devices.net/devices/gw", kModuleKey, kT0 + 60);
  expect_refused({"gw", ""}, SasCredential{t}, Errc::bad_signature, "bad_signature");
}

TEST_F(AuthenticatorTest, ExpiredTokenIsRefused) {
  const auto t = token("myhub.azure-devices.net/devices/dev1", kDeviceKey, kT0 - 1);
  expect_refused({"dev1", ""}, SasCredential{t}, Errc::token_expired, "token_expired");
}

TEST_F(AuthenticatorTest, TokenExpiresWhenTheClockPassesIt) {
  const auto t = token("myhub.azure-devices.net/devices/dev1", kDeviceKey, kT0 + 10);
  EXPECT_TRUE(authenticator_->authenticate({"dev1", ""}, SasCredential{t}));
  clock_.set(kT0 + 11);
  expect_refused({"dev1", ""}, SasCredential{t}, Errc::token_expired, "token_expired");
}

TEST_F(AuthenticatorTest, ATokenBeyondTheLifetimePolicyIsRefusedOnceItsSignatureIsChecked) {
  authenticator_ = std::make_unique<Authenticator>(
      AuthenticatorOptions{std::string(kHub), std::string(kGateway), std::nullopt,
                           std::chrono::hours(24)},
      *lookup_, std::make_shared<const TrustBundle>(std::move(*TrustBundle::from_pem(root_.pem()))),
      clock_, metrics_);
  const std::string resource = "myhub.azure-devices.net/devices/dev1";
  EXPECT_TRUE(authenticator_->authenticate(
      {"dev1", ""}, SasCredential{token(resource, kDeviceKey, kT0 + 86400)}));
  expect_refused({"dev1", ""}, SasCredential{token(resource, kDeviceKey, kT0 + 86401)},
                 Errc::token_lifetime_too_long, "token_lifetime_too_long");
  // A forged token is reported as forged, however long it claims to live.
  expect_refused({"dev1", ""}, SasCredential{token(resource, kModuleKey, kT0 + 10 * 86400)},
                 Errc::bad_signature, "bad_signature");
}

TEST_F(AuthenticatorTest, BadSignatureIsRefused) {
  const auto t = token("myhub.azure-devices.net/devices/dev1", kModuleKey, kT0 + 60);
  expect_refused({"dev1", ""}, SasCredential{t}, Errc::bad_signature, "bad_signature");
}

TEST_F(AuthenticatorTest, WrongAudienceIsRefused) {
  const auto t = token("otherhub.azure-devices.net/devices/dev1", kDeviceKey, kT0 + 60);
  expect_refused({"dev1", ""}, SasCredential{t}, Errc::wrong_audience, "wrong_audience");
}

TEST_F(AuthenticatorTest, MalformedTokenIsRefused) {
  expect_refused({"dev1", ""}, SasCredential{"SharedAccessSignature sr=x"}, Errc::malformed_token,
                 "malformed_token");
}

TEST_F(AuthenticatorTest, PolicyTokenIsRefused) {
  const auto t = *make_sas_token("myhub.azure-devices.net", kDeviceKey,
                                 core::SystemTime{std::chrono::seconds{kT0 + 60}}, "device");
  expect_refused({"dev1", ""}, SasCredential{t}, Errc::policy_token, "policy_token");
}

TEST_F(AuthenticatorTest, UnknownIdentityIsRefused) {
  const auto t = token("myhub.azure-devices.net/devices/ghost", kDeviceKey, kT0 + 60);
  expect_refused({"ghost", ""}, SasCredential{t}, Errc::unknown_identity, "unknown_identity");
  expect_refused({"gw", "ghost"}, SasCredential{t}, Errc::unknown_identity, "unknown_identity");
}

TEST_F(AuthenticatorTest, DisabledIdentityIsRefused) {
  const auto t = token("myhub.azure-devices.net/devices/off", kDeviceKey, kT0 + 60);
  expect_refused({"off", ""}, SasCredential{t}, Errc::disabled_identity, "disabled");
}

TEST_F(AuthenticatorTest, MissingCredentialsAreNotAuthenticated) {
  expect_refused({"dev1", ""}, NoCredential{}, Errc::no_credentials, "not_authenticated");
}

TEST_F(AuthenticatorTest, SasTokenForAnX509IdentityIsTheWrongAuthType) {
  const auto t = token("myhub.azure-devices.net/devices/camera", kDeviceKey, kT0 + 60);
  expect_refused({"camera", ""}, SasCredential{t}, Errc::wrong_auth_type, "wrong_auth_type");
}

TEST_F(AuthenticatorTest, CertificateForASasIdentityIsTheWrongAuthType) {
  expect_refused({"dev1", ""}, ClientCertificate{thumb_cert_.der(), {}}, Errc::wrong_auth_type,
                 "wrong_auth_type");
}

TEST_F(AuthenticatorTest, ThumbprintCertificateIsAccepted) {
  auto result =
      authenticator_->authenticate({"camera", ""}, ClientCertificate{thumb_cert_.der(), {}});
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->method, AuthType::x509_thumbprint);
  EXPECT_EQ(result->expires_at, core::SystemTime{std::chrono::seconds{kT0 + 30 * kDay}});
}

TEST_F(AuthenticatorTest, ThumbprintMismatchIsRefused) {
  expect_refused({"camera", ""}, ClientCertificate{ca_leaf_.der(), {}}, Errc::thumbprint_mismatch,
                 "thumbprint_mismatch");
}

TEST_F(AuthenticatorTest, ExpiredThumbprintCertificateIsRefused) {
  clock_.set(kT0 + 31 * kDay);
  expect_refused({"camera", ""}, ClientCertificate{thumb_cert_.der(), {}},
                 Errc::certificate_expired, "certificate_expired");
}

TEST_F(AuthenticatorTest, CaSignedCertificateIsAccepted) {
  auto result = authenticator_->authenticate({"door", ""}, ClientCertificate{ca_leaf_.der(), {}});
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->method, AuthType::x509_ca);
}

TEST_F(AuthenticatorTest, CaSignedCertificateWithAnotherCnIsRefused) {
  expect_refused({"dev2", ""}, ClientCertificate{ca_leaf_.der(), {}}, Errc::wrong_common_name,
                 "wrong_common_name");
}

TEST_F(AuthenticatorTest, UntrustedChainIsRefused) {
  const auto other = test::make_cert({"Other", true, kT0 - kDay, kT0 + kDay, nullptr});
  const auto leaf = test::make_cert({"door", false, kT0 - kDay, kT0 + kDay, &other});
  expect_refused({"door", ""}, ClientCertificate{leaf.der(), {other.der()}}, Errc::untrusted_chain,
                 "untrusted_chain");
}

TEST_F(AuthenticatorTest, MalformedCertificateIsRefused) {
  expect_refused({"door", ""}, ClientCertificate{"not DER", {}}, Errc::malformed_certificate,
                 "malformed_certificate");
}

TEST_F(AuthenticatorTest, ModuleWithACertificateIsRefused) {
  expect_refused({"gw", "filter"}, ClientCertificate{thumb_cert_.der(), {}}, Errc::module_x509,
                 "module_x509");
}

// A certificate that passed once is remembered; these show the cache never masks a refusal.

TEST_F(AuthenticatorTest, RememberedThumbprintCertificateStillExpires) {
  const ClientCertificate cert{thumb_cert_.der(), {}};
  ASSERT_TRUE(authenticator_->authenticate({"camera", ""}, cert));
  ASSERT_TRUE(authenticator_->authenticate({"camera", ""}, cert));
  clock_.set(kT0 + 31 * kDay);
  expect_refused({"camera", ""}, cert, Errc::certificate_expired, "certificate_expired");
}

TEST_F(AuthenticatorTest, RememberedThumbprintCertificateFollowsARegistryReload) {
  const ClientCertificate cert{thumb_cert_.der(), {}};
  ASSERT_TRUE(authenticator_->authenticate({"camera", ""}, cert));
  std::vector<Identity> ids;
  ids.push_back(
      Identity{{"camera", ""}, AuthType::x509_thumbprint, true, {}, {Bytes(32, 1)}, 0, false, {}});
  lookup_->replace(Snapshot(std::move(ids)));
  expect_refused({"camera", ""}, cert, Errc::thumbprint_mismatch, "thumbprint_mismatch");
}

TEST_F(AuthenticatorTest, RememberedChainStillChecksTheCommonName) {
  const ClientCertificate cert{ca_leaf_.der(), {}};
  ASSERT_TRUE(authenticator_->authenticate({"door", ""}, cert));
  expect_refused({"dev2", ""}, cert, Errc::wrong_common_name, "wrong_common_name");
  EXPECT_TRUE(authenticator_->authenticate({"door", ""}, cert));
}

TEST_F(AuthenticatorTest, RememberedChainStillExpires) {
  const ClientCertificate cert{ca_leaf_.der(), {}};
  ASSERT_TRUE(authenticator_->authenticate({"door", ""}, cert));
  clock_.set(kT0 + 31 * kDay);
  expect_refused({"door", ""}, cert, Errc::certificate_expired, "certificate_expired");
}

TEST_F(AuthenticatorTest, RememberedThumbprintDoesNotCountAsAVerifiedChain) {
  // The same self-signed certificate, first accepted by thumbprint for one identity, must not be
  // taken as CA-verified for another.
  std::vector<Identity> ids;
  const auto facts = *inspect_certificate(thumb_cert_.der());
  ids.push_back(
      Identity{{"camera", ""}, AuthType::x509_thumbprint, true, {}, {facts.sha1}, 0, false, {}});
  ids.push_back(Identity{{"camera2", ""}, AuthType::x509_ca, true, {}, {}, 0, false, {}});
  lookup_->replace(Snapshot(std::move(ids)));
  const ClientCertificate cert{thumb_cert_.der(), {}};
  ASSERT_TRUE(authenticator_->authenticate({"camera", ""}, cert));
  expect_refused({"camera2", ""}, cert, Errc::untrusted_chain, "untrusted_chain");
}

TEST(AuthenticatorTrustReload, ANewTrustBundleInvalidatesRememberedChains) {
  test::FakeClock clock(kT0);
  ops::Registry metrics;
  const auto root = test::make_cert({"Root", true, kT0 - kDay, kT0 + kDay, nullptr});
  const auto other_root = test::make_cert({"Other", true, kT0 - kDay, kT0 + kDay, nullptr});
  const auto leaf = test::make_cert({"door", false, kT0 - kDay, kT0 + kDay, &root});
  ASSERT_TRUE(root.cert && other_root.cert && leaf.cert);
  std::vector<Identity> ids;
  ids.push_back(Identity{{"door", ""}, AuthType::x509_ca, true, {}, {}, 0, false, {}});
  SnapshotLookup lookup{Snapshot(std::move(ids))};

  char dir_template[] = "/tmp/edgehub-trust-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::filesystem::path dir = dir_template;
  const auto bundle = dir / "root.pem";
  std::ofstream(bundle) << root.pem();
  auto created = Authenticator::create({"hub", "gw", bundle}, lookup, clock, metrics);
  ASSERT_TRUE(created);
  auto& auth = **created;
  const ClientCertificate cert{leaf.der(), {}};
  EXPECT_TRUE(auth.authenticate({"door", ""}, cert));

  std::ofstream(bundle, std::ios::trunc) << other_root.pem();
  ASSERT_TRUE(auth.reload_trust_bundle());
  EXPECT_EQ(auth.authenticate({"door", ""}, cert).error(), Errc::untrusted_chain);

  // An unreadable bundle on reload keeps the current one.
  std::filesystem::remove(bundle);
  EXPECT_EQ(auth.reload_trust_bundle().error(), Errc::trust_bundle_unreadable);
  EXPECT_EQ(auth.authenticate({"door", ""}, cert).error(), Errc::untrusted_chain);
  std::filesystem::remove_all(dir);
}

TEST_F(AuthenticatorTest, ConcurrentCallersAllSucceed) {
  const std::string t = token("myhub.azure-devices.net/devices/dev1", kDeviceKey, kT0 + 3600);
  const ClientCertificate door{ca_leaf_.der(), {}};
  const ClientCertificate camera{thumb_cert_.der(), {}};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int n = 0; n < 4; ++n) {
    threads.emplace_back([&, n] {
      for (int i = 0; i < 100; ++i) {
        const bool ok =
            (n + i) % 3 == 0   ? bool(authenticator_->authenticate({"dev1", ""}, SasCredential{t}))
            : (n + i) % 3 == 1 ? bool(authenticator_->authenticate({"door", ""}, door))
                               : bool(authenticator_->authenticate({"camera", ""}, camera));
        if (!ok) refused.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(refused.load(), 0);
}

TEST_F(AuthenticatorTest, CaIdentityWithoutTrustBundleIsRefused) {
  Authenticator no_trust(AuthenticatorOptions{std::string(kHub), std::string(kGateway), {}},
                         *lookup_, nullptr, clock_, metrics_);
  auto result = no_trust.authenticate({"door", ""}, ClientCertificate{ca_leaf_.der(), {}});
  EXPECT_EQ(result.error(), Errc::no_trust_bundle);
  EXPECT_EQ(failures("door", "certificate_rejected"), 1u);
}

TEST_F(AuthenticatorTest, InvalidClaimedIdsAreUnknownAndShareALabel) {
  EXPECT_EQ(authenticator_->authenticate({"", ""}, NoCredential{}).error(), Errc::unknown_identity);
  EXPECT_EQ(failures("_unknown", "unknown_identity"), 1u);
  (void)authenticator_->authenticate({"bad id", ""}, NoCredential{});
  EXPECT_EQ(failures("_unknown", "unknown_identity"), 2u);
}

TEST_F(AuthenticatorTest, UnknownIdLabelsAreBounded) {
  for (std::size_t i = 0; i < kMaxUnknownIdLabels + 5; ++i) {
    (void)authenticator_->authenticate({"ghost" + std::to_string(i), ""}, NoCredential{});
  }
  EXPECT_EQ(failures("ghost0", "unknown_identity"), 1u);
  EXPECT_EQ(failures("ghost" + std::to_string(kMaxUnknownIdLabels - 1), "unknown_identity"), 1u);
  EXPECT_EQ(failures("ghost" + std::to_string(kMaxUnknownIdLabels), "unknown_identity"), 0u);
  EXPECT_EQ(failures("_unknown", "unknown_identity"), 5u);
}

TEST_F(AuthenticatorTest, SuccessIsNotCounted) {
  const auto t = token("myhub.azure-devices.net/devices/dev1", kDeviceKey, kT0 + 3600);
  ASSERT_TRUE(authenticator_->authenticate({"dev1", ""}, SasCredential{t}));
  EXPECT_EQ(metrics_.render().find("id=\"dev1\""), std::string::npos);
}

TEST(AuthenticatorCreate, UnreadableTrustBundleFailsStartup) {
  test::FakeClock clock(kT0);
  ops::Registry metrics;
  SnapshotLookup lookup{Snapshot{}};
  auto created = Authenticator::create(
      AuthenticatorOptions{"hub", "gw", std::filesystem::path("/nonexistent/root.pem")}, lookup,
      clock, metrics);
  EXPECT_EQ(created.error(), Errc::trust_bundle_unreadable);
  auto without = Authenticator::create(AuthenticatorOptions{"hub", "gw", std::nullopt}, lookup,
                                       clock, metrics);
  EXPECT_TRUE(without);
}

TEST(ReasonLabels, EveryErrcHasASnakeCaseLabel) {
  for (int e = static_cast<int>(Errc::malformed_token);
       e <= static_cast<int>(Errc::trust_bundle_unreadable); ++e) {
    const auto label = reason_label(make_error_code(static_cast<Errc>(e)));
    EXPECT_FALSE(label.empty());
    for (const char c : label) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << label;
    }
    EXPECT_NE(make_error_code(static_cast<Errc>(e)).message(), "unknown identity error");
  }
  EXPECT_EQ(reason_label(boost::system::errc::make_error_code(boost::system::errc::io_error)),
            "not_authenticated");
}

TEST_F(AuthenticatorTest, AChildGatewaysEdgeHubTokenAuthenticatesTheIdentitiesBelowIt) {
  const auto t =
      token("myhub.azure-devices.net/devices/child/modules/$edgeHub", kChildEdgeHubKey, kT0 + 3600);
  for (const ClientId& id : {ClientId{"leaf", ""}, ClientId{"leaf-cam", ""}, ClientId{"deeper", ""},
                             ClientId{"child", ""}}) {
    auto result = authenticator_->authenticate(id, SasCredential{t});
    ASSERT_TRUE(result) << id.to_string() << ": " << result.error().message();
    EXPECT_EQ(result->id, id);
    EXPECT_EQ(result->expires_at, core::SystemTime{std::chrono::seconds{kT0 + 3600}});
  }
}

TEST_F(AuthenticatorTest, AChildGatewayCannotActForIdentitiesOutsideItsScope) {
  const auto t =
      token("myhub.azure-devices.net/devices/child/modules/$edgeHub", kChildEdgeHubKey, kT0 + 3600);
  expect_refused({"dev1", ""}, SasCredential{t}, Errc::wrong_audience, "wrong_audience");
  expect_refused({"gw", ""}, SasCredential{t}, Errc::wrong_audience, "wrong_audience");
  expect_refused({"off-leaf", ""}, SasCredential{t}, Errc::wrong_audience, "wrong_audience");
}

TEST_F(AuthenticatorTest, AnOnBehalfTokenNeedsTheChildsOwnEdgeHubKeyAndAnEnabledChild) {
  const auto forged =
      token("myhub.azure-devices.net/devices/child/modules/$edgeHub", kModuleKey, kT0 + 3600);
  expect_refused({"leaf", ""}, SasCredential{forged}, Errc::bad_signature, "bad_signature");
  const auto disabled = token("myhub.azure-devices.net/devices/child-off/modules/$edgeHub",
                              kChildEdgeHubKey, kT0 + 3600);
  expect_refused({"off-leaf", ""}, SasCredential{disabled}, Errc::disabled_identity, "disabled");
  // A device that is not a child gateway has no say over others, even with a $edgeHub module.
  const auto not_edge =
      token("myhub.azure-devices.net/devices/gw/modules/$edgeHub", kModuleKey, kT0 + 3600);
  expect_refused({"leaf", ""}, SasCredential{not_edge}, Errc::wrong_audience, "wrong_audience");
  const auto expired =
      token("myhub.azure-devices.net/devices/child/modules/$edgeHub", kChildEdgeHubKey, kT0 - 1);
  expect_refused({"leaf", ""}, SasCredential{expired}, Errc::token_expired, "token_expired");
}

TEST_F(AuthenticatorTest, WithRememberTokensTheLastOwnTokenOfEachIdentityIsKept) {
  Authenticator remembering(
      AuthenticatorOptions{
          std::string(kHub), std::string(kGateway), std::nullopt, {}, /*remember_tokens=*/true},
      *lookup_, nullptr, clock_, metrics_);
  const auto first = token("myhub.azure-devices.net/devices/dev1", kDeviceKey, kT0 + 60);
  const auto second = token("myhub.azure-devices.net/devices/dev1", kDeviceKey, kT0 + 120);
  EXPECT_FALSE(remembering.last_token({"dev1", ""}));
  ASSERT_TRUE(remembering.authenticate({"dev1", ""}, SasCredential{first}));
  ASSERT_TRUE(remembering.authenticate({"dev1", ""}, SasCredential{second}));
  EXPECT_EQ(remembering.last_token({"dev1", ""}), second);
  // Refused tokens and on-behalf-of tokens are not the identity's own.
  EXPECT_FALSE(remembering.authenticate({"dev1", ""}, SasCredential{second + "x"}));
  EXPECT_EQ(remembering.last_token({"dev1", ""}), second);
  const auto behalf =
      token("myhub.azure-devices.net/devices/child/modules/$edgeHub", kChildEdgeHubKey, kT0 + 60);
  ASSERT_TRUE(remembering.authenticate({"leaf", ""}, SasCredential{behalf}));
  EXPECT_FALSE(remembering.last_token({"leaf", ""}));
  // Off by default.
  ASSERT_TRUE(authenticator_->authenticate({"dev1", ""}, SasCredential{first}));
  EXPECT_FALSE(authenticator_->last_token({"dev1", ""}));
}

}  // namespace
}  // namespace edgehub::identity
