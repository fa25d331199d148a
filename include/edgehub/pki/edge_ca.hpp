#pragma once

// The Edge CA: the CA that issues the gateway's server certificate (design.md §5). Either loaded
// from [edge_ca] cert/pk and verified against trust_bundle_cert, or a quickstart CA generated and
// kept in state_dir (auto_generated_edge_ca_expiry_days), which is not for production.
//
// Functions do blocking file I/O (a few small files); call them at start-up and on SIGHUP, not on
// a network thread. None throws; each failure returns a pki::Errc and sets `why` to a message that
// names the file and the fix.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"

namespace edgehub::pki {

using core::SystemTime;

/// A verified Edge CA. Holds its private key (PEM): do not log it.
struct EdgeCa {
  std::string cert_pem;   ///< the Edge CA certificate alone
  std::string chain_pem;  ///< Edge CA, then intermediates, as served after the server cert
  std::string key_pem;
  std::string trust_bundle_pem;  ///< what devices must trust (the root(s))
  std::string common_name;
  SystemTime not_before;
  SystemTime not_after;
  std::string fingerprint;  ///< see edge_ca_fingerprint()
  bool quickstart = false;  ///< generated in state_dir: not for production
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
};

/// Loads and verifies an Edge CA. `cert_file` is a full-chain PEM (Edge CA first, then
/// intermediates, optionally the root); `key_file` its private key, RSA 2048+ or EC P-256/P-384,
/// PKCS#8 or traditional PEM, not accessible by group/others. Verified, in this order: files
/// readable and PEM, key permissions, key type, basicConstraints CA:TRUE, keyUsage keyCertSign,
/// key matches, chain order, every certificate within validity at `now`, chain verifies to the
/// certificates in `trust_bundle_file`.
core::Result<EdgeCa> load_edge_ca(const std::filesystem::path& cert_file,
                                  const std::filesystem::path& key_file,
                                  const std::filesystem::path& trust_bundle_file, SystemTime now,
                                  std::string& why);

/// Where the quickstart CA lives in state_dir.
struct QuickstartPaths {
  /// state_dir/certs/edge-ca-quickstart.cert.pem (0644; give it to devices)
  std::filesystem::path cert;
  /// state_dir/certs/edge-ca-quickstart.key.pem (0600)
  std::filesystem::path key;
  static QuickstartPaths in(const std::filesystem::path& state_dir);
};

/// Reuses the quickstart CA in `state_dir` while it is valid and before 80% of its lifetime;
/// otherwise (missing, damaged, expiring) generates a self-signed EC P-256 CA valid `expiry_days`
/// and writes it there. The result has quickstart = true and trust_bundle_pem = its own
/// certificate: devices verify the gateway with that file. Errors: write_failed, crypto_failure,
/// no_edge_ca (expiry_days = 0).
core::Result<EdgeCa> ensure_quickstart_edge_ca(const std::filesystem::path& state_dir,
                                               std::uint32_t expiry_days, SystemTime now,
                                               std::string& why);

/// The Edge CA the configuration asks for: [edge_ca] cert + pk (trust_bundle_cert required), else
/// the quickstart CA (auto_generated_edge_ca_expiry_days, default 90), as aziot does. Errors:
/// as load_edge_ca / ensure_quickstart_edge_ca, no_edge_ca (only one of cert and pk), and
/// no_trust_bundle.
core::Result<EdgeCa> open_edge_ca(const config::GatewayConfig& config, SystemTime now,
                                  std::string& why);

/// SHA-256 (hex) over the contents of the cert and key files: a SIGHUP compares it with
/// EdgeCa::fingerprint to know whether the Edge CA files changed. Errors as read errors.
core::Result<std::string> edge_ca_fingerprint(const std::filesystem::path& cert_file,
                                              const std::filesystem::path& key_file,
                                              std::string& why);

/// The message the daemon logs (warning) when running on a quickstart CA.
std::string quickstart_warning(const EdgeCa& ca);

}  // namespace edgehub::pki
