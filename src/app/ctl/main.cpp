// edgehubctl: the operator's tool for edgehubd (design.md §7).

#include <array>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "app/ctl/commands.hpp"
#include "edgehub/core/version.hpp"

namespace edgehub::app::ctl {
namespace {

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(Args args);
};

// One line per command group; each run function is defined in its own ctl/*_command.cpp.
constexpr std::array<Command, 9> kCommands = {{
    {"check", "check the configuration (and what edgehubd needs to start)", run_check},
    {"status", "show the running edgehubd: connections, queues, certificates", run_status},
    {"config", "validate the configuration and reload the running edgehubd (config apply)",
     run_config},
    {"route", "test routes and conditions against a message (route test)", run_route},
    {"import-deployment", "convert a deployment manifest's $edgeHub routes to TOML",
     run_import_deployment},
    {"identity", "add, list or remove local device and module identities", run_identity},
    {"certs", "generate a test-only demo PKI (certs demo)", run_certs},
    {"queue", "inspect store-and-forward queues (list, peek, purge)", run_queue},
    {"simulate", "connect simulated devices and send telemetry (load and demo client)",
     run_simulate},
}};

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: edgehubctl <command> [options]\n"
               "       edgehubctl <command> --help\n\n"
               "commands:\n");
  for (const auto& c : kCommands) {
    std::fprintf(out, "  %-18.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
  }
  std::fprintf(out, "\n%s", kExitCodesHelp);
}

int dispatch(int argc, char** argv) {
  const std::vector<std::string> all(argv + 1, argv + argc);
  if (all.empty() || all[0] == "--help" || all[0] == "-h" || all[0] == "help") {
    print_usage(all.empty() ? stderr : stdout);
    return all.empty() ? kExitUsage : kExitOk;
  }
  if (all[0] == "--version") {
    std::printf("edgehubctl %.*s\n", static_cast<int>(core::version().size()),
                core::version().data());
    return kExitOk;
  }
  for (const auto& c : kCommands) {
    if (c.name == all[0]) return c.run(Args(all).subspan(1));
  }
  std::fprintf(stderr, "edgehubctl: unknown command '%s'\n\n", all[0].c_str());
  print_usage(stderr);
  return kExitUsage;
}

}  // namespace
}  // namespace edgehub::app::ctl

int main(int argc, char** argv) {
  return edgehub::app::ctl::dispatch(argc, argv);
}
