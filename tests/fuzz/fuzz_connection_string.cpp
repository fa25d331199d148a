// libFuzzer target (issue 12): config::parse_device_connection_string on arbitrary text.
// Invariants (abort = finding):
//  - it never crashes or throws, and a refusal is a config-category error;
//  - an accepted string has a valid host, a non-empty device id, a valid key and a non-zero port
//    (when one is given);
//  - the accepted parts, written back in the SDKs' order, parse to the same parts.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "edgehub/config/errors.hpp"
#include "edgehub/config/parse.hpp"

namespace {

using namespace edgehub::config;

std::string serialise(const DeviceConnectionString& cs) {
  std::string host = cs.host_name;
  if (cs.port) {
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    host += ":" + std::to_string(*cs.port);
  }
  std::string out =
      "HostName=" + host + ";DeviceId=" + cs.device_id + ";SharedAccessKey=" + cs.shared_access_key;
  if (cs.gateway_host_name) out += ";GatewayHostName=" + *cs.gateway_host_name;
  return out;
}

bool same(const DeviceConnectionString& a, const DeviceConnectionString& b) {
  return a.host_name == b.host_name && a.port == b.port && a.device_id == b.device_id &&
         a.shared_access_key == b.shared_access_key && a.gateway_host_name == b.gateway_host_name;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = parse_device_connection_string(text);
  if (!parsed) {
    if (parsed.error().category() != make_error_code(ConfigErrc::bad_host).category()) std::abort();
    return 0;
  }
  if (!is_valid_host(parsed->host_name) || parsed->device_id.empty()) std::abort();
  if (!validate_sas_key(parsed->shared_access_key)) std::abort();
  if (parsed->port && *parsed->port == 0) std::abort();
  if (parsed->gateway_host_name && !is_valid_host(*parsed->gateway_host_name)) std::abort();
  const auto again = parse_device_connection_string(serialise(*parsed));
  if (!again || !same(*again, *parsed)) std::abort();
  return 0;
}
