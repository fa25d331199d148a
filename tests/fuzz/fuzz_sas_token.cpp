// libFuzzer target: identity::parse_sas_token, verify_sas_token, client_id_from_resource and the
// Authenticator on arbitrary input. Invariants checked (abort = finding):
//  - url_decode(url_encode(x)) == x;
//  - a token minted for a parsed token's resource parses back to that resource and its
//    signature matches the minting key;
//  - authentication of a fuzzed token never succeeds for an identity whose key did not sign it.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "edgehub/core/message.hpp"
#include "edgehub/identity/authenticator.hpp"

namespace {

using namespace edgehub;

constexpr std::string_view kKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr std::string_view kOtherKey = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=";

class FixedClock final : public core::Clock {
 public:
  core::SystemTime now() const override {
    return core::SystemTime{std::chrono::seconds{1700000000}};
  }
  core::SteadyTime steady_now() const override { return {}; }
};

identity::Identity sas_identity(core::ClientId id, std::string_view key_base64) {
  identity::Identity entry;
  entry.id = std::move(id);
  entry.keys = {*identity::decode_base64(key_base64)};
  return entry;
}

class StaticLookup final : public identity::KeyLookup {
 public:
  StaticLookup() {
    std::vector<identity::Identity> ids;
    ids.push_back(sas_identity({"dev1", ""}, kKey));
    ids.push_back(sas_identity({"dev1", "mod1"}, kOtherKey));
    snapshot_ = std::make_shared<const identity::Snapshot>(std::move(ids));
  }
  std::shared_ptr<const identity::Identity> find(const core::ClientId& id) const override {
    const auto* found = snapshot_->find(id);
    return found ? std::shared_ptr<const identity::Identity>(snapshot_, found) : nullptr;
  }

 private:
  std::shared_ptr<const identity::Snapshot> snapshot_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const FixedClock clock;
  static const StaticLookup lookup;
  static ops::Registry metrics;
  static const identity::Authenticator authenticator(
      {"myhub.azure-devices.net", "gw.example.local", std::nullopt}, lookup, nullptr, clock,
      metrics);

  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (identity::url_decode(identity::url_encode(text)) != text) std::abort();
  (void)identity::url_decode(text);
  (void)identity::client_id_from_resource(text);

  auto token = identity::parse_sas_token(text);
  if (token) {
    const identity::AudienceHosts hosts{"myhub.azure-devices.net", "gw.example.local"};
    const std::vector<identity::Bytes> keys = {*identity::decode_base64(kKey)};
    (void)identity::verify_sas_token(*token, {"dev1", ""}, keys, hosts, clock.now());
    (void)identity::audience_covers(token->resource, hosts, {"dev1", "mod1"});

    const bool scheme_again =
        token->resource.size() >= 8 &&
        core::iequals(std::string_view(token->resource).substr(0, 8), "amqps://");
    if (!scheme_again && !token->resource.empty() &&
        token->expires_at() != core::SystemTime::max()) {
      auto minted = identity::make_sas_token(token->resource, kKey, token->expires_at());
      if (!minted) std::abort();
      auto reparsed = identity::parse_sas_token(*minted);
      // A resource long enough to push the minted token over the size limit is refused.
      if (minted->size() <= identity::kMaxTokenLength) {
        if (!reparsed || reparsed->resource != token->resource ||
            !identity::signature_matches(*reparsed, keys[0])) {
          std::abort();
        }
      }
    }
  }

  // The same bytes presented as credentials for the registered identities.
  for (const core::ClientId& claimed : {core::ClientId{"dev1", ""}, core::ClientId{"dev1", "mod1"},
                                        core::ClientId{"dev1", "other"}}) {
    auto result = authenticator.authenticate(claimed, identity::SasCredential{std::string(text)});
    // Success requires a token signed with a key of the claimed identity (or of its device);
    // only then can the fuzzer's bytes verify, which means it found an HMAC collision.
    if (result &&
        !(token && (identity::signature_matches(*token, *identity::decode_base64(kKey)) ||
                    identity::signature_matches(*token, *identity::decode_base64(kOtherKey))))) {
      std::abort();
    }
  }
  (void)authenticator.authenticate({"dev1", ""},
                                   identity::ClientCertificate{std::string(text), {}});
  return 0;
}
