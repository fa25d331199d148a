#pragma once

// A stand-in for systemd's notification socket: an AF_UNIX datagram socket a test passes to a
// child as NOTIFY_SOCKET, and reads sd_notify() messages from.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace edgehub::testing {

class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path);
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  std::string env() const { return "NOTIFY_SOCKET=" + path_.string(); }
  /// The next datagram, or nullopt after `timeout`.
  std::optional<std::string> receive(std::chrono::milliseconds timeout);
  /// Reads datagrams until one contains `line` (a whole line such as "READY=1").
  bool wait_for(const std::string& line, std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  std::filesystem::path path_;
};

/// True when the datagram holds `line` as one of its newline-separated assignments.
bool has_line(const std::string& datagram, const std::string& line);

}  // namespace edgehub::testing
