#pragma once

// Error codes of the config module's value parsers (host:port, file URIs, connection strings,
// base64 keys). Each message is operator-facing and never contains the input text, because the
// input may be a secret (a connection string, a key, a PKCS#11 URI with a PIN).

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace edgehub::config {

enum class ConfigErrc {
  // host:port
  empty_address = 1,
  missing_port,
  bad_port,
  bad_host,
  // file URIs
  relative_path,
  not_a_uri,
  unsupported_scheme,
  remote_file_uri,
  bad_uri_path,
  // connection strings
  malformed_segment,
  unknown_connection_string_key,
  missing_host_name,
  missing_device_id,
  missing_shared_access_key,
  module_id_not_allowed,
  sas_token_not_allowed,
  x509_not_allowed,
  policy_key_not_allowed,
  bad_gateway_host_name,
  // keys
  bad_base64,
  bad_key_length,
};

const boost::system::error_category& config_category() noexcept;
boost::system::error_code make_error_code(ConfigErrc e) noexcept;

}  // namespace edgehub::config

template <>
struct boost::system::is_error_code_enum<edgehub::config::ConfigErrc> : std::true_type {};
