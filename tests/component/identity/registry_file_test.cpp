// The identity registry on real files: permission rule, load, reload with revocations.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "edgehub/identity/registry.hpp"
#include "temp_dir.hpp"

namespace edgehub::identity {
namespace {

using core::ClientId;
using ::testing::HasSubstr;

constexpr std::string_view kKeyA = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr std::string_view kKeyB = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=";

std::string device(std::string_view id, std::string_view key, bool enabled = true) {
  return "[[device]]\nid = \"" + std::string(id) + "\"\nprimary_key = \"" + std::string(key) +
         "\"\nenabled = " + (enabled ? "true" : "false") + "\n\n";
}

TEST(RegistryFile, PrivateFileLoads) {
  test::TempDir dir;
  const auto file = dir.write("ids.toml", device("a", kKeyA));
  std::vector<RegistryIssue> issues;
  auto snapshot = load_identities(file, "gw", issues);
  ASSERT_TRUE(snapshot) << (issues.empty() ? "" : issues[0].to_string());
  EXPECT_NE(snapshot->find(ClientId{"a", ""}), nullptr);
}

TEST(RegistryFile, GroupOrWorldAccessibleFileIsRefusedWithTheFix) {
  test::TempDir dir;
  for (const mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    const auto file = dir.write("ids.toml", device("a", kKeyA), mode);
    std::vector<RegistryIssue> issues;
    EXPECT_FALSE(load_identities(file, "gw", issues)) << std::oct << mode;
    ASSERT_EQ(issues.size(), 1u);
    EXPECT_EQ(issues[0].file, file);
    EXPECT_THAT(issues[0].reason, HasSubstr("chmod 600 " + file.string()));
    EXPECT_THAT(issues[0].to_string(), HasSubstr(file.string() + ": "));
  }
  const auto file = dir.write("ids.toml", device("a", kKeyA), 0644);
  std::vector<RegistryIssue> issues;
  (void)load_identities(file, "gw", issues);
  EXPECT_THAT(issues[0].reason, HasSubstr("mode 0644"));
  EXPECT_FALSE(check_file_mode(dir.write("ok.toml", "", 0400)));
}

TEST(RegistryFile, MissingFileIsAClearError) {
  test::TempDir dir;
  std::vector<RegistryIssue> issues;
  EXPECT_FALSE(load_identities(dir.path() / "absent.toml", "gw", issues));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_THAT(issues[0].to_string(), HasSubstr("absent.toml: cannot read"));
}

TEST(RegistryFile, DirectoryIsRefused) {
  test::TempDir dir;
  std::vector<RegistryIssue> issues;
  EXPECT_FALSE(load_identities(dir.path(), "gw", issues));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_THAT(issues[0].reason, HasSubstr("not a regular file"));
}

TEST(RegistryFile, ParseErrorsCarryTheFileName) {
  test::TempDir dir;
  const auto file = dir.write("ids.toml", "[[device]]\nid = \"a\"\n");
  std::vector<RegistryIssue> issues;
  EXPECT_FALSE(load_identities(file, "gw", issues));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].to_string(),
            file.string() + ":1: device[1].primary_key: is required when auth = \"sas\"");
}

TEST(Registry, WithoutAFileIsEmpty) {
  Registry registry({}, "gw");
  std::vector<RegistryIssue> issues;
  EXPECT_TRUE(registry.load(issues));
  EXPECT_TRUE(registry.snapshot()->identities().empty());
  EXPECT_EQ(registry.find(ClientId{"a", ""}), nullptr);
}

TEST(Registry, ReloadReportsRevocationsAndSwapsTheSnapshot) {
  test::TempDir dir;
  const auto file = dir.write("ids.toml", device("a", kKeyA) + device("b", kKeyA) +
                                              device("c", kKeyA) + device("d", kKeyA));
  Registry registry(file, "gw");
  std::vector<RegistryIssue> issues;
  ASSERT_TRUE(registry.load(issues));
  const auto held = registry.find(ClientId{"b", ""});
  ASSERT_NE(held, nullptr);

  dir.write("ids.toml", device("a", kKeyA) + device("c", kKeyA, false) + device("d", kKeyB) +
                            device("e", kKeyA));
  auto revoked = registry.reload(issues);
  ASSERT_TRUE(revoked);
  const std::vector<Revocation> expected = {{ClientId{"b", ""}, RevokeReason::removed},
                                            {ClientId{"c", ""}, RevokeReason::disabled},
                                            {ClientId{"d", ""}, RevokeReason::credentials_changed}};
  EXPECT_EQ(*revoked, expected);
  EXPECT_EQ(registry.find(ClientId{"b", ""}), nullptr);
  EXPECT_NE(registry.find(ClientId{"e", ""}), nullptr);
  EXPECT_FALSE(registry.find(ClientId{"c", ""})->enabled);
  // An identity obtained before the reload stays valid: it keeps its snapshot alive.
  EXPECT_EQ(held->id, (ClientId{"b", ""}));
  EXPECT_EQ(held->keys.at(0).size(), 32u);
}

TEST(Registry, FailedReloadKeepsTheCurrentSnapshot) {
  test::TempDir dir;
  const auto file = dir.write("ids.toml", device("a", kKeyA));
  Registry registry(file, "gw");
  std::vector<RegistryIssue> issues;
  ASSERT_TRUE(registry.load(issues));
  const auto before = registry.snapshot();

  dir.write("ids.toml", "[[device]]\nid = \"a\"\nprimary_key = \"broken\"\n");
  EXPECT_FALSE(registry.reload(issues));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 3);
  EXPECT_EQ(registry.snapshot(), before);
  EXPECT_NE(registry.find(ClientId{"a", ""}), nullptr);

  issues.clear();
  dir.write("ids.toml", device("a", kKeyA), 0644);
  EXPECT_FALSE(registry.reload(issues));
  EXPECT_THAT(issues.at(0).reason, HasSubstr("chmod 600"));
  EXPECT_EQ(registry.snapshot(), before);
}

TEST(Registry, LookupsDuringReloadsAlwaysSeeAWholeSnapshot) {
  // Readers on other threads while the file is rewritten and reloaded: every lookup sees either
  // the old or the new snapshot, never a torn one, and identities they hold stay alive (run
  // under the sanitizer build to catch lifetime mistakes).
  test::TempDir dir;
  const std::string old_file = device("a", kKeyA) + device("b", kKeyA);
  const std::string new_file = device("a", kKeyB) + device("c", kKeyB);
  const auto file = dir.write("ids.toml", old_file);
  Registry registry(file, "gw");
  std::vector<RegistryIssue> issues;
  ASSERT_TRUE(registry.load(issues));
  const Bytes key_a = *decode_base64(kKeyA);
  const Bytes key_b = *decode_base64(kKeyB);

  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const auto snapshot = registry.snapshot();
        const auto* a = snapshot->find(ClientId{"a", ""});
        const bool has_b = snapshot->find(ClientId{"b", ""}) != nullptr;
        const bool has_c = snapshot->find(ClientId{"c", ""}) != nullptr;
        // Old: a has key A and b exists; new: a has key B and c exists.
        const bool consistent =
            a != nullptr && has_b != has_c && a->keys.at(0) == (has_b ? key_a : key_b);
        if (!consistent) torn.fetch_add(1);
        const auto held = registry.find(ClientId{"a", ""});
        if (!held || held->keys.at(0).size() != 32) torn.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    dir.write("ids.toml", i % 2 == 0 ? new_file : old_file);
    std::vector<RegistryIssue> reload_issues;
    if (!registry.reload(reload_issues)) {
      ADD_FAILURE() << "reload " << i << " failed";  // no ASSERT: the readers must be joined
      break;
    }
  }
  stop.store(true);
  for (auto& r : readers)
    r.join();
  EXPECT_EQ(torn.load(), 0);
}

TEST(Registry, ModulesBelongToTheGatewayDevice) {
  test::TempDir dir;
  const auto file = dir.write(
      "ids.toml", "[[module]]\nid = \"filter\"\nprimary_key = \"" + std::string(kKeyA) + "\"\n");
  Registry registry(file, "edge-gw");
  std::vector<RegistryIssue> issues;
  ASSERT_TRUE(registry.load(issues));
  EXPECT_NE(registry.find(ClientId{"edge-gw", "filter"}), nullptr);
  EXPECT_EQ(registry.find(ClientId{"other", "filter"}), nullptr);
}

}  // namespace
}  // namespace edgehub::identity
