// Parsing and diffing identity registries (design.md §4); file handling is in the component tier.

#include "edgehub/identity/registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace edgehub::identity {
namespace {

using core::ClientId;
using ::testing::HasSubstr;

constexpr std::string_view kKeyA = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr std::string_view kKeyB = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=";

std::optional<Snapshot> parse(std::string_view text, std::vector<RegistryIssue>& issues) {
  return parse_identities(text, "/etc/ids.toml", "gw", issues);
}

Snapshot parse_ok(std::string_view text) {
  std::vector<RegistryIssue> issues;
  auto snapshot = parse(text, issues);
  for (const auto& i : issues)
    ADD_FAILURE() << i.to_string();
  return snapshot ? *snapshot : Snapshot{};
}

std::vector<RegistryIssue> problems(std::string_view text) {
  std::vector<RegistryIssue> issues;
  EXPECT_FALSE(parse(text, issues));
  EXPECT_FALSE(issues.empty());
  return issues;
}

const std::string kFull = std::string(R"(# local identities
[[device]]
id = "sensor-1"
auth = "sas"
primary_key = ")") + std::string(kKeyA) +
                          R"("
secondary_key = ")" + std::string(kKeyB) +
                          R"("

[[device]]
id = "camera-2"
auth = "x509_thumbprint"
primary_thumbprint = "01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67"
secondary_thumbprint = ")" +
                          std::string(64, 'A') + R"("
enabled = false

[[device]]
id = "door-3"
auth = "x509_ca"
status = "disabled"

[[device]]
id = "implicit-sas"
primary_key = ")" + std::string(kKeyB) +
                          R"("

[[module]]
id = "filter"
primary_key = ")" + std::string(kKeyA) +
                          R"("
)";

TEST(RegistryParse, ReadsEveryKindOfIdentity) {
  const Snapshot s = parse_ok(kFull);
  ASSERT_EQ(s.identities().size(), 5u);

  const Identity* sensor = s.find(ClientId{"sensor-1", ""});
  ASSERT_NE(sensor, nullptr);
  EXPECT_EQ(sensor->auth, AuthType::sas);
  EXPECT_TRUE(sensor->enabled);
  ASSERT_EQ(sensor->keys.size(), 2u);
  EXPECT_EQ(sensor->keys[0], *decode_base64(kKeyA));
  EXPECT_EQ(sensor->keys[1], *decode_base64(kKeyB));
  EXPECT_EQ(sensor->line, 2);

  const Identity* camera = s.find(ClientId{"camera-2", ""});
  ASSERT_NE(camera, nullptr);
  EXPECT_EQ(camera->auth, AuthType::x509_thumbprint);
  EXPECT_FALSE(camera->enabled);
  ASSERT_EQ(camera->thumbprints.size(), 2u);
  EXPECT_EQ(camera->thumbprints[0].size(), 20u);
  EXPECT_EQ(camera->thumbprints[1].size(), 32u);
  EXPECT_TRUE(camera->keys.empty());

  const Identity* door = s.find(ClientId{"door-3", ""});
  ASSERT_NE(door, nullptr);
  EXPECT_EQ(door->auth, AuthType::x509_ca);
  EXPECT_FALSE(door->enabled);

  const Identity* implicit = s.find(ClientId{"implicit-sas", ""});
  ASSERT_NE(implicit, nullptr);
  EXPECT_EQ(implicit->auth, AuthType::sas);

  const Identity* filter = s.find(ClientId{"gw", "filter"});
  ASSERT_NE(filter, nullptr);
  EXPECT_EQ(filter->auth, AuthType::sas);
  EXPECT_EQ(s.find(ClientId{"filter", ""}), nullptr);
  EXPECT_EQ(s.find(ClientId{"other", "filter"}), nullptr);
}

TEST(RegistryParse, EmptyFileIsAnEmptyRegistry) {
  EXPECT_TRUE(parse_ok("# nothing yet\n").identities().empty());
}

TEST(RegistryParse, IssueNamesFileLineAndKey) {
  const auto issues = problems("[[device]]\nid = \"d\"\nprimary_key = \"not base64\"\n");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 3);
  EXPECT_EQ(issues[0].key, "device[1].primary_key");
  EXPECT_EQ(issues[0].to_string(), "/etc/ids.toml:3: device[1].primary_key: is not valid base64");
}

TEST(RegistryParse, ReportsEveryProblemAtOnce) {
  const auto issues = problems(R"([[device]]
id = "ok"
primary_key = "MDEy"
[[device]]
auth = "password"
[[module]]
id = "m"
auth = "x509_ca"
colour = "blue"
)");
  ASSERT_EQ(issues.size(), 5u);
  EXPECT_EQ(issues[0].key, "device[1].primary_key");
  EXPECT_THAT(issues[0].reason, HasSubstr("16 to 64 bytes"));
  EXPECT_EQ(issues[1].key, "device[2].id");
  EXPECT_EQ(issues[1].line, 4);
  EXPECT_EQ(issues[2].key, "device[2].auth");
  EXPECT_EQ(issues[2].line, 5);
  EXPECT_EQ(issues[3].key, "module[1].colour");
  EXPECT_EQ(issues[3].line, 9);
  EXPECT_EQ(issues[4].key, "module[1].auth");
  EXPECT_THAT(issues[4].reason, HasSubstr("modules cannot use X.509"));
}

TEST(RegistryParse, TomlSyntaxErrorHasItsLine) {
  const auto issues = problems("[[device]]\nid = \"a\"\nprimary_key = \"x\n");
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 3);
  EXPECT_THAT(issues[0].reason, HasSubstr("TOML syntax"));
}

TEST(RegistryParse, DuplicateIdNamesTheFirstDeclaration) {
  const std::string text =
      "[[device]]\nid = \"a\"\nauth = \"x509_ca\"\n\n[[device]]\nid = \"a\"\n"
      "auth = \"x509_ca\"\n";
  const auto issues = problems(text);
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 6);
  EXPECT_THAT(issues[0].reason, HasSubstr("first declared on line 1"));
}

TEST(RegistryParse, ModuleAndDeviceMayShareAnId) {
  const std::string text =
      "[[device]]\nid = \"a\"\nauth = \"x509_ca\"\n[[module]]\nid = \"a\"\n"
      "primary_key = \"" +
      std::string(kKeyA) + "\"\n";
  EXPECT_EQ(parse_ok(text).identities().size(), 2u);
}

TEST(RegistryParse, ChildGatewaysAndTheirDevices) {
  const std::string key = "primary_key = \"" + std::string(kKeyA) + "\"\n";
  const auto snapshot = parse_ok("[[device]]\nid = \"child\"\nedge_device = true\n" + key +
                                 "[[device]]\nid = \"leaf\"\nparent = \"child\"\n" + key +
                                 "[[device]]\nid = \"plain\"\n" + key);
  const auto* child = snapshot.find(core::ClientId{"child", {}});
  const auto* leaf = snapshot.find(core::ClientId{"leaf", {}});
  const auto* plain = snapshot.find(core::ClientId{"plain", {}});
  ASSERT_TRUE(child && leaf && plain);
  EXPECT_TRUE(child->edge_device);
  EXPECT_FALSE(leaf->edge_device);
  EXPECT_EQ(leaf->parent, "child");
  EXPECT_FALSE(plain->edge_device);
  EXPECT_TRUE(plain->parent.empty());
  // Modules know neither key.
  EXPECT_FALSE(problems("[[module]]\nid = \"m\"\n" + key + "edge_device = true\n").empty());
}

TEST(RegistryParse, AChildGatewaysEdgeHubModuleBelongsToThatChild) {
  const std::string key = "primary_key = \"" + std::string(kKeyA) + "\"\n";
  const auto snapshot = parse_ok("[[device]]\nid = \"child\"\nedge_device = true\n" + key +
                                 "[[module]]\nid = \"$edgeHub\"\ndevice = \"child\"\n" + key +
                                 "[[module]]\nid = \"$edgeHub\"\n" + key);
  EXPECT_TRUE(snapshot.find(core::ClientId{"child", "$edgeHub"}));
  EXPECT_TRUE(snapshot.find(core::ClientId{"gw", "$edgeHub"}));  // the gateway's own, as before
  // Only a child gateway declared in the file may own modules besides the gateway.
  const auto issues = problems("[[device]]\nid = \"plain\"\n" + key +
                               "[[module]]\nid = \"m\"\ndevice = \"plain\"\n" + key);
  ASSERT_EQ(issues.size(), 1U);
  EXPECT_EQ(issues[0].key, "module.device");
  EXPECT_NE(issues[0].reason.find("edge_device = true"), std::string::npos);
}

TEST(RegistryParse, RefusesInvalidValues) {
  struct Case {
    std::string body;
    std::string key;
    std::string reason;
  };
  const std::string key = "primary_key = \"" + std::string(kKeyA) + "\"\n";
  const std::vector<Case> cases = {
      {"id = \"a b\"\n" + key, "device[1].id", "1-128 characters"},
      {"id = \"" + std::string(129, 'a') + "\"\n" + key, "device[1].id", "1-128 characters"},
      {"id = 7\n" + key, "device[1].id", "must be a string, found an integer"},
      {"id = \"a\"\n", "device[1].primary_key", "is required"},
      {"id = \"a\"\nauth = \"x509_thumbprint\"\n", "device[1].primary_thumbprint", "is required"},
      {"id = \"a\"\nauth = \"x509_thumbprint\"\nprimary_thumbprint = \"abc\"\n",
       "device[1].primary_thumbprint", "SHA-1"},
      {"id = \"a\"\nauth = \"x509_ca\"\n" + key, "device[1].primary_key", "only to auth = \"sas\""},
      {"id = \"a\"\n" + key + "primary_thumbprint = \"" + std::string(40, 'a') + "\"\n",
       "device[1].primary_thumbprint", "only to auth = \"x509_thumbprint\""},
      {"id = \"a\"\n" + key + "enabled = \"no\"\n", "device[1].enabled", "true or false"},
      {"id = \"a\"\n" + key + "status = \"off\"\n", "device[1].status",
       "\"enabled\" or \"disabled\""},
      {"id = \"a\"\n" + key + "enabled = true\nstatus = \"disabled\"\n", "device[1].status",
       "contradicts"},
      {"id = \"a\"\n" + key + "primary-key = \"x\"\n", "device[1].primary-key", "unknown key"},
      {"id = \"a\"\n" + key + "edge_device = 1\n", "device[1].edge_device", "true or false"},
      {"id = \"a\"\n" + key + "parent = \"a b\"\n", "device[1].parent", "valid device id"},
  };
  for (const auto& c : cases) {
    const auto issues = problems("[[device]]\n" + c.body);
    ASSERT_FALSE(issues.empty()) << c.body;
    EXPECT_EQ(issues[0].key, c.key) << c.body;
    EXPECT_THAT(issues[0].reason, HasSubstr(c.reason)) << c.body;
  }
}

TEST(RegistryParse, RefusesWrongShapes) {
  auto issues = problems("device = \"sensor\"\n");
  EXPECT_EQ(issues[0].key, "device");
  EXPECT_THAT(issues[0].reason, HasSubstr("[[device]]"));
  issues = problems("[device]\nid = \"a\"\n");
  EXPECT_THAT(issues[0].reason, HasSubstr("array of tables"));
  issues = problems("[[devices]]\nid = \"a\"\n");
  EXPECT_EQ(issues[0].key, "devices");
  EXPECT_THAT(issues[0].reason, HasSubstr("unknown key"));
}

TEST(Revocations, EachReasonHasTheWordsTheLogsUse) {
  EXPECT_EQ(describe(RevokeReason::removed), "removed");
  EXPECT_EQ(describe(RevokeReason::disabled), "disabled");
  EXPECT_EQ(describe(RevokeReason::credentials_changed), "has new credentials");
}

TEST(Revocations, ReportsRemovedDisabledAndChangedIdentities) {
  const std::string a = "primary_key = \"" + std::string(kKeyA) + "\"\n";
  const std::string b = "primary_key = \"" + std::string(kKeyB) + "\"\n";
  const Snapshot before = parse_ok("[[device]]\nid = \"stays\"\n" + a +     //
                                   "[[device]]\nid = \"removed\"\n" + a +   //
                                   "[[device]]\nid = \"disabled\"\n" + a +  //
                                   "[[device]]\nid = \"rekeyed\"\n" + a +   //
                                   "[[device]]\nid = \"was-off\"\nenabled = false\n" + a +
                                   "[[module]]\nid = \"m\"\n" + a);
  const Snapshot after = parse_ok("[[device]]\nid = \"stays\"\n" + a +                      //
                                  "[[device]]\nid = \"disabled\"\nenabled = false\n" + a +  //
                                  "[[device]]\nid = \"rekeyed\"\n" + b +                    //
                                  "[[device]]\nid = \"added\"\n" + a);
  const std::vector<Revocation> expected = {
      {ClientId{"disabled", ""}, RevokeReason::disabled},
      {ClientId{"gw", "m"}, RevokeReason::removed},
      {ClientId{"rekeyed", ""}, RevokeReason::credentials_changed},
      {ClientId{"removed", ""}, RevokeReason::removed},
  };
  EXPECT_EQ(revocations(before, after), expected);
  EXPECT_TRUE(revocations(after, after).empty());
}

TEST(Ids, CharacterSetAndLength) {
  EXPECT_TRUE(is_valid_id("A-z0.9:+%_#*?!(),=;$'"));
  EXPECT_TRUE(is_valid_id(std::string(128, 'x')));
  EXPECT_FALSE(is_valid_id(std::string(129, 'x')));
  EXPECT_FALSE(is_valid_id(""));
  for (const char* bad : {"a/b", "a b", "a\"b", "a\\b", "a@b", "caf\xc3\xa9"}) {
    EXPECT_FALSE(is_valid_id(bad)) << bad;
  }
}

}  // namespace
}  // namespace edgehub::identity
