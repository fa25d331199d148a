#pragma once

// The demo PKI (`edgehubctl certs demo`, `make demo`, integration tests): a root CA, an Edge CA
// signed by it, and device certificates, under the file names of IoT Edge's demo certificate
// scripts so existing instructions apply. Not for production: the root key sits next to the rest.
//
//   certs/azure-iot-test-only.root.ca.cert.pem      private/azure-iot-test-only.root.ca.key.pem
//   certs/iot-edge-device-ca-NAME.cert.pem          private/iot-edge-device-ca-NAME.key.pem
//   certs/iot-edge-device-ca-NAME-full-chain.cert.pem   (Edge CA, root)
//   certs/iot-device-ID-full-chain.cert.pem         private/iot-device-ID.key.pem   (CN = ID)
//   certs/iot-device-ID-selfsigned.cert.pem         private/iot-device-ID-selfsigned.key.pem
//
// Keys are written 0600 (private/ is 0700), certificates 0644, each file atomically.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/pki/certificate.hpp"

namespace edgehub::pki {

struct DemoPkiOptions {
  std::filesystem::path dir;
  std::string edge_name = "gateway";  ///< NAME in the Edge CA file names and its CN suffix
  std::vector<std::string> devices;   ///< one CA-signed and one self-signed certificate each
  KeyAlgorithm algorithm = KeyAlgorithm::ec_p256;
  SystemTime now;  ///< start of every validity period (minus one hour of skew)
  std::chrono::seconds validity = std::chrono::hours(24 * 365);
  /// Device ids (also listed in `devices`) whose certificates are issued already expired.
  std::vector<std::string> expired_devices;
};

struct DemoDevice {
  std::string id;
  std::filesystem::path cert;  ///< CA-signed, CN = id, chain: device, root
  std::filesystem::path key;
  std::filesystem::path selfsigned_cert;
  std::filesystem::path selfsigned_key;
  std::string sha1_thumbprint;  ///< of the self-signed certificate, upper-case hex
  std::string sha256_thumbprint;
};

struct DemoPki {
  std::filesystem::path root_cert;
  std::filesystem::path root_key;
  std::filesystem::path edge_ca_cert;        ///< the Edge CA alone
  std::filesystem::path edge_ca_full_chain;  ///< Edge CA then root: what [edge_ca] cert names
  std::filesystem::path edge_ca_key;
  std::vector<DemoDevice> devices;
};

/// Generates the demo PKI into `options.dir`, replacing files of the same names. Errors:
/// invalid_name (a device or edge name unusable in a file name or certificate), write_failed,
/// crypto_failure; `why` says which.
core::Result<DemoPki> generate_demo_pki(const DemoPkiOptions& options, std::string& why);

/// The config.toml lines that use `pki` (trust_bundle_cert and [edge_ca] as file:// URIs).
std::string demo_config_snippet(const DemoPki& pki);

}  // namespace edgehub::pki
