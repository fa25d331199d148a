#pragma once

// A child process for black-box tests of edgehubd and edgehubctl: spawned with extra environment,
// stdout/stderr captured to files, signalled and reaped with deadlines.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace edgehub::testing {

class ChildProcess {
 public:
  /// Starts `argv[0]` with `argv`, the current environment plus `env` (NAME=VALUE), and stdout
  /// and stderr redirected to files in `log_dir`.
  ChildProcess(std::vector<std::string> argv, std::vector<std::string> env,
               const std::filesystem::path& log_dir);
  ~ChildProcess();  ///< SIGKILLs and reaps a child still running.
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }
  void signal(int signo) const;
  /// Waits for exit; the exit status (128 + signal for a signalled child) or nullopt on timeout.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  bool running();

  std::string stdout_text() const;
  std::string stderr_text() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path out_, err_;
};

/// Runs a command to completion (with a deadline) and returns (exit status, stdout, stderr).
struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};
RunResult run_command(std::vector<std::string> argv, const std::filesystem::path& log_dir,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60),
                      std::vector<std::string> env = {});

std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, const std::string& text);

}  // namespace edgehub::testing
