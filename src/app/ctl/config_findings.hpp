#pragma once

// The configuration loader's problems as `edgehubctl` findings, shared by `check` and
// `config apply` so both report a bad file the same way.

#include <vector>

#include "app/ctl/check_report.hpp"
#include "edgehub/config/load.hpp"

namespace edgehub::app::ctl {

/// Adds one finding per issue: errors exit with kExitConfig, each with its fix (or a pointer to
/// docs/configuration.md when the loader has none).
void add_config_issues(CheckReport& report, const std::vector<config::ConfigIssue>& issues);

}  // namespace edgehub::app::ctl
