// The service life cycle as systemd sees it (issue 2 acceptance 3 and 4).

#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "integration/daemon/daemon_fixture.hpp"
#include "support/process/prometheus_text_parser.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(DaemonTest, ReadyAfterBindWatchdogReloadingStoppingAndCleanExit) {
  const auto port = free_tcp_port();
  // WATCHDOG_USEC asks for a ping every half of it: 150 ms here.
  auto daemon = start(minimal_config(dir_, port, 5), {"WATCHDOG_USEC=300000"});

  ASSERT_TRUE(notify_.wait_for("READY=1", 10s)) << daemon->stderr_text();
  EXPECT_TRUE(tcp_port_open(port)) << "READY=1 must come only after the listeners are bound";

  int watchdogs = 0;
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < until && watchdogs < 3) {
    if (auto m = notify_.receive(500ms); m && has_line(*m, "WATCHDOG=1")) ++watchdogs;
  }
  EXPECT_GE(watchdogs, 3) << "WATCHDOG=1 must repeat at the interval systemd asked for";

  daemon->signal(SIGHUP);
  ASSERT_TRUE(notify_.wait_for("RELOADING=1", 5s));
  ASSERT_TRUE(notify_.wait_for("READY=1", 5s)) << "READY=1 must follow a reload";

  daemon->signal(SIGTERM);
  ASSERT_TRUE(notify_.wait_for("STOPPING=1", 5s));
  const auto status = daemon->wait_for(6s);  // drain_timeout_secs = 5
  ASSERT_TRUE(status.has_value()) << "edgehubd did not exit within the drain timeout";
  EXPECT_EQ(*status, 0) << daemon->stderr_text();
}

TEST_F(DaemonTest, ReloadWithErrorsKeepsRunningConfiguration) {
  const auto port = free_tcp_port();
  auto daemon = start(minimal_config(dir_, port));
  ASSERT_TRUE(notify_.wait_for("READY=1", 10s)) << daemon->stderr_text();

  write_file(config_path_,
             "hostname = \"gw.test.local\"\n[gateway]\nupstream_protocol = \"carrier-pigeon\"\n");
  daemon->signal(SIGHUP);
  ASSERT_TRUE(notify_.wait_for("READY=1", 5s));
  EXPECT_TRUE(daemon->running());
  EXPECT_TRUE(tcp_port_open(port)) << "the running configuration must be kept";
  const auto log = daemon->stderr_text();
  EXPECT_NE(log.find("upstream_protocol"), std::string::npos) << log;
  EXPECT_NE(log.find("reload rejected"), std::string::npos) << log;

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_for(10s), 0);
}

TEST_F(DaemonTest, MetricsParseAsPrometheusTextAndHealthIsJson) {
  const auto port = free_tcp_port();
  auto daemon = start(minimal_config(dir_, port));
  ASSERT_TRUE(notify_.wait_for("READY=1", 10s)) << daemon->stderr_text();

  const auto metrics = http_get(port, "/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const auto parsed = parse_prometheus_text(metrics->body);
  ASSERT_TRUE(parsed.ok()) << ::testing::PrintToString(parsed.errors) << "\n" << metrics->body;
  const std::map<std::string, std::string> defaults = {{"iothub", "hub.azure-devices.net"},
                                                       {"edge_device", "gw"}};
  EXPECT_EQ(parsed.families.at("edgehubd_build_info").type, "gauge");
  EXPECT_EQ(parsed.value("edgehubd_build_info", defaults), 1.0);
  EXPECT_GT(parsed.value("edgehubd_process_resident_memory_bytes").value_or(0), 1e6);
  EXPECT_GT(parsed.value("edgehubd_process_open_fds").value_or(0), 2);
  EXPECT_GE(parsed.value("edgehubd_process_uptime_seconds").value_or(-1), 0);
  for (const auto& [name, family] : parsed.families) {
    for (const auto& sample : family.samples) {
      EXPECT_TRUE(sample.labels.count("instance_number"))
          << name << " lacks edgeHub's default labels";
    }
  }

  const auto health = http_get(port, "/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->headers.at("content-type"), "application/json");
  const auto j = nlohmann::json::parse(health->body);
  EXPECT_EQ(j.at("state"), "running");
  EXPECT_EQ(j.at("status"), "healthy");
  EXPECT_TRUE(j.at("uptime_seconds").is_number());
  EXPECT_TRUE(j.at("version").is_string());

  const auto missing = http_get(port, "/nope");
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404);

  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait_for(10s), 0);
}

TEST_F(DaemonTest, MetricsPortInUseFailsStartupWithExitOne) {
  const auto port = free_tcp_port();
  auto first = start(minimal_config(dir_, port));
  ASSERT_TRUE(notify_.wait_for("READY=1", 10s)) << first->stderr_text();

  TempDir other;
  write_file(other / "config.toml", minimal_config(other, port));
  auto result = run_command(
      {EDGEHUBD_BINARY, "--config", (other / "config.toml").string(), "--log-target", "stderr"},
      other.path(), 20s);
  EXPECT_EQ(result.status, 1) << result.err;
  EXPECT_NE(result.err.find("metrics"), std::string::npos) << result.err;
  first->signal(SIGTERM);
  EXPECT_EQ(first->wait_for(10s), 0);
}

TEST(DaemonCommandLine, UsageVersionAndHelp) {
  TempDir dir;
  EXPECT_EQ(run_command({EDGEHUBD_BINARY, "--bogus"}, dir.path()).status, 64);
  const auto version = run_command({EDGEHUBD_BINARY, "--version"}, dir.path());
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.out.rfind("edgehubd ", 0), 0u);
  const auto help = run_command({EDGEHUBD_BINARY, "--help"}, dir.path());
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("78"), std::string::npos) << "--help documents the exit codes";
}

}  // namespace
}  // namespace edgehub::testing

namespace edgehub::testing {
namespace {

// Issue 5 acceptance 3 at the daemon: a damaged store stops start-up with a message that says
// what to do, and the file is left exactly as it was (no fallback to memory, no repair attempt).
TEST(DaemonStore, DamagedStoreFileStopsStartupAndIsLeftUntouched) {
  TempDir dir;
  std::filesystem::create_directories(dir / "state");
  for (const std::string& content :
       {std::string(8192, 'x'), std::string("SQLite format 3") + '\0' + std::string(100, '\x7f')}) {
    write_file(dir / "state/store.db", content);
    write_file(dir / "config.toml", minimal_config(dir, free_tcp_port()));
    const auto r = run_command(
        {EDGEHUBD_BINARY, "--config", (dir / "config.toml").string(), "--log-target", "stderr"},
        dir.path(), std::chrono::seconds(30));
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("store.db"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("move"), std::string::npos) << "the message must say what to do:\n"
                                                     << r.err;
    EXPECT_EQ(read_file(dir / "state/store.db"), content)
        << "the damaged file must not be modified";
  }
}

TEST(DaemonStore, StoreIsCreatedBeforeReady) {
  TempDir dir;
  NotifySocket notify(dir / "n.sock");
  write_file(dir / "config.toml", minimal_config(dir, free_tcp_port()));
  ChildProcess daemon(
      {EDGEHUBD_BINARY, "--config", (dir / "config.toml").string(), "--log-target", "stderr"},
      {notify.env()}, dir.path());
  ASSERT_TRUE(notify.wait_for("READY=1", std::chrono::seconds(20))) << daemon.stderr_text();
  EXPECT_TRUE(std::filesystem::exists(dir / "state/store.db"));
  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_for(std::chrono::seconds(15)), 0);
}

}  // namespace
}  // namespace edgehub::testing
