#pragma once

// edgehubctl's commands. Each command group lives in its own ctl/<group>_command.cpp and is listed
// once in main.cpp's table; there is no static self-registration.
//
// Exit codes shared by every command (docs/operations.md, from sysexits.h where one fits):
//   0 success, 1 the command ran and found problems (or the operation failed),
//   64 usage error (EX_USAGE: unknown flag, missing argument), 69 edgehubd not reachable on its
//   admin socket (EX_UNAVAILABLE), 78 configuration unusable (EX_CONFIG).

#include <span>
#include <string>

namespace edgehub::app::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 64;
inline constexpr int kExitUnavailable = 69;
inline constexpr int kExitConfig = 78;

/// The line every --help ends with; commands that use fewer codes still document all of them.
inline constexpr const char* kExitCodesHelp =
    "exit codes: 0 ok, 1 problems found or operation failed, 64 usage,\n"
    "            69 edgehubd not reachable, 78 configuration invalid\n";

/// Where edgehubd and edgehubctl read the configuration unless --config says otherwise.
inline constexpr const char* kDefaultConfig = "/etc/aziot/config.toml";

/// The arguments after the command name.
using Args = std::span<const std::string>;

/// edgehubctl check [--config PATH] (check_command.cpp)
int run_check(Args args);

/// edgehubctl route test (route_command.cpp)
int run_route(Args args);

/// edgehubctl import-deployment FILE (import_deployment_command.cpp)
int run_import_deployment(Args args);

/// edgehubctl identity add|list|remove (identity_command.cpp)
int run_identity(Args args);

/// edgehubctl certs demo (certs_command.cpp)
int run_certs(Args args);

/// edgehubctl queue list|peek|purge (queue_command.cpp)
int run_queue(Args args);

/// edgehubctl status [--config PATH] [--admin-socket PATH] [--json] (status_command.cpp)
int run_status(Args args);

/// edgehubctl config apply [--config PATH] [--admin-socket PATH] [--json] (config_command.cpp)
int run_config(Args args);

/// edgehubctl simulate [--devices N] [--rate R] [--duration S] ... (simulate_command.cpp)
int run_simulate(Args args);

}  // namespace edgehub::app::ctl
