// edgehubd: the transparent gateway daemon (design.md). Parses the command line, loads and
// validates the configuration, and runs the Gateway until SIGTERM.

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "app/daemon/exit_codes.hpp"
#include "app/daemon/gateway.hpp"
#include "edgehub/config/load.hpp"
#include "edgehub/core/version.hpp"
#include "edgehub/ops/logging.hpp"

namespace edgehub::app {
namespace {

constexpr std::string_view kDefaultConfig = "/etc/aziot/config.toml";

constexpr const char* kUsage =
    "usage: edgehubd [--config PATH] [--log-level LEVEL] [--log-target auto|journal|stderr]\n"
    "                [--check-config] [--version] [--help]\n"
    "\n"
    "  --config PATH       configuration file (default /etc/aziot/config.toml)\n"
    "  --log-level LEVEL   trace, debug, info, warn, error, critical, off\n"
    "                      (default: [gateway] log_level, else info)\n"
    "  --log-target T      auto (journal under systemd, else stderr), journal, stderr\n"
    "  --check-config      validate the configuration, print every problem, and exit\n"
    "\n"
    "exit codes: 0 ok, 1 start-up failed (bind, certificates, store), 64 usage,\n"
    "            70 internal error, 78 configuration invalid\n"
    "signals: SIGHUP reloads the configuration, SIGTERM/SIGINT drain and stop\n";

struct Options {
  std::string config_path{kDefaultConfig};
  std::optional<spdlog::level::level_enum> log_level;
  ops::LogTarget log_target = ops::LogTarget::automatic;
  bool check_only = false;
};

int usage_error(const std::string& message) {
  std::fprintf(stderr, "edgehubd: %s\n\n%s", message.c_str(), kUsage);
  return kExitUsage;
}

int run(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      if (i + 1 >= argc) return nullptr;
      (void)name;
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else if (arg == "--version") {
      std::printf("edgehubd %.*s\n", static_cast<int>(core::version().size()),
                  core::version().data());
      return kExitOk;
    } else if (arg == "--check-config") {
      opt.check_only = true;
    } else if (arg == "--config") {
      const char* v = value(arg);
      if (!v) return usage_error("--config needs a path");
      opt.config_path = v;
    } else if (arg == "--log-level") {
      const char* v = value(arg);
      if (!v || !(opt.log_level = ops::parse_log_level(v))) {
        return usage_error(
            "--log-level needs one of trace, debug, info, warn, error, critical, off");
      }
    } else if (arg == "--log-target") {
      const char* v = value(arg);
      auto target = v ? ops::parse_log_target(v) : std::nullopt;
      if (!target) return usage_error("--log-target needs auto, journal or stderr");
      opt.log_target = *target;
    } else {
      return usage_error("unknown argument '" + std::string(arg) + "'");
    }
  }

  std::vector<config::ConfigIssue> issues;
  auto loaded = config::load_config(opt.config_path, issues);
  for (const auto& issue : issues) {
    std::fprintf(stderr, "edgehubd: %s%s\n",
                 issue.severity == config::Severity::warning ? "warning: " : "",
                 issue.to_string().c_str());
  }
  if (!loaded) {
    std::fprintf(stderr,
                 "edgehubd: %s is not valid; nothing was started (see docs/configuration.md)\n",
                 opt.config_path.c_str());
    return kExitConfig;
  }
  if (opt.check_only) {
    std::printf("edgehubd: configuration %s is valid\n", opt.config_path.c_str());
    return kExitOk;
  }

  const auto level = opt.log_level
                         ? *opt.log_level
                         : ops::parse_log_level(loaded->log_level).value_or(spdlog::level::info);
  ops::init_logging(opt.log_target, level);

  auto config = std::make_shared<const config::GatewayConfig>(std::move(*loaded));
  Gateway gateway(config, core::SystemClock::instance());
  try {
    gateway.start();
  } catch (const StartupError& e) {
    spdlog::critical("start-up failed: {}", e.what());
    return kExitStartupFailed;
  }
  return gateway.run();
}

}  // namespace
}  // namespace edgehub::app

int main(int argc, char** argv) {
  try {
    return edgehub::app::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edgehubd: internal error: %s\n", e.what());
    return edgehub::app::kExitSoftware;
  }
}
