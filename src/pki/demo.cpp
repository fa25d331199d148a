#include "edgehub/pki/demo.hpp"

#include <algorithm>

#include "edgehub/pki/errors.hpp"
#include "pki/files.hpp"
#include "pki/uri.hpp"

namespace edgehub::pki {
namespace {

// Devices with a skewed clock must still accept a freshly generated demo PKI.
constexpr std::chrono::hours kClockSkew{1};

/// Usable both as a certificate CN (at most 64 characters) and inside a file name.
bool is_usable_id(std::string_view id) {
  if (id.empty() || id.size() > 64 || id.front() == '.' || id.front() == '-') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-._:@+=$!(),'%#*?").find(c) != std::string_view::npos;
  });
}

core::Result<void> write_pair(const KeyAndCertificate& pair, const std::string& chain_pem,
                              const std::filesystem::path& cert_path,
                              const std::filesystem::path& key_path, std::string& why) {
  if (auto r = files::write_atomic(key_path, pair.key_pem, 0600, why); !r) return r;
  return files::write_atomic(cert_path, chain_pem, 0644, why);
}

}  // namespace

core::Result<DemoPki> generate_demo_pki(const DemoPkiOptions& options, std::string& why) {
  if (!is_usable_id(options.edge_name)) {
    why = "edge name '" + options.edge_name +
          "' must be 1-64 letters, digits or -._:@+=$!(),'%#*? and not start with '.' or '-'";
    return Errc::invalid_name;
  }
  for (const auto& id : options.devices) {
    if (!is_usable_id(id)) {
      why = "device id '" + id +
            "' must be 1-64 letters, digits or -._:@+=$!(),'%#*? and not start with '.' or '-'";
      return Errc::invalid_name;
    }
  }
  const auto certs_dir = options.dir / "certs";
  const auto private_dir = options.dir / "private";
  if (auto r = files::ensure_directory(certs_dir, 0755, why); !r) return r.error();
  if (auto r = files::ensure_directory(private_dir, 0700, why); !r) return r.error();

  const SystemTime start = options.now - kClockSkew;
  // Each level expires a little before its issuer, so the chain never outlives its root.
  const SystemTime root_end = options.now + options.validity + std::chrono::hours(2);
  const SystemTime edge_end = options.now + options.validity + std::chrono::hours(1);
  const SystemTime leaf_end = options.now + options.validity;

  DemoPki pki;
  pki.root_cert = certs_dir / "azure-iot-test-only.root.ca.cert.pem";
  pki.root_key = private_dir / "azure-iot-test-only.root.ca.key.pem";
  const std::string edge = "iot-edge-device-ca-" + options.edge_name;
  pki.edge_ca_cert = certs_dir / (edge + ".cert.pem");
  pki.edge_ca_full_chain = certs_dir / (edge + "-full-chain.cert.pem");
  pki.edge_ca_key = private_dir / (edge + ".key.pem");

  CertificateSpec root_spec;
  root_spec.common_name = "Azure_IoT_Hub_CA_Cert_Test_Only";
  root_spec.not_before = start;
  root_spec.not_after = root_end;
  root_spec.is_ca = true;
  root_spec.key_cert_sign = true;
  auto root = make_certificate(root_spec, options.algorithm, nullptr, why);
  if (!root) return root.error();
  if (auto r = write_pair(*root, root->cert_pem, pki.root_cert, pki.root_key, why); !r) {
    return r.error();
  }

  CertificateSpec edge_spec = root_spec;
  // Never the gateway's host name: IoT Edge forbids an Edge CA CN equal to the hostname.
  edge_spec.common_name = options.edge_name.size() <= 40
                              ? "iot-edge-device-ca-" + options.edge_name
                              : "iot-edge-device-ca-" + options.edge_name.substr(0, 40);
  edge_spec.not_after = edge_end;
  auto edge_ca = make_certificate(edge_spec, options.algorithm, &*root, why);
  if (!edge_ca) return edge_ca.error();
  if (auto r = write_pair(*edge_ca, edge_ca->cert_pem, pki.edge_ca_cert, pki.edge_ca_key, why);
      !r) {
    return r.error();
  }
  if (auto r = files::write_atomic(pki.edge_ca_full_chain, edge_ca->cert_pem + root->cert_pem, 0644,
                                   why);
      !r) {
    return r.error();
  }

  for (const auto& id : options.devices) {
    const bool expired = std::find(options.expired_devices.begin(), options.expired_devices.end(),
                                   id) != options.expired_devices.end();
    CertificateSpec spec;
    spec.common_name = id;
    spec.not_before = expired ? options.now - std::chrono::hours(48) : start;
    spec.not_after = expired ? options.now - std::chrono::hours(24) : leaf_end;
    spec.client_auth = true;

    DemoDevice device;
    device.id = id;
    device.cert = certs_dir / ("iot-device-" + id + "-full-chain.cert.pem");
    device.key = private_dir / ("iot-device-" + id + ".key.pem");
    device.selfsigned_cert = certs_dir / ("iot-device-" + id + "-selfsigned.cert.pem");
    device.selfsigned_key = private_dir / ("iot-device-" + id + "-selfsigned.key.pem");

    auto signed_pair = make_certificate(spec, options.algorithm, &*root, why);
    if (!signed_pair) return signed_pair.error();
    if (auto r = write_pair(*signed_pair, signed_pair->cert_pem + root->cert_pem, device.cert,
                            device.key, why);
        !r) {
      return r.error();
    }
    auto self_pair = make_certificate(spec, options.algorithm, nullptr, why);
    if (!self_pair) return self_pair.error();
    if (auto r = write_pair(*self_pair, self_pair->cert_pem, device.selfsigned_cert,
                            device.selfsigned_key, why);
        !r) {
      return r.error();
    }
    auto info = describe_certificates(self_pair->cert_pem, device.selfsigned_cert.string(), why);
    if (!info) return info.error();
    device.sha1_thumbprint = info->front().sha1_thumbprint;
    device.sha256_thumbprint = info->front().sha256_thumbprint;
    pki.devices.push_back(std::move(device));
  }
  return pki;
}

std::string demo_config_snippet(const DemoPki& pki) {
  return "trust_bundle_cert = \"" + file_uri(pki.root_cert) + "\"\n\n[edge_ca]\ncert = \"" +
         file_uri(pki.edge_ca_full_chain) + "\"\npk = \"" + file_uri(pki.edge_ca_key) + "\"\n";
}

}  // namespace edgehub::pki
