// The merged lookup (docs/identities.md "Precedence"): the local identities file wins over the
// synchronised device scope, a scope-only identity is found, a disabled one in the scope is
// refused unless the file has it, and only ids neither knows ask for a refresh.

#include "edgehub/identity/layered_lookup.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "edgehub/identity/authenticator.hpp"
#include "edgehub/identity/errors.hpp"
#include "edgehub/identity/scope_identities.hpp"
#include "fake_clock.hpp"

namespace edgehub::identity {
namespace {

constexpr const char* kLocalKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr const char* kScopeKey = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

Identity device(std::string id, const char* key, bool enabled = true) {
  Identity i;
  i.id.device = std::move(id);
  i.keys = {*decode_base64(key)};
  i.enabled = enabled;
  return i;
}

class LayeredLookupTest : public ::testing::Test {
 protected:
  LayeredLookupTest() {
    local_.replace(Snapshot({device("both", kLocalKey), device("local-only", kLocalKey),
                             device("off-in-scope", kLocalKey)}));
    scope_.replace(
        Snapshot({device("both", kScopeKey), device("scope-only", kScopeKey),
                  device("off-in-scope", kScopeKey, false), device("disabled", kScopeKey, false)}));
    lookup_.on_miss([this](const core::ClientId& id) { misses_.push_back(id.to_string()); });
  }

  ScopeIdentities local_;  // stands for the file's Registry: any KeyLookup
  ScopeIdentities scope_;
  LayeredLookup lookup_{local_, scope_};
  std::vector<std::string> misses_;
};

TEST_F(LayeredLookupTest, LocalFileWinsForAnIdInBoth) {
  auto found = lookup_.find({"both", {}});
  ASSERT_TRUE(found);
  EXPECT_EQ(found->keys, std::vector<Bytes>{*decode_base64(kLocalKey)});
  found = lookup_.find({"off-in-scope", {}});
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->enabled);  // the operator's file re-enables it
}

TEST_F(LayeredLookupTest, ScopeAnswersForIdsTheFileDoesNotName) {
  auto found = lookup_.find({"scope-only", {}});
  ASSERT_TRUE(found);
  EXPECT_EQ(found->keys, std::vector<Bytes>{*decode_base64(kScopeKey)});
  EXPECT_TRUE(lookup_.find({"local-only", {}}));
  EXPECT_TRUE(misses_.empty());
}

TEST_F(LayeredLookupTest, OnlyUnknownIdsAskForARefresh) {
  EXPECT_FALSE(lookup_.find({"stranger", {}}));
  EXPECT_FALSE(lookup_.find({"both", "module"}));
  EXPECT_EQ(misses_, (std::vector<std::string>{"stranger", "both/module"}));
}

TEST_F(LayeredLookupTest, AnIdentityOutlivesAReplaceOfTheScope) {
  auto found = lookup_.find({"scope-only", {}});
  scope_.replace(Snapshot{});
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id.device, "scope-only");
  EXPECT_FALSE(lookup_.find({"scope-only", {}}));
}

TEST_F(LayeredLookupTest, AReplaceReportsWhomTheNewScopeTakesAway) {
  std::vector<Revocation> observed;
  scope_.on_revoked([&](const std::vector<Revocation>& r) { observed = r; });
  const auto revoked = scope_.replace(
      Snapshot({device("both", kScopeKey), device("scope-only", kLocalKey),
                device("off-in-scope", kScopeKey, false), device("newcomer", kScopeKey)}));
  // "disabled" was already unusable; "scope-only" has a new key; nobody is added by a removal.
  const std::vector<Revocation> expected{{{"scope-only", {}}, RevokeReason::credentials_changed}};
  EXPECT_EQ(revoked, expected);
  EXPECT_EQ(observed, expected);

  observed.clear();
  scope_.replace(Snapshot({device("scope-only", kLocalKey, false)}));
  EXPECT_EQ(observed, (std::vector<Revocation>{{{"both", {}}, RevokeReason::removed},
                                               {{"newcomer", {}}, RevokeReason::removed},
                                               {{"scope-only", {}}, RevokeReason::disabled}}));

  observed = {{{"sentinel", {}}, RevokeReason::removed}};
  scope_.replace(Snapshot({device("scope-only", kLocalKey, false)}));
  EXPECT_EQ(observed.size(), 1u) << "an unchanged scope revokes nobody and calls nobody";
}

TEST_F(LayeredLookupTest, AuthenticatorAcceptsScopeKeysAndRefusesDisabled) {
  const test::FakeClock clock(test::kT0);
  ops::Registry metrics;
  Authenticator auth({"hub.azure-devices.net", "gw.local", std::nullopt, {}}, lookup_, nullptr,
                     clock, metrics);
  const auto expiry = clock.now() + std::chrono::hours(1);
  auto token = [&](const char* id, const char* key) {
    return SasCredential{
        *make_sas_token(std::string("hub.azure-devices.net/devices/") + id, key, expiry)};
  };
  EXPECT_TRUE(auth.authenticate({"scope-only", {}}, token("scope-only", kScopeKey)));
  EXPECT_TRUE(auth.authenticate({"both", {}}, token("both", kLocalKey)));
  EXPECT_EQ(auth.authenticate({"both", {}}, token("both", kScopeKey)).error(),
            make_error_code(Errc::bad_signature));
  EXPECT_EQ(auth.authenticate({"disabled", {}}, token("disabled", kScopeKey)).error(),
            make_error_code(Errc::disabled_identity));
  EXPECT_TRUE(auth.authenticate({"off-in-scope", {}}, token("off-in-scope", kLocalKey)));
}

}  // namespace
}  // namespace edgehub::identity
