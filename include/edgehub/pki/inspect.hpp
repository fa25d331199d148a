#pragma once

// Certificate and permission inspection for `edgehubctl check` (like `iotedge check`): unlike
// load_edge_ca(), which stops at the first problem, this reports every finding, including the
// ones that are fine, each with the command that fixes it. Blocking file reads; never throws.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/core/clock.hpp"

namespace edgehub::pki {

enum class CertSeverity { ok, warning, error };

struct CertFinding {
  CertSeverity severity = CertSeverity::ok;
  std::string title;   ///< one line: what was checked and the verdict
  std::string detail;  ///< optional extra lines
  std::string fix;     ///< a command or change that fixes it; empty for ok findings
};

struct InspectInput {
  std::optional<std::filesystem::path> trust_bundle;
  std::optional<std::filesystem::path> edge_ca_cert;
  std::optional<std::filesystem::path> edge_ca_key;
  /// Quickstart validity when [edge_ca] has no cert/pk (absent: the default, 90 days).
  std::optional<std::uint32_t> quickstart_expiry_days;
  std::string hostname;
  std::vector<std::string> extra_sans;  ///< [gateway] server_cert_extra_sans
  /// Where edgehubd keeps its issued server certificate; unset: not inspected.
  std::optional<std::filesystem::path> state_dir;
  core::SystemTime now;
  /// Certificates expiring sooner than this are warnings.
  std::chrono::seconds expiry_warning = std::chrono::hours(24 * 30);
};

InspectInput inspect_input_from(const config::GatewayConfig& config, core::SystemTime now);

/// Checks, for the trust bundle, the Edge CA chain and its key: PEM format, chain order, CA flags
/// (CA:TRUE, keyCertSign), key type and match, chain to the trust bundle, days to expiry (warning
/// under `expiry_warning`), file permissions (keys 0600, certificates 0644), and the hostname
/// against the certificates (the Edge CA's CN must differ from the hostname; the server certificate
/// kept in state_dir, if any, is checked for the hostname and SANs it will be served for).
std::vector<CertFinding> inspect_certificates(const InspectInput& input);

}  // namespace edgehub::pki
