// Every file in tests/data/config/bad/ makes edgehubd refuse to start with exit 78 (EX_CONFIG)
// and a message naming the file, the line and the key (issue 2 acceptance 2).

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "support/process/child_process.hpp"
#include "support/process/temp_dir.hpp"

namespace edgehub::testing {
namespace {

struct Expectation {
  std::vector<std::string> keys;
  std::vector<int> lines;
};

Expectation read_expectation(const std::filesystem::path& file) {
  Expectation e;
  std::ifstream in(file);
  static const std::regex key_re(R"(^# expect-key: (\S+))"), line_re(R"(^# expect-line: (\d+))");
  for (std::string line; std::getline(in, line) && line.rfind("#", 0) == 0;) {
    std::smatch m;
    if (std::regex_search(line, m, key_re)) e.keys.push_back(m[1]);
    if (std::regex_search(line, m, line_re)) e.lines.push_back(std::stoi(m[1]));
  }
  return e;
}

std::vector<std::filesystem::path> bad_configs() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(EDGEHUB_SOURCE_DIR) / "tests/data/config/bad")) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(DaemonConfigErrors, EveryBadFileExits78NamingFileLineAndKey) {
  const auto files = bad_configs();
  ASSERT_GE(files.size(), 15u);
  TempDir dir;
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    const auto expect = read_expectation(file);
    ASSERT_FALSE(expect.keys.empty()) << "missing '# expect-key:' header";
    const auto r =
        run_command({EDGEHUBD_BINARY, "--config", file.string(), "--log-target", "stderr"},
                    dir.path(), std::chrono::seconds(20));
    EXPECT_EQ(r.status, 78) << r.err;
    for (std::size_t i = 0; i < expect.keys.size(); ++i) {
      std::string where = file.string() + ":";
      if (i < expect.lines.size() && expect.lines[i] > 0)
        where += std::to_string(expect.lines[i]) + ":";
      const auto needle = where + " " + expect.keys[i] + ":";
      EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in:\n"
                                                       << r.err;
    }
  }
}

TEST(DaemonConfigErrors, ThreeMistakesAreAllReported) {
  const auto file =
      std::filesystem::path(EDGEHUB_SOURCE_DIR) / "tests/data/config/bad/three-mistakes.toml";
  ASSERT_TRUE(std::filesystem::exists(file));
  const auto expect = read_expectation(file);
  ASSERT_EQ(expect.keys.size(), 3u);
  TempDir dir;
  const auto r =
      run_command({EDGEHUBD_BINARY, "--check-config", "--config", file.string()}, dir.path());
  EXPECT_EQ(r.status, 78);
  for (const auto& key : expect.keys)
    EXPECT_NE(r.err.find(" " + key + ":"), std::string::npos) << r.err;
}

TEST(DaemonConfigErrors, MissingFileIsAConfigError) {
  TempDir dir;
  const auto r =
      run_command({EDGEHUBD_BINARY, "--config", (dir / "absent.toml").string()}, dir.path());
  EXPECT_EQ(r.status, 78);
  EXPECT_NE(r.err.find("absent.toml"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace edgehub::testing
