#include "app/ctl/config_findings.hpp"

namespace edgehub::app::ctl {

void add_config_issues(CheckReport& report, const std::vector<config::ConfigIssue>& issues) {
  for (const auto& issue : issues) {
    Finding f;
    f.level =
        issue.severity == config::Severity::error ? FindingLevel::error : FindingLevel::warning;
    f.title = issue.to_string();
    f.fix = issue.fix.empty() ? "see docs/configuration.md" : issue.fix;
    f.exit_code = kExitConfig;
    report.add(std::move(f));
  }
}

}  // namespace edgehub::app::ctl
