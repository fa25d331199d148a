#include "app/ctl/admin_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "edgehub/config/load.hpp"

namespace edgehub::app::ctl {
namespace {

constexpr std::size_t kMaxAnswerBytes = 4u << 20;

std::string unreachable(const std::filesystem::path& path, int error) {
  std::string text = "cannot reach edgehubd on " + path.string() + ": " + std::strerror(error);
  if (error == ENOENT || error == ECONNREFUSED) {
    text +=
        "\n    fix: start it (systemctl start edgehubd), or name its socket with --admin-socket"
        " or --config";
  } else if (error == EACCES) {
    text += "\n    fix: run as root or as a member of the edgehubd group (the socket is 0660)";
  }
  return text;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

// Waits for `events` until `deadline`; false on timeout or error.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

AdminReply admin_request(const std::filesystem::path& path, std::string_view request,
                         std::chrono::milliseconds timeout) {
  AdminReply reply;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof address.sun_path) {
    reply.error = "the admin socket path " + path.string() + " is too long";
    return reply;
  }
  std::memcpy(address.sun_path, path.c_str(), path.string().size());
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0 ||
      ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    reply.error = unreachable(path, errno);
    return reply;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string line = std::string(request) + "\n";
  for (std::size_t done = 0; done < line.size();) {
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      reply.error = "edgehubd did not accept the request within the deadline";
      return reply;
    }
    const auto n = ::send(fd.get(), line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      reply.error = "cannot send to " + path.string() + ": " + std::strerror(errno);
      return reply;
    }
    done += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buffer[4096];
  for (;;) {
    if (!wait_for(fd.get(), POLLIN, deadline)) {
      reply.error = "edgehubd did not answer within " + std::to_string(timeout.count() / 1000) +
                    " s (is its event loop blocked? see journalctl -u edgehubd)";
      return reply;
    }
    const auto n = ::recv(fd.get(), buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      reply.error = "cannot read from " + path.string() + ": " + std::strerror(errno);
      return reply;
    }
    if (n == 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
    if (answer.size() > kMaxAnswerBytes) {
      reply.error = "edgehubd's answer is larger than 4 MiB";
      return reply;
    }
  }
  auto document = nlohmann::json::parse(answer, nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    reply.error = answer.empty() ? "edgehubd closed the connection without an answer"
                                 : "edgehubd's answer is not a JSON object";
    return reply;
  }
  if (document.contains("error")) {
    reply.error = "edgehubd: " + document["error"].get<std::string>();
    return reply;
  }
  reply.document = std::move(document);
  return reply;
}

std::optional<std::filesystem::path> locate_admin_socket(
    const std::optional<std::string>& admin_socket_flag, const std::string& config_path,
    bool config_named, std::string_view command) {
  if (admin_socket_flag) return std::filesystem::path(*admin_socket_flag);
  std::vector<config::ConfigIssue> issues;
  auto cfg = config::load_config(config_path, issues);
  if (!cfg) {
    if (!config_named) return std::filesystem::path(config::kDefaultAdminSocket);
    for (const auto& issue : issues) {
      if (issue.severity == config::Severity::error) {
        std::fprintf(stderr, "%s\n", issue.to_string().c_str());
      }
    }
    std::fprintf(stderr, "edgehubctl %.*s: %s is not valid, so its admin_socket is unknown\n",
                 static_cast<int>(command.size()), command.data(), config_path.c_str());
    return std::nullopt;
  }
  if (!cfg->admin_socket) {
    std::fprintf(stderr,
                 "edgehubctl %.*s: %s disables the admin socket ([gateway] admin_socket = \"\")\n"
                 "    fix: remove that line and restart edgehubd, or pass --admin-socket PATH\n",
                 static_cast<int>(command.size()), command.data(), config_path.c_str());
    return std::nullopt;
  }
  return *cfg->admin_socket;
}

std::optional<std::string> parse_daemon_options(Args args, DaemonOptions& o) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> value;
    if (arg.rfind("--", 0) == 0) {
      if (const auto eq = arg.find('='); eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg.resize(eq);
      }
    }
    if (arg == "--help" || arg == "-h") {
      o.help = true;
    } else if (arg == "--json") {
      if (value) return "--json takes no value";
      o.json = true;
    } else if (arg == "--config" || arg == "--admin-socket") {
      if (!value) {
        if (i + 1 >= args.size()) return arg + " needs a PATH";
        value = args[++i];
      }
      if (value->empty()) return arg + " needs a non-empty PATH";
      if (arg == "--config") {
        o.config = *value;
        o.config_named = true;
      } else {
        o.admin_socket = *value;
      }
    } else if (arg.rfind("-", 0) == 0) {
      return "unknown option '" + arg + "'";
    } else {
      return "unexpected argument '" + arg + "'";
    }
  }
  return std::nullopt;
}

}  // namespace edgehub::app::ctl
