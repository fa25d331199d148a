#include "edgehub/config/errors.hpp"

#include <string>

namespace edgehub::config {
namespace {

class ConfigCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "edgehub.config"; }

  std::string message(int ev) const override {
    switch (static_cast<ConfigErrc>(ev)) {
      case ConfigErrc::empty_address:
        return "the address is empty";
      case ConfigErrc::missing_port:
        return "the address has no port (expected host:port)";
      case ConfigErrc::bad_port:
        return "the port is not a number between 0 and 65535";
      case ConfigErrc::bad_host:
        return "the host is not a valid host name or IP address";
      case ConfigErrc::relative_path:
        return "relative paths are not allowed (the daemon's working directory is not the "
               "config file's)";
      case ConfigErrc::not_a_uri:
        return "expected a file:// URI, not a bare path";
      case ConfigErrc::unsupported_scheme:
        return "only file:// URIs are supported";
      case ConfigErrc::remote_file_uri:
        return "a file:// URI must name a local absolute path (file:///path, three slashes)";
      case ConfigErrc::bad_uri_path:
        return "the URI path is malformed (bad %-escape, NUL, query or fragment)";
      case ConfigErrc::malformed_segment:
        return "the connection string has a segment without '=' (expected Key=Value;...)";
      case ConfigErrc::unknown_connection_string_key:
        return "the connection string has a key other than HostName, DeviceId, SharedAccessKey "
               "and GatewayHostName";
      case ConfigErrc::missing_host_name:
        return "the connection string has no HostName";
      case ConfigErrc::missing_device_id:
        return "the connection string has no DeviceId";
      case ConfigErrc::missing_shared_access_key:
        return "the connection string has no SharedAccessKey";
      case ConfigErrc::module_id_not_allowed:
        return "the connection string names a module (ModuleId); the gateway is provisioned "
               "with its device's connection string";
      case ConfigErrc::sas_token_not_allowed:
        return "the connection string carries a SharedAccessSignature, which expires; give "
               "the device's SharedAccessKey";
      case ConfigErrc::x509_not_allowed:
        return "the connection string is for X.509 (x509=true); use [provisioning] "
               "iothub_hostname, device_id and authentication method = \"x509\"";
      case ConfigErrc::policy_key_not_allowed:
        return "this is an IoT Hub shared access policy connection string (SharedAccessKeyName), "
               "not a device connection string";
      case ConfigErrc::bad_gateway_host_name:
        return "the connection string's GatewayHostName is not a valid host name";
      case ConfigErrc::bad_base64:
        return "the key is not valid base64";
      case ConfigErrc::bad_key_length:
        return "the key must decode to 16 to 64 bytes";
    }
    return "unknown edgehub.config error";
  }
};

}  // namespace

const boost::system::error_category& config_category() noexcept {
  static const ConfigCategory category;
  return category;
}

boost::system::error_code make_error_code(ConfigErrc e) noexcept {
  return {static_cast<int>(e), config_category()};
}

}  // namespace edgehub::config
