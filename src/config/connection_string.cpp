#include "config/base64.hpp"
#include "edgehub/config/errors.hpp"
#include "edgehub/config/parse.hpp"

namespace edgehub::config {
namespace {

constexpr std::size_t kMinKeyBytes = 16;  // IoT Hub's bounds for symmetric keys
constexpr std::size_t kMaxKeyBytes = 64;

}  // namespace

core::Result<void> validate_sas_key(std::string_view base64) {
  const auto bytes = decode_base64(base64);
  if (!bytes) return ConfigErrc::bad_base64;
  if (bytes->size() < kMinKeyBytes || bytes->size() > kMaxKeyBytes) {
    return ConfigErrc::bad_key_length;
  }
  return {};
}

core::Result<DeviceConnectionString> parse_device_connection_string(std::string_view text) {
  std::optional<std::string_view> host_name;
  std::optional<std::string_view> device_id;
  std::optional<std::string_view> key;
  std::optional<std::string_view> gateway;
  bool module_id = false;
  bool signature = false;
  bool policy = false;
  bool x509 = false;
  bool unknown = false;

  while (!text.empty()) {
    const auto semi = text.find(';');
    const auto segment = text.substr(0, semi);
    text = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
    if (segment.empty()) continue;  // "a=b;;c=d" and a trailing ';' are harmless
    const auto eq = segment.find('=');
    if (eq == std::string_view::npos || eq == 0) return ConfigErrc::malformed_segment;
    const auto name = segment.substr(0, eq);
    const auto value = segment.substr(eq + 1);
    if (name == "HostName") {
      host_name = value;
    } else if (name == "DeviceId") {
      device_id = value;
    } else if (name == "SharedAccessKey") {
      key = value;
    } else if (name == "GatewayHostName") {
      gateway = value;
    } else if (name == "ModuleId") {
      module_id = true;
    } else if (name == "SharedAccessSignature") {
      signature = true;
    } else if (name == "SharedAccessKeyName") {
      policy = true;
    } else if (name == "x509") {
      x509 = value == "true" || value == "True" || value == "TRUE";
      if (!x509 && value != "false" && value != "False" && value != "FALSE") unknown = true;
    } else {
      unknown = true;
    }
  }

  // The most specific explanation wins: it says what kind of string was pasted by mistake.
  if (policy) return ConfigErrc::policy_key_not_allowed;
  if (module_id) return ConfigErrc::module_id_not_allowed;
  if (signature) return ConfigErrc::sas_token_not_allowed;
  if (x509) return ConfigErrc::x509_not_allowed;
  if (unknown) return ConfigErrc::unknown_connection_string_key;
  if (!host_name || host_name->empty()) return ConfigErrc::missing_host_name;
  if (!device_id || device_id->empty()) return ConfigErrc::missing_device_id;
  if (!key || key->empty()) return ConfigErrc::missing_shared_access_key;

  DeviceConnectionString out;
  const auto colon = host_name->find(':');
  if (colon == std::string_view::npos) {
    if (!is_valid_host(*host_name)) return ConfigErrc::bad_host;
    out.host_name = std::string(*host_name);
  } else {
    const auto hp = parse_host_port(*host_name);
    if (!hp) return hp.error();
    if (hp->port == 0 || colon == 0)
      return colon == 0 ? ConfigErrc::bad_host : ConfigErrc::bad_port;
    out.host_name = hp->host;
    out.port = hp->port;
  }
  if (auto valid = validate_sas_key(*key); !valid) return valid.error();
  out.device_id = std::string(*device_id);
  out.shared_access_key = std::string(*key);
  if (gateway && !gateway->empty()) {
    if (!is_valid_host(*gateway)) return ConfigErrc::bad_gateway_host_name;
    out.gateway_host_name = std::string(*gateway);
  }
  return out;
}

}  // namespace edgehub::config
