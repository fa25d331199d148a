#include "app/ctl/check_ports.hpp"

#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace edgehub::app::ctl {
namespace {

struct Owner {
  int pid = 0;
  std::string command;
};

// The socket inodes listening on `port`, from /proc/net/tcp and tcp6 (state 0A = LISTEN).
std::vector<std::string> listening_inodes(std::uint16_t port) {
  std::vector<std::string> inodes;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode;
      const auto colon = local.rfind(':');
      if (state != "0A" || colon == std::string::npos) continue;
      if (std::stoul(local.substr(colon + 1), nullptr, 16) == port) inodes.push_back(inode);
    }
  }
  return inodes;
}

// Which process holds one of `inodes`, by scanning /proc/*/fd (only visible for our own
// processes unless we are root; then the owner stays unknown).
std::optional<Owner> owner_of(const std::vector<std::string>& inodes) {
  DIR* proc = opendir("/proc");
  if (!proc) return std::nullopt;
  std::optional<Owner> found;
  while (const dirent* e = readdir(proc)) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    const std::string fd_dir = "/proc/" + std::string(e->d_name) + "/fd";
    DIR* fds = opendir(fd_dir.c_str());
    if (!fds) continue;
    while (const dirent* f = readdir(fds)) {
      char target[128];
      const auto link = fd_dir + "/" + f->d_name;
      const ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      target[n] = '\0';
      for (const auto& inode : inodes) {
        if (std::string(target) == "socket:[" + inode + "]") {
          std::ifstream comm("/proc/" + std::string(e->d_name) + "/comm");
          Owner o{pid, {}};
          std::getline(comm, o.command);
          found = o;
        }
      }
      if (found) break;
    }
    closedir(fds);
    if (found) break;
  }
  closedir(proc);
  return found;
}

void check_one(const char* key, const config::HostPort& where, CheckReport& report) {
  const std::string name = std::string(key) + " " + where.to_string();
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  const auto port_text = std::to_string(where.port);
  if (getaddrinfo(where.host.c_str(), port_text.c_str(), &hints, &addresses) != 0 || !addresses) {
    report.add(Finding{FindingLevel::error, name + ": address does not resolve", "",
                       "use an IP address or a name this host resolves in " + std::string(key)});
    return;
  }
  const int fd = socket(addresses->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const int rc = bind(fd, addresses->ai_addr, addresses->ai_addrlen);
  const int error = errno;
  close(fd);
  freeaddrinfo(addresses);
  if (rc == 0) {
    report.add(Finding{FindingLevel::ok, name + ": free", "", ""});
    return;
  }
  if (error == EACCES) {
    report.add(Finding{FindingLevel::warning, name + ": this user may not bind a port below 1024",
                       "",
                       "run edgehubd through its systemd unit (it grants CAP_NET_BIND_SERVICE)"});
    return;
  }
  if (error != EADDRINUSE) {
    report.add(Finding{FindingLevel::error, name + ": cannot bind: " + std::strerror(error), "",
                       "choose another address for " + std::string(key)});
    return;
  }
  const auto owner = owner_of(listening_inodes(where.port));
  if (owner && owner->command == "edgehubd") {
    report.add(Finding{FindingLevel::ok,
                       name + ": held by edgehubd (pid " + std::to_string(owner->pid) + ")", "",
                       ""});
    return;
  }
  const auto who =
      owner ? owner->command + " (pid " + std::to_string(owner->pid) + ")" : "another program";
  report.add(Finding{FindingLevel::error, name + ": in use by " + who, "",
                     "stop " + who + " or choose another address for " + std::string(key)});
}

}  // namespace

void check_ports(const config::GatewayConfig& config, CheckReport& report) {
  report.section("Ports");
  if (config.listen.mqtt) check_one("[gateway.listen] mqtt", *config.listen.mqtt, report);
  if (config.listen.amqp) check_one("[gateway.listen] amqp", *config.listen.amqp, report);
  if (config.listen.https) check_one("[gateway.listen] https", *config.listen.https, report);
  if (config.metrics) check_one("[gateway] metrics", *config.metrics, report);
}

}  // namespace edgehub::app::ctl
