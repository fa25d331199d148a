#include "support/process/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace edgehub::testing {

namespace {
std::atomic<int> counter{0};

int decode_status(int raw) {
  if (WIFEXITED(raw)) return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
  return -1;
}
}  // namespace

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

ChildProcess::ChildProcess(std::vector<std::string> argv, std::vector<std::string> env,
                           const std::filesystem::path& log_dir) {
  const int n = counter.fetch_add(1);
  const auto stem = std::filesystem::path(argv.at(0)).filename().string() + "." +
                    std::to_string(::getpid()) + "." + std::to_string(n);
  out_ = log_dir / (stem + ".stdout");
  err_ = log_dir / (stem + ".stderr");

  std::vector<std::string> environment;
  for (char** e = environ; *e; ++e)
    environment.emplace_back(*e);
  for (auto& e : env)
    environment.push_back(std::move(e));
  std::vector<char*> args, envp;
  for (auto& a : argv)
    args.push_back(a.data());
  args.push_back(nullptr);
  for (auto& e : environment)
    envp.push_back(e.data());
  envp.push_back(nullptr);

  const int out_fd = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out_fd < 0 || err_fd < 0) throw std::runtime_error("cannot create child log files");
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::execve(args[0], args.data(), envp.data());
    std::fprintf(stderr, "execve %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int raw = 0;
    ::waitpid(pid_, &raw, 0);
  }
}

void ChildProcess::signal(int signo) const {
  if (pid_ > 0 && !status_) ::kill(pid_, signo);
}

bool ChildProcess::running() {
  if (status_) return false;
  int raw = 0;
  const pid_t r = ::waitpid(pid_, &raw, WNOHANG);
  if (r == pid_) {
    status_ = decode_status(raw);
    return false;
  }
  return true;
}

std::optional<int> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

std::string ChildProcess::stdout_text() const {
  return read_file(out_);
}
std::string ChildProcess::stderr_text() const {
  return read_file(err_);
}

RunResult run_command(std::vector<std::string> argv, const std::filesystem::path& log_dir,
                      std::chrono::milliseconds timeout, std::vector<std::string> env) {
  ChildProcess child(std::move(argv), std::move(env), log_dir);
  RunResult r;
  if (auto status = child.wait_for(timeout)) {
    r.status = *status;
  } else {
    child.signal(SIGKILL);
    child.wait_for(std::chrono::seconds(5));
    r.status = -1;
  }
  r.out = child.stdout_text();
  r.err = child.stderr_text();
  return r;
}

}  // namespace edgehub::testing
