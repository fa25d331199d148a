// edgehubctl config apply: validates the configuration the way `check` does (plus what a reload
// re-reads: the routes and the identities file), refuses with every reason when it has errors,
// and otherwise asks the running edgehubd to reload it over the admin socket and reports what
// the daemon applied or why it rejected it.

#include <cstdio>
#include <filesystem>
#include <string>

#include "app/ctl/admin_client.hpp"
#include "app/ctl/check_report.hpp"
#include "app/ctl/commands.hpp"
#include "app/ctl/config_findings.hpp"
#include "edgehub/config/load.hpp"
#include "edgehub/identity/registry.hpp"
#include "edgehub/routing/route_table.hpp"

namespace edgehub::app::ctl {
namespace {

// A reload may issue a server certificate; status answers take milliseconds.
constexpr auto kReloadTimeout = std::chrono::seconds(30);
constexpr auto kStatusTimeout = std::chrono::seconds(5);

void print_config_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: edgehubctl config apply [--config PATH] [--admin-socket PATH] [--json]\n\n"
               "Validates the configuration (default %s), its routes and its\n"
               "identities file, and refuses with every reason when one has errors. Otherwise\n"
               "asks the running edgehubd (on [gateway] admin_socket, or --admin-socket) to\n"
               "reload it, as SIGHUP does, and prints what changed. Connections of removed or\n"
               "disabled identities are closed; all others stay. A reload that fails in the\n"
               "daemon changes nothing, and the daemon's reasons are printed.\n"
               "PATH must be the file the daemon was started with.\n\n"
               "  --config PATH        configuration file (default %s)\n"
               "  --admin-socket PATH  the daemon's admin socket\n"
               "  --json               print the daemon's reload outcome as JSON\n\n"
               "%s",
               kDefaultConfig, kDefaultConfig, kExitCodesHelp);
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "edgehubctl config: %s\n\n", message.c_str());
  print_config_usage(stderr);
  return kExitUsage;
}

Finding error_finding(std::string title, std::string fix) {
  return Finding{FindingLevel::error, std::move(title), "", std::move(fix), kExitConfig};
}

// Everything a reload re-reads, checked before the daemon is asked.
bool validate(const std::string& path, CheckReport& report) {
  report.section("Configuration");
  std::vector<config::ConfigIssue> issues;
  const auto cfg = config::load_config(path, issues);
  add_config_issues(report, issues);
  if (!cfg) return false;
  std::vector<routing::RouteIssue> route_issues;
  if (!routing::RouteTable::build(*cfg, route_issues)) {
    for (const auto& i : route_issues) {
      report.add(error_finding(path + ":" + std::to_string(i.line) + ": " + i.to_string(),
                               "test it with: edgehubctl route test --route '...'"));
    }
  }
  if (cfg->identities) {
    std::vector<identity::RegistryIssue> identity_issues;
    if (!identity::load_identities(*cfg->identities, cfg->device_id, identity_issues)) {
      for (const auto& i : identity_issues) {
        report.add(error_finding(i.to_string(), "see docs/identities.md"));
      }
    }
  }
  if (report.exit_code() != kExitOk) return false;
  report.add(Finding{
      FindingLevel::ok,
      "configuration " + path + " is valid (" + std::to_string(cfg->routes.size()) + " routes)", "",
      "", kExitOk});
  return true;
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (std::filesystem::equivalent(a, b, ec)) return true;
  return std::filesystem::weakly_canonical(a, ec) == std::filesystem::weakly_canonical(b, ec);
}

void print_list(const char* mark, const nlohmann::json& list) {
  if (!list.is_array()) return;
  for (const auto& item : list) {
    if (item.is_string()) std::printf("%s %s\n", mark, item.get<std::string>().c_str());
  }
}

int apply(const DaemonOptions& o) {
  CheckReport report;
  const bool valid = validate(o.config, report);
  if (!valid) {
    const auto text = report.render();
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::printf("Not applied: edgehubd keeps its running configuration.\n");
    return report.exit_code();
  }
  const auto socket = locate_admin_socket(o.admin_socket, o.config, o.config_named, "config apply");
  if (!socket) return kExitConfig;

  // The daemon re-reads the file it was started with; applying another file would silently
  // reload that one instead.
  const auto status = admin_request(*socket, "status", kStatusTimeout);
  if (!status.document) {
    std::fprintf(stderr, "edgehubctl config apply: %s\n", status.error.c_str());
    return kExitUnavailable;
  }
  const auto daemon_config = status.document->value("config_file", std::string());
  if (!same_file(daemon_config, o.config)) {
    std::fprintf(stderr,
                 "edgehubctl config apply: the running edgehubd reads %s, not %s\n"
                 "    fix: edit %s and apply it, or restart edgehubd with --config %s\n",
                 daemon_config.c_str(), o.config.c_str(), daemon_config.c_str(), o.config.c_str());
    return kExitFailure;
  }

  const auto reply = admin_request(*socket, "reload", kReloadTimeout);
  if (!reply.document) {
    std::fprintf(stderr, "edgehubctl config apply: %s\n", reply.error.c_str());
    return kExitUnavailable;
  }
  const auto& outcome = *reply.document;
  const bool applied = outcome.value("applied", false);
  if (o.json) {
    std::printf("%s\n", outcome.dump(2).c_str());
    return applied ? kExitOk : kExitFailure;
  }
  const auto text = report.render();
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::printf("\n");
  if (applied) {
    std::printf("Applied by edgehubd (pid %lld).\n",
                static_cast<long long>(status.document->value("pid", 0LL)));
    const auto& changes = outcome.value("changes", nlohmann::json::array());
    if (changes.empty()) std::printf("  nothing changed\n");
    print_list("  \u2713", changes);
  } else {
    std::printf("Rejected by edgehubd: nothing changed.\n");
    print_list("  \u2717", outcome.value("errors", nlohmann::json::array()));
  }
  print_list("  \u26a0", outcome.value("warnings", nlohmann::json::array()));
  return applied ? kExitOk : kExitFailure;
}

}  // namespace

int run_config(Args args) {
  if (args.empty()) return usage_error("missing subcommand (apply)");
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_config_usage(stdout);
    return kExitOk;
  }
  if (args[0] != "apply") return usage_error("unknown subcommand '" + args[0] + "' (apply)");
  DaemonOptions o;
  const auto error = parse_daemon_options(args.subspan(1), o);
  if (o.help) {
    print_config_usage(stdout);
    return kExitOk;
  }
  if (error) return usage_error(*error);
  return apply(o);
}

}  // namespace edgehub::app::ctl
