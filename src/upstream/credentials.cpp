#include "edgehub/upstream/credentials.hpp"

#include "edgehub/core/version.hpp"
#include "edgehub/identity/errors.hpp"
#include "edgehub/identity/sas_token.hpp"

namespace edgehub::upstream {

std::string edgehub_token_audience(const UpstreamOptions& options) {
  return options.iothub_hostname + "/devices/" + options.edge_device_id + "/modules/$edgeHub";
}

std::string cbs_audience(const UpstreamOptions& options, const core::ClientId& id) {
  std::string resource = options.iothub_hostname + "/devices/" + id.device;
  if (id.is_module()) resource += "/modules/" + id.module;
  return identity::url_encode(resource);
}

std::string auth_chain(const UpstreamOptions& options, const core::ClientId& id,
                       const std::function<std::string(const std::string&)>& parent_of) {
  constexpr int kMaxNestingDepth = 5;  // IoT Edge's limit of gateway layers
  std::string chain = id.to_string();
  std::string device = id.device;
  for (int depth = 0; parent_of && depth < kMaxNestingDepth; ++depth) {
    device = parent_of(device);
    if (device.empty() || device == options.edge_device_id) break;
    chain += ";" + device;
  }
  return chain + ";" + options.edge_device_id;
}

core::Result<ConnectCredentials> connect_credentials(
    const UpstreamOptions& options, const core::ClientId& id, core::SystemTime now,
    const std::string& chain, const std::optional<std::string>& device_token) {
  ConnectCredentials c;
  c.client_id = id.to_string();
  c.username =
      options.iothub_hostname + "/" + c.client_id + "/?api-version=" + std::string(kApiVersion) +
      "&DeviceClientType=" + identity::url_encode("edgehubd/" + std::string(core::version()));
  const auto expiry = now + options.token_ttl;
  const bool own = id.device == options.edge_device_id && !id.is_module();
  if (own) {
    if (options.device_key.empty()) {
      if (options.identity_cert.empty()) return identity::Errc::invalid_key;
      c.use_client_certificate = true;
      return c;
    }
    auto token = identity::make_sas_token(
        options.iothub_hostname + "/devices/" + options.edge_device_id, options.device_key, expiry);
    if (!token) return token.error();
    c.password = std::move(*token);
    c.expires_at = std::chrono::time_point_cast<std::chrono::seconds>(expiry);
    return c;
  }
  if (options.forward_device_tokens) {
    // Cloud mode (edgehub-reference.md §2.6, ClientTokenCloudConnection): the device's own token.
    if (!device_token) return identity::Errc::no_credentials;
    auto token = identity::parse_sas_token(*device_token);
    if (!token) return token.error();
    c.password = *device_token;
    c.expires_at = token->expires_at();
    return c;
  }
  // On behalf of a child, as edgeHub: the child's identity in the client id and user name, the
  // auth chain from the child to this gateway, and the gateway's own $edgeHub token.
  if (options.edgehub_module_key.empty()) return identity::Errc::invalid_key;
  c.auth_chain = chain.empty() ? c.client_id + ";" + options.edge_device_id : chain;
  c.username += "&auth-chain=" + identity::url_encode(c.auth_chain);
  auto token =
      identity::make_sas_token(edgehub_token_audience(options), options.edgehub_module_key, expiry);
  if (!token) return token.error();
  c.password = std::move(*token);
  c.expires_at = std::chrono::time_point_cast<std::chrono::seconds>(expiry);
  return c;
}

}  // namespace edgehub::upstream
