#pragma once

// The client side of edgehubd's admin socket (include/edgehub/net/admin_socket.hpp): one request
// line out, one JSON document back. Blocking with a deadline: edgehubctl is a short-lived tool.

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "app/ctl/commands.hpp"

namespace edgehub::app::ctl {

struct AdminReply {
  std::optional<nlohmann::json> document;  ///< set when the daemon answered
  std::string error;                       ///< otherwise: why not, with the fix
};

/// Sends `request` ("status", "reload") to the socket at `path` and waits at most `timeout`
/// for the answer.
AdminReply admin_request(const std::filesystem::path& path, std::string_view request,
                         std::chrono::milliseconds timeout);

/// Where the admin socket is: --admin-socket when given, else [gateway] admin_socket of the
/// configuration at `config_path` (its default when the file does not say or cannot be read and
/// was not named explicitly). nullopt (with a message printed) when the configuration disables
/// the socket or is unusable.
std::optional<std::filesystem::path> locate_admin_socket(
    const std::optional<std::string>& admin_socket_flag, const std::string& config_path,
    bool config_named, std::string_view command);

/// The common flags of the commands that talk to the daemon.
struct DaemonOptions {
  std::string config = kDefaultConfig;
  bool config_named = false;  ///< --config was given
  std::optional<std::string> admin_socket;
  bool json = false;
  bool help = false;
};

/// Parses --config PATH, --admin-socket PATH, --json, --help (also --flag=value). Returns an
/// error sentence for anything else.
std::optional<std::string> parse_daemon_options(Args args, DaemonOptions& o);

}  // namespace edgehub::app::ctl
