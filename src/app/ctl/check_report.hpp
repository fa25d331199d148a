#pragma once

// What `edgehubctl check` found, section by section (configuration now; certificates, file
// permissions and ports later, like `iotedge check`). Each check adds findings; the report
// renders them and decides the exit code, so sections never print or exit on their own.

#include <cstddef>
#include <string>
#include <vector>

#include "app/ctl/commands.hpp"

namespace edgehub::app::ctl {

enum class FindingLevel { ok, warning, error };

struct Finding {
  FindingLevel level = FindingLevel::ok;
  std::string title;   ///< one line, e.g. "FILE:LINE: KEY: reason"
  std::string detail;  ///< optional further lines, printed indented
  std::string fix;     ///< what to change; printed as "fix: ..." under errors and warnings
  int exit_code = kExitFailure;  ///< the command's exit code when this is an error
};

/// Not thread-safe; one report per command run.
class CheckReport {
 public:
  /// Starts a titled group of findings ("Configuration", "Certificates", ...).
  void section(std::string title);
  void add(Finding finding);

  std::size_t count(FindingLevel level) const noexcept;
  /// 0 without errors; otherwise the largest exit_code among the error findings (so a config
  /// error, 78, wins over a generic failure, 1).
  int exit_code() const noexcept;

  /// The text printed to the operator: per section a heading, then one line per finding
  /// ("✓", "⚠" or "✗" and the title), indented detail and fix lines, and a closing summary.
  std::string render() const;
  /// The same report for machines (`check --json`): {"sections":[{"title","findings":[{"level",
  /// "title","detail","fix"}]}],"errors","warnings","exit_code"}.
  std::string render_json() const;

 private:
  struct Entry {
    bool is_section = false;
    std::string section;
    Finding finding;
  };
  std::vector<Entry> entries_;
};

}  // namespace edgehub::app::ctl
