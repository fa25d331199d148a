// The table of config files in tests/data/config: every good file loads without errors; every
// bad file reports exactly the mistakes its header announces ("# expect-key:" and
// "# expect-line:" pairs), each message naming the file, the line and the key. The same files
// drive `edgehubd --check-config` and `edgehubctl check` tests.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "edgehub/config/load.hpp"

namespace edgehub::config {
namespace {

namespace fs = std::filesystem;

const fs::path kDataDir = fs::path(EDGEHUB_SOURCE_DIR) / "tests" / "data" / "config";

struct Expectation {
  std::string key;
  int line = 0;
};

std::vector<fs::path> toml_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".toml") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Expectation> read_expectations(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> keys;
  std::vector<int> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# expect-key: ", 0) == 0) keys.push_back(line.substr(14));
    if (line.rfind("# expect-line: ", 0) == 0) lines.push_back(std::stoi(line.substr(15)));
  }
  std::vector<Expectation> out;
  EXPECT_EQ(keys.size(), lines.size()) << file;
  for (std::size_t i = 0; i < std::min(keys.size(), lines.size()); ++i) {
    out.push_back({keys[i], lines[i]});
  }
  return out;
}

// Values in the bad files that are secrets (or carry them) and must never be echoed.
constexpr const char* kSecrets[] = {"MDEyMzQ1Njc4OWFi", "pin-value", "secret@",
                                    "sig=", "not*base64*at*all"};

TEST(ConfigDataFiles, GoodFilesLoadWithoutErrorsOrWarnings) {
  const auto files = toml_files(kDataDir / "good");
  ASSERT_GE(files.size(), 5u);
  for (const auto& file : files) {
    std::vector<ConfigIssue> issues;
    const auto cfg = load_config(file, issues);
    EXPECT_TRUE(cfg.has_value()) << file;
    for (const auto& issue : issues)
      ADD_FAILURE() << issue.to_string();
  }
}

TEST(ConfigDataFiles, EachBadFileReportsExactlyItsMistakesWithFileLineAndKey) {
  const auto files = toml_files(kDataDir / "bad");
  ASSERT_GE(files.size(), 16u);
  std::size_t multi = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    const auto expected = read_expectations(file);
    ASSERT_FALSE(expected.empty()) << "no '# expect-key:' header";
    if (expected.size() >= 3) ++multi;

    std::vector<ConfigIssue> issues;
    EXPECT_FALSE(load_config(file, issues).has_value());
    std::vector<ConfigIssue> errors;
    std::copy_if(issues.begin(), issues.end(), std::back_inserter(errors),
                 [](const ConfigIssue& i) { return i.severity == Severity::error; });
    ASSERT_EQ(errors.size(), expected.size()) << [&] {
      std::string all;
      for (const auto& e : errors)
        all += e.to_string() + "\n";
      return all;
    }();
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(errors[i].key, expected[i].key);
      EXPECT_EQ(errors[i].line, expected[i].line);
      const std::string prefix =
          file.string() + ":" + std::to_string(expected[i].line) + ": " + expected[i].key + ": ";
      EXPECT_EQ(errors[i].to_string().rfind(prefix, 0), 0u) << errors[i].to_string();
      EXPECT_GT(errors[i].reason.size(), 10u);
      EXPECT_FALSE(errors[i].fix.empty());
    }
    for (const auto& issue : issues) {
      for (const char* secret : kSecrets) {
        EXPECT_EQ(issue.to_string().find(secret), std::string::npos) << issue.to_string();
        EXPECT_EQ(issue.fix.find(secret), std::string::npos) << issue.fix;
      }
    }
  }
  EXPECT_GE(multi, 1u) << "a file with three mistakes must report all three";
}

TEST(ConfigDataFiles, BadFilesCoverDistinctKeys) {
  std::vector<std::string> first_keys;
  for (const auto& file : toml_files(kDataDir / "bad")) {
    const auto expected = read_expectations(file);
    if (!expected.empty()) first_keys.push_back(expected.front().key);
  }
  std::sort(first_keys.begin(), first_keys.end());
  first_keys.erase(std::unique(first_keys.begin(), first_keys.end()), first_keys.end());
  EXPECT_GE(first_keys.size(), 15u);
}

}  // namespace
}  // namespace edgehub::config
