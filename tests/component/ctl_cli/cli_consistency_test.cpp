// edgehubctl's command-line contract (docs/operations.md, "edgehubctl"): every command and
// subcommand answers --help on stdout with exit 0, an unknown option is a usage error (exit 64,
// the usage on stderr), and the documented exit codes hold for the daemon-facing commands.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/process/child_process.hpp"
#include "support/process/temp_dir.hpp"

namespace edgehub::testing {
namespace {

constexpr int kUsage = 64;
constexpr int kUnavailable = 69;
constexpr int kConfig = 78;

// Every runnable form: a command, or a command and its subcommand.
const std::vector<std::vector<std::string>> kForms = {
    {"check"},
    {"status"},
    {"config", "apply"},
    {"route", "test"},
    {"import-deployment"},
    {"identity", "add"},
    {"identity", "list"},
    {"identity", "remove"},
    {"certs", "demo"},
    {"queue", "list"},
    {"queue", "peek"},
    {"queue", "purge"},
    {"simulate"},
};

class EdgehubctlCli : public ::testing::Test {
 protected:
  RunResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), EDGEHUBCTL_PATH);
    return run_command(std::move(args), dir_.path(), std::chrono::seconds(30));
  }
  static std::string joined(const std::vector<std::string>& form) {
    std::string out;
    for (const auto& w : form)
      out += (out.empty() ? "" : " ") + w;
    return out;
  }
  TempDir dir_;
};

// The command names `edgehubctl --help` lists under "commands:".
std::set<std::string> listed_commands(const std::string& help) {
  std::set<std::string> names;
  std::istringstream in(help);
  bool in_list = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "commands:") {
      in_list = true;
    } else if (in_list && line.rfind("  ", 0) == 0 && line.size() > 2 && line[2] != ' ') {
      names.insert(line.substr(2, line.find(' ', 2) - 2));
    } else if (in_list && line.empty()) {
      in_list = false;
    }
  }
  return names;
}

TEST_F(EdgehubctlCli, TopLevelHelpListsEveryCommandAndTheExitCodes) {
  const auto r = ctl({"--help"});
  EXPECT_EQ(r.status, 0);
  std::set<std::string> covered;
  for (const auto& form : kForms)
    covered.insert(form[0]);
  EXPECT_EQ(listed_commands(r.out), covered)
      << "a command was added or removed: update kForms and the bash completion\n"
      << r.out;
  EXPECT_NE(r.out.find("64 usage"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("69 edgehubd not reachable"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("78 configuration invalid"), std::string::npos) << r.out;
}

TEST_F(EdgehubctlCli, EveryCommandAnswersHelpOnStdoutWithExitZero) {
  for (const auto& form : kForms) {
    auto args = form;
    args.push_back("--help");
    const auto r = ctl(args);
    EXPECT_EQ(r.status, 0) << joined(form) << "\n" << r.err;
    EXPECT_EQ(r.out.rfind("usage: edgehubctl " + form[0], 0), 0u) << joined(form) << "\n" << r.out;
    EXPECT_NE(r.out.find("exit codes:"), std::string::npos) << joined(form);
    EXPECT_NE(r.out.find("64 usage"), std::string::npos) << joined(form) << "\n" << r.out;
  }
}

TEST_F(EdgehubctlCli, AnUnknownOptionIsAUsageErrorWithTheUsageOnStderr) {
  for (const auto& form : kForms) {
    auto args = form;
    args.push_back("--no-such-option");
    const auto r = ctl(args);
    EXPECT_EQ(r.status, kUsage) << joined(form) << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find("usage: edgehubctl"), std::string::npos) << joined(form) << "\n" << r.err;
    EXPECT_EQ(r.out, "") << joined(form);
  }
}

TEST_F(EdgehubctlCli, MissingAndUnknownCommandsAreUsageErrors) {
  EXPECT_EQ(ctl({}).status, kUsage);
  EXPECT_EQ(ctl({"frobnicate"}).status, kUsage);
  EXPECT_EQ(ctl({"config"}).status, kUsage);
  EXPECT_EQ(ctl({"config", "frobnicate"}).status, kUsage);
  EXPECT_EQ(ctl({"status", "--config"}).status, kUsage);
  EXPECT_EQ(ctl({"status", "--json=yes"}).status, kUsage);
  const auto v = ctl({"--version"});
  EXPECT_EQ(v.status, 0);
  EXPECT_EQ(v.out.rfind("edgehubctl ", 0), 0u) << v.out;
}

TEST_F(EdgehubctlCli, StatusWithoutARunningDaemonExits69AndSaysHowToFixIt) {
  const auto socket = dir_ / "nobody-listens.sock";
  const auto r = ctl({"status", "--admin-socket", socket.string()});
  EXPECT_EQ(r.status, kUnavailable) << r.out << r.err;
  EXPECT_NE(r.err.find(socket.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("fix:"), std::string::npos) << r.err;
}

TEST_F(EdgehubctlCli, ConfigApplyOfAnInvalidFileExits78BeforeLookingForTheDaemon) {
  write_file(dir_ / "bad.toml", "hostname = \"gw\"\n[gateway]\nstat_dir = \"/tmp\"\n");
  const auto socket = dir_ / "nobody-listens.sock";
  const auto r = ctl({"config", "apply", "--config", (dir_ / "bad.toml").string(), "--admin-socket",
                      socket.string()});
  EXPECT_EQ(r.status, kConfig) << r.out << r.err;
  EXPECT_NE(r.out.find("gateway.stat_dir"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Not applied"), std::string::npos) << r.out;
}

TEST_F(EdgehubctlCli, CheckJsonReportsTheSameFindingsAndExitCode) {
  write_file(dir_ / "good.toml",
             "hostname = \"gw\"\n[gateway]\ndevice_id = \"gw\"\niothub_hostname = \"h.net\"\n");
  write_file(dir_ / "bad.toml", "hostname = \"gw\"\n[gateway]\nstat_dir = \"/tmp\"\n");
  const auto good =
      ctl({"check", "--config-only", "--json", "--config", (dir_ / "good.toml").string()});
  EXPECT_EQ(good.status, 0) << good.out << good.err;
  const auto g = nlohmann::json::parse(good.out, nullptr, false);
  ASSERT_FALSE(g.is_discarded()) << good.out;
  EXPECT_EQ(g["sections"][0]["title"], "Configuration");
  EXPECT_EQ(g["sections"][0]["findings"][0]["level"], "ok");
  EXPECT_EQ(g["errors"], 0);

  const auto bad =
      ctl({"check", "--config-only", "--json", "--config", (dir_ / "bad.toml").string()});
  EXPECT_EQ(bad.status, kConfig) << bad.out << bad.err;
  const auto b = nlohmann::json::parse(bad.out, nullptr, false);
  ASSERT_FALSE(b.is_discarded()) << bad.out;
  EXPECT_EQ(b["exit_code"], kConfig);
  ASSERT_GE(b["errors"].get<int>(), 1);
  bool named = false;
  for (const auto& f : b["sections"][0]["findings"]) {
    if (f["title"].get<std::string>().find("gateway.stat_dir") == std::string::npos) continue;
    named = true;
    EXPECT_EQ(f["level"], "error");
    EXPECT_FALSE(f["fix"].get<std::string>().empty());
  }
  EXPECT_TRUE(named) << bad.out;
}

}  // namespace
}  // namespace edgehub::testing
