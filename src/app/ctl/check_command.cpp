// edgehubctl check: validates what edgehubd needs before it starts. For now the configuration;
// later sections (certificates, key permissions, ports) add findings to the same report.

#include <cstdio>
#include <string>

#include "app/ctl/check_certificates.hpp"
#include "app/ctl/check_ports.hpp"
#include "app/ctl/check_report.hpp"
#include "app/ctl/commands.hpp"
#include "app/ctl/config_findings.hpp"
#include "edgehub/config/load.hpp"

namespace edgehub::app::ctl {
namespace {

void print_check_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: edgehubctl check [--config PATH] [--config-only] [--json]\n\n"
               "Checks the configuration file (default %s) and prints every problem\n"
               "with the change that fixes it, then the certificates and keys it names\n"
               "(format, chain, CA flags, key match, expiry, permissions, hostname)\n"
               "unless --config-only. --json prints the findings as JSON.\n\n"
               "exit codes: 0 all checks passed, 78 the configuration has errors,\n"
               "            1 another check failed, 64 usage\n",
               kDefaultConfig);
}

// A summary of what the valid file configures, so the operator sees what the daemon will do.
std::string describe(const config::GatewayConfig& c) {
  std::string out = "gateway device '" + c.device_id + "' of " + c.iothub_hostname +
                    ", served as " + c.hostname + "\n";
  out += c.provisioning ? "upstream over " + std::string(config::to_string(c.upstream_protocol))
                        : std::string("no upstream ([provisioning] not set)");
  out += "\nlisteners:";
  const auto listener = [&](const char* name, const std::optional<config::HostPort>& hp) {
    out += std::string(" ") + name + " " + (hp ? hp->to_string() : std::string("off"));
  };
  listener("mqtt", c.listen.mqtt);
  listener("amqp", c.listen.amqp);
  listener("https", c.listen.https);
  listener("metrics", c.metrics);
  out += "\n" + std::to_string(c.routes.size()) + (c.routes.size() == 1 ? " route" : " routes");
  if (!c.ignored_tables.empty()) {
    out += "\nignored aziot tables:";
    for (const auto& t : c.ignored_tables)
      out += " [" + t + "]";
  }
  return out;
}

std::optional<config::GatewayConfig> check_configuration(const std::string& path,
                                                         CheckReport& report) {
  report.section("Configuration");
  std::vector<config::ConfigIssue> issues;
  const auto cfg = config::load_config(path, issues);
  add_config_issues(report, issues);
  if (cfg) {
    report.add(Finding{FindingLevel::ok, "configuration " + path + " is valid", describe(*cfg), "",
                       kExitOk});
  }
  return cfg;
}

}  // namespace

int run_check(Args args) {
  std::string path = kDefaultConfig;
  bool config_only = false;
  bool json = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      print_check_usage(stdout);
      return kExitOk;
    }
    if (a == "--config-only") {
      config_only = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--config" || a == "-c") {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "edgehubctl check: %s needs a PATH\n\n", a.c_str());
        print_check_usage(stderr);
        return kExitUsage;
      }
      path = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      path = a.substr(9);
    } else {
      std::fprintf(stderr, "edgehubctl check: unknown argument '%s'\n\n", a.c_str());
      print_check_usage(stderr);
      return kExitUsage;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "edgehubctl check: --config needs a non-empty PATH\n");
    return kExitUsage;
  }
  CheckReport report;
  const auto cfg = check_configuration(path, report);
  if (cfg && !config_only) {
    check_certificates(*cfg, report);
    check_ports(*cfg, report);
  }
  const std::string text = json ? report.render_json() : report.render();
  std::fwrite(text.data(), 1, text.size(), stdout);
  return report.exit_code();
}

}  // namespace edgehub::app::ctl
