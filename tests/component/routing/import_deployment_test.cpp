// edgehubctl import-deployment over sample manifests.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "run_command.hpp"

namespace edgehub::routing::test {
namespace {

const std::string kData = EDGEHUB_SOURCE_DIR "/tests/component/routing/data/";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ImportDeployment, ManifestBecomesGatewayToml) {
  const std::string file = kData + "deployment.json";
  const auto r = run_command(quote(EDGEHUBCTL_PATH) + " import-deployment " + quote(file));
  EXPECT_EQ(r.exit_code, 0);
  std::string expected = read_file(kData + "deployment.toml");
  expected.replace(expected.find("DEPLOYMENT"), 10, file);
  EXPECT_EQ(r.out, expected);
}

TEST(ImportDeployment, InvalidRoutesAreNamedAndSchemaRulesApply) {
  const std::string file = kData + "bad_routes.json";
  const auto r = run_command(quote(EDGEHUBCTL_PATH) + " import-deployment " + quote(file) +
                             " 2>&1 >/dev/null");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("route 'typo': column 29: operator '>' cannot compare string with number"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("route 'object': must be a string in schema 1.0"), std::string::npos)
      << r.out;
  const auto toml =
      run_command(quote(EDGEHUBCTL_PATH) + " import-deployment " + quote(file) + " 2>/dev/null");
  EXPECT_NE(toml.out.find("good = \"FROM /messages/* INTO $upstream\"\n"), std::string::npos);
  EXPECT_EQ(toml.out.find("typo"), std::string::npos);
  EXPECT_NE(toml.out.find("time_to_live_secs = 4294967295  # manifest: -1 (never expire)"),
            std::string::npos);
}

TEST(ImportDeployment, UnusableInput) {
  const std::string ctl = quote(EDGEHUBCTL_PATH);
  EXPECT_EQ(run_command(ctl + " import-deployment /nonexistent 2>/dev/null").exit_code, 1);
  EXPECT_EQ(run_command("echo '{' | " + ctl + " import-deployment - 2>/dev/null").exit_code, 1);
  EXPECT_EQ(
      run_command("echo '{\"a\": 1}' | " + ctl + " import-deployment - 2>/dev/null").exit_code, 1);
  EXPECT_EQ(run_command("echo '{\"schemaVersion\": \"2.0\", \"routes\": {}}' | " + ctl +
                        " import-deployment - 2>/dev/null")
                .exit_code,
            1);
  EXPECT_EQ(run_command(ctl + " import-deployment 2>/dev/null").exit_code, 64);
}

}  // namespace
}  // namespace edgehub::routing::test
