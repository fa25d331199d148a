#include "edgehub/upstream/options.hpp"

#include <algorithm>

namespace edgehub::upstream {

std::optional<UpstreamOptions> UpstreamOptions::from_config(const config::GatewayConfig& config,
                                                            std::string& why) {
  if (!config.provisioning) {
    why = "no [provisioning]: messages routed to $upstream wait in the store";
    return std::nullopt;
  }
  const auto& p = *config.provisioning;
  UpstreamOptions o;
  switch (config.upstream_protocol) {
    case config::UpstreamProtocol::mqtt:
      o.transport = Transport::mqtt_tls;
      o.port = p.iothub_port.value_or(8883);
      break;
    case config::UpstreamProtocol::mqttws:
      o.transport = Transport::mqtt_websocket;
      o.port = p.iothub_port.value_or(443);
      break;
    case config::UpstreamProtocol::amqp:
      o.transport = Transport::amqp_tls;
      o.port = p.iothub_port.value_or(5671);
      break;
    case config::UpstreamProtocol::amqpws:
      o.transport = Transport::amqp_websocket;
      o.port = p.iothub_port.value_or(443);
      break;
  }
  o.iothub_hostname = p.iothub_hostname;
  o.edge_device_id = p.device_id;
  // A HostName ":port" is for dialing only (design.md §4), whichever host is dialed: the hub, or
  // the parent gateway of a nested one.
  o.dial_host = config.parent_hostname.value_or(p.iothub_hostname);
  o.proxy = config.proxy;
  o.trust_bundle = config.trust_bundle_cert;
  if (p.method == config::ProvisioningAuth::sas) {
    o.device_key = p.sas_key;
  } else {
    o.identity_cert = p.identity_cert;
    o.identity_pk = p.identity_pk;
  }
  o.edgehub_module_key = p.edgehub_module_key;
  o.forward_device_tokens = config.authentication_mode == config::AuthenticationMode::cloud;
  o.max_connections = config.limits.max_connections;
  o.token_ttl = config.upstream_token_lifetime;
  o.token_renew_before = std::min<std::chrono::seconds>(std::chrono::minutes(5), o.token_ttl / 5);
  return o;
}

}  // namespace edgehub::upstream
