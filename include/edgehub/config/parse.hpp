#pragma once

// The value parsers behind load_config(), public because other modules and edgehubctl read the
// same notations (a host:port, a file:// URI, a device connection string). None of them throws;
// errors are ConfigErrc codes whose messages never echo the input.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/core/result.hpp"

namespace edgehub::config {

/// "host:port", "[v6]:port" or ":port" (all interfaces, 0.0.0.0). Port 0 is accepted (the kernel
/// picks one; tests use it). Errors: empty_address, missing_port, bad_port, bad_host.
core::Result<HostPort> parse_host_port(std::string_view text);

/// A DNS name (RFC 1123 labels, at most 253 characters) or an IPv4/IPv6 literal (no brackets).
bool is_valid_host(std::string_view host) noexcept;
/// An IPv4 dotted quad or an IPv6 literal (no brackets).
bool is_ip_literal(std::string_view host) noexcept;

/// "file:///abs/path" (or "file://localhost/abs/path") to a path, percent-decoded and lexically
/// normalised. Errors: relative_path ("certs/a.pem"), not_a_uri ("/abs/path" without scheme),
/// unsupported_scheme ("pkcs11:...", "http://..."), remote_file_uri ("file://host/..."),
/// bad_uri_path (bad %-escape, NUL, query or fragment).
core::Result<std::filesystem::path> file_uri_to_path(std::string_view uri);

/// The parts of a device connection string that provision the gateway.
struct DeviceConnectionString {
  std::string host_name;              ///< without the port
  std::optional<std::uint16_t> port;  ///< HostName=host:port, for dialing only
  std::string device_id;
  std::string shared_access_key;  ///< base64, validated; a secret
  std::optional<std::string> gateway_host_name;
};

/// "HostName=...;DeviceId=...;SharedAccessKey=..." Segments are split at ';', each pair at its
/// first '=' (base64 keys end in '='); a repeated key keeps the last value; empty segments are
/// skipped. Key names are case-sensitive, as in the Azure SDKs.
/// Errors: malformed_segment, unknown_connection_string_key, missing_host_name,
/// missing_device_id, missing_shared_access_key, module_id_not_allowed (a module's string),
/// sas_token_not_allowed (SharedAccessSignature), x509_not_allowed (x509=true),
/// policy_key_not_allowed (SharedAccessKeyName), bad_port, bad_host (HostName),
/// bad_gateway_host_name, bad_base64, bad_key_length.
core::Result<DeviceConnectionString> parse_device_connection_string(std::string_view text);

/// A symmetric IoT Hub key: standard base64 with padding, 16 to 64 bytes once decoded.
/// Errors: bad_base64, bad_key_length.
core::Result<void> validate_sas_key(std::string_view base64);

}  // namespace edgehub::config
