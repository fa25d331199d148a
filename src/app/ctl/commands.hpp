#pragma once

// edgehubctl's commands. Each command group lives in its own ctl/<group>_command.cpp and is listed
// once in main.cpp's table; there is no static self-registration.
//
// Exit codes shared by every command (docs/edgehubctl.md):
//   0 success, 1 the command ran and found problems (or the operation failed),
//   2 usage error (unknown flag, missing argument), 78 configuration unusable (EX_CONFIG).

#include <span>
#include <string>

namespace edgehub::app::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitConfig = 78;

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

}  // namespace edgehub::app::ctl
