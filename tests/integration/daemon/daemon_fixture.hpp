#pragma once

// Runs the real edgehubd binary on loopback with a generated configuration and a test notify
// socket standing in for systemd.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/process/child_process.hpp"
#include "support/process/notify_socket.hpp"
#include "support/process/ports.hpp"
#include "support/process/temp_dir.hpp"

namespace edgehub::testing {

inline std::string minimal_config(const TempDir& dir, std::uint16_t metrics_port,
                                  int drain_timeout_secs = 5) {
  return "hostname = \"gw.test.local\"\n"
         "[gateway]\n"
         "device_id = \"gw\"\n"
         "iothub_hostname = \"hub.azure-devices.net\"\n"
         "state_dir = \"file://" +
         (dir / "state").string() +
         "\"\n"
         "metrics = \"127.0.0.1:" +
         std::to_string(metrics_port) +
         "\"\n"
         "drain_timeout_secs = " +
         std::to_string(drain_timeout_secs) +
         "\n"
         "[gateway.listen]\n"
         "mqtt = \"\"\n"
         "amqp = \"\"\n"
         "https = \"\"\n";
}

class DaemonTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChildProcess> start(const std::string& config_text,
                                      std::vector<std::string> extra_env = {}) {
    config_path_ = dir_ / "config.toml";
    write_file(config_path_, config_text);
    extra_env.push_back(notify_.env());
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{EDGEHUBD_BINARY, "--config", config_path_.string(), "--log-target",
                                 "stderr", "--log-level", "debug"},
        std::move(extra_env), dir_.path());
  }

  TempDir dir_;
  NotifySocket notify_{dir_ / "notify.sock"};
  std::filesystem::path config_path_;
};

}  // namespace edgehub::testing
