// identity_bench: what authenticating one connection costs on this machine. BM_AuthenticateX509
// measures a returning device (its chain remembered by the Authenticator); BM_FirstContactX509
// the first connection of a certificate.
//   build-x/bench/identity/identity_bench --benchmark_min_time=1

#include <benchmark/benchmark.h>

#include "edgehub/identity/authenticator.hpp"
#include "unit/identity/fake_clock.hpp"
#include "unit/identity/test_certs.hpp"

namespace {

using namespace edgehub;
using identity::test::kDay;
using identity::test::kT0;

constexpr std::string_view kKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

class Lookup final : public identity::KeyLookup {
 public:
  explicit Lookup(identity::Snapshot s)
      : snapshot_(std::make_shared<const identity::Snapshot>(std::move(s))) {}
  std::shared_ptr<const identity::Identity> find(const core::ClientId& id) const override {
    const auto* found = snapshot_->find(id);
    return found ? std::shared_ptr<const identity::Identity>(snapshot_, found) : nullptr;
  }

 private:
  std::shared_ptr<const identity::Snapshot> snapshot_;
};

std::string device_token(std::string_view device) {
  return *identity::make_sas_token("myhub.azure-devices.net/devices/" + std::string(device), kKey,
                                   core::SystemTime{std::chrono::seconds{kT0 + 3600}});
}

void BM_ParseAndVerifySas(benchmark::State& state) {
  const std::string token = device_token("dev1");
  const std::vector<identity::Bytes> keys = {*identity::decode_base64(kKey)};
  const identity::AudienceHosts hosts{"myhub.azure-devices.net", "gw.local"};
  const core::ClientId claimed{"dev1", ""};
  const core::SystemTime now{std::chrono::seconds{kT0}};
  for (auto _ : state) {
    auto parsed = identity::parse_sas_token(token);
    auto ok = identity::verify_sas_token(*parsed, claimed, keys, hosts, now);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_ParseAndVerifySas);

void BM_MintSas(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(device_token("dev1"));
}
BENCHMARK(BM_MintSas);

// The whole Authenticator path against a registry of state.range(0) identities.
void BM_AuthenticateSas(benchmark::State& state) {
  std::vector<identity::Identity> ids;
  for (int i = 0; i < state.range(0); ++i) {
    identity::Identity id;
    id.id = {"dev" + std::to_string(i), ""};
    id.keys = {*identity::decode_base64(kKey)};
    ids.push_back(std::move(id));
  }
  Lookup lookup{identity::Snapshot(std::move(ids))};
  identity::test::FakeClock clock(kT0);
  ops::Registry metrics;
  identity::Authenticator auth({"myhub.azure-devices.net", "gw.local", std::nullopt}, lookup,
                               nullptr, clock, metrics);
  const identity::Credential credential = identity::SasCredential{device_token("dev1")};
  for (auto _ : state) {
    auto result = auth.authenticate({"dev1", ""}, credential);
    if (!result) state.SkipWithError("refused");
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_AuthenticateSas)->Arg(10)->Arg(10000);

void BM_AuthenticateX509(benchmark::State& state) {
  using identity::test::make_cert;
  const auto root = make_cert({"Root", true, kT0 - kDay, kT0 + 365 * kDay, nullptr});
  const auto inter = make_cert({"Intermediate", true, kT0 - kDay, kT0 + 365 * kDay, &root});
  const auto leaf = make_cert({"dev1", false, kT0 - kDay, kT0 + 30 * kDay, &inter});
  const bool ca = state.range(0) == 1;
  std::vector<identity::Identity> ids;
  const auto facts = *identity::inspect_certificate(leaf.der());
  identity::Identity device;
  device.id = {"dev1", ""};
  device.auth = ca ? identity::AuthType::x509_ca : identity::AuthType::x509_thumbprint;
  device.thumbprints = {facts.sha256};
  ids.push_back(std::move(device));
  Lookup lookup{identity::Snapshot(std::move(ids))};
  identity::test::FakeClock clock(kT0);
  ops::Registry metrics;
  auto trust = identity::TrustBundle::from_pem(root.pem());
  identity::Authenticator auth({"myhub.azure-devices.net", "gw.local", std::nullopt}, lookup,
                               std::make_shared<const identity::TrustBundle>(std::move(*trust)),
                               clock, metrics);
  const identity::Credential credential = identity::ClientCertificate{leaf.der(), {inter.der()}};
  for (auto _ : state) {
    auto result = auth.authenticate({"dev1", ""}, credential);
    if (!result) state.SkipWithError("refused");
    benchmark::DoNotOptimize(result);
  }
  state.SetLabel(ca ? "x509_ca (chain of 3, P-256)" : "x509_thumbprint");
}
BENCHMARK(BM_AuthenticateX509)->Arg(0)->Arg(1);

// First contact (nothing remembered): one certificate parse, plus chain verification for CA.
void BM_FirstContactX509(benchmark::State& state) {
  using identity::test::make_cert;
  const auto root = make_cert({"Root", true, kT0 - kDay, kT0 + 365 * kDay, nullptr});
  const auto inter = make_cert({"Intermediate", true, kT0 - kDay, kT0 + 365 * kDay, &root});
  const auto leaf = make_cert({"dev1", false, kT0 - kDay, kT0 + 30 * kDay, &inter});
  const identity::ClientCertificate cert{leaf.der(), {inter.der()}};
  const std::vector<identity::Bytes> thumbprints = {
      identity::inspect_certificate(leaf.der())->sha256};
  auto trust = identity::TrustBundle::from_pem(root.pem());
  const core::SystemTime now{std::chrono::seconds{kT0}};
  const bool ca = state.range(0) == 1;
  for (auto _ : state) {
    if (ca) {
      auto ok = identity::check_ca_chain(cert, *trust, "dev1", now);
      if (!ok) state.SkipWithError("refused");
      benchmark::DoNotOptimize(ok);
    } else {
      auto ok = identity::check_thumbprint(cert, thumbprints, now);
      if (!ok) state.SkipWithError("refused");
      benchmark::DoNotOptimize(ok);
    }
  }
  state.SetLabel(ca ? "x509_ca (chain of 3, P-256)" : "x509_thumbprint");
}
BENCHMARK(BM_FirstContactX509)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
