#pragma once

// edgehubd's exit codes (documented in docs/operations.md and `edgehubd --help`), from sysexits.h
// where one fits, so systemd's RestartPreventExitStatus= can name them.

namespace edgehub::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitStartupFailed = 1;  ///< bind, TLS material or store could not be opened
inline constexpr int kExitUsage = 64;         ///< EX_USAGE: bad command line
inline constexpr int kExitSoftware = 70;      ///< EX_SOFTWARE: an internal error escaped
inline constexpr int kExitConfig = 78;        ///< EX_CONFIG: the configuration file is invalid

}  // namespace edgehub::app
