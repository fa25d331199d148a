// `edgehubctl check` end to end: the real binary on the good and bad files of tests/data/config,
// checking what is printed and the exit code.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path kDataDir = fs::path(EDGEHUB_SOURCE_DIR) / "tests" / "data" / "config";

struct Run {
  int exit_code = -1;
  std::string out;
};

// Arguments are our own test paths; single quotes keep the shell from interpreting them.
Run run_ctl(const std::vector<std::string>& args, bool merge_stderr = false) {
  std::string cmd = std::string("'") + EDGEHUBCTL_PATH + "'";
  for (const auto& a : args)
    cmd += " '" + a + "'";
  cmd += merge_stderr ? " 2>&1" : " 2>/dev/null";
  Run r;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0)
    r.out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::vector<fs::path> toml_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".toml") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(EdgehubctlCheck, GoodFilesAreValidAndExitZero) {
  for (const auto& file : toml_files(kDataDir / "good")) {
    // --config-only: these files name certificates under /var/aziot that do not exist here.
    const auto r = run_ctl({"check", "--config", file.string(), "--config-only"});
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("\u2713 configuration " + file.string() + " is valid"), std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find("\u2717"), std::string::npos) << r.out;
  }
}

TEST(EdgehubctlCheck, BadFilesPrintEachProblemWithAFixAndExit78) {
  const auto files = toml_files(kDataDir / "bad");
  ASSERT_GE(files.size(), 16u);
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    std::ifstream in(file);
    std::vector<std::string> keys;
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("# expect-key: ", 0) == 0) keys.push_back(line.substr(14));
      if (line.rfind("# expect-line: ", 0) == 0) lines.push_back(line.substr(15));
    }
    ASSERT_EQ(keys.size(), lines.size());
    ASSERT_FALSE(keys.empty());

    const auto r = run_ctl({"check", "--config=" + file.string()});
    EXPECT_EQ(r.exit_code, 78) << r.out;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::string title = "\u2717 " + file.string() + ":" + lines[i] + ": " + keys[i] + ": ";
      const auto at = r.out.find(title);
      ASSERT_NE(at, std::string::npos) << title << "\n" << r.out;
      const auto next = r.out.find('\n', at);
      ASSERT_NE(next, std::string::npos);
      EXPECT_EQ(r.out.compare(next + 1, 9, "    fix: "), 0) << r.out;
    }
    EXPECT_EQ(r.out.find("is valid"), std::string::npos);
  }
}

TEST(EdgehubctlCheck, MissingFileIsAConfigError) {
  const auto r = run_ctl({"check", "--config", "/nonexistent/edgehubd/config.toml"});
  EXPECT_EQ(r.exit_code, 78);
  EXPECT_NE(r.out.find("\u2717 /nonexistent/edgehubd/config.toml: cannot read"), std::string::npos)
      << r.out;
}

TEST(EdgehubctlCheck, UsageErrorsExitTwoAndHelpExitsZero) {
  EXPECT_EQ(run_ctl({"check", "--bogus"}).exit_code, 64);
  EXPECT_EQ(run_ctl({"check", "--config"}).exit_code, 64);
  const auto help = run_ctl({"check", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("usage: edgehubctl check"), std::string::npos);
  const auto top = run_ctl({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("check"), std::string::npos);
}

}  // namespace
