#pragma once

// Loading and validating config.toml. Every problem is reported, all at once, each with the file,
// the line, the key and the reason (style P5); nothing throws.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgehub/config/gateway_config.hpp"

namespace edgehub::config {

enum class Severity { error, warning };

struct ConfigIssue {
  std::filesystem::path file;
  int line = 0;     ///< 1-based; 0 when the problem has no single place (a missing key)
  int column = 0;   ///< 1-based; 0 when unknown
  std::string key;  ///< dotted, e.g. "gateway.listen.mqtt"
  std::string reason;
  std::string fix;  ///< what the operator should change; printed by `edgehubctl check`
  Severity severity = Severity::error;

  /// "FILE:LINE: KEY: reason" (LINE omitted when 0), the form printed to operators.
  std::string to_string() const;
};

/// Reads and validates `file`. Returns the snapshot when there are no errors; warnings may still
/// be appended to `issues`.
std::optional<GatewayConfig> load_config(const std::filesystem::path& file,
                                         std::vector<ConfigIssue>& issues);

/// Same, for text already in memory; `file` is used for messages and for relative lookups only.
std::optional<GatewayConfig> parse_config(std::string_view text, const std::filesystem::path& file,
                                          std::vector<ConfigIssue>& issues);

/// True when any issue is an error.
bool has_errors(const std::vector<ConfigIssue>& issues) noexcept;

}  // namespace edgehub::config
