#include "upstream/endpoint.hpp"

namespace edgehub::upstream {

net::ClientEndpoint upstream_endpoint(const UpstreamOptions& options, bool client_certificate,
                                      std::string websocket_subprotocol) {
  net::ClientEndpoint endpoint;
  endpoint.host = options.dial_host;
  endpoint.port = options.port;
  endpoint.trust_bundle = options.trust_bundle;
  if (client_certificate) {
    endpoint.client_cert = options.identity_cert;
    endpoint.client_key = options.identity_pk;
  }
  if (options.transport == Transport::mqtt_websocket ||
      options.transport == Transport::amqp_websocket) {
    endpoint.kind = net::TransportKind::websocket;
    endpoint.websocket_path = "/$iothub/websocket";
    endpoint.websocket_subprotocol = std::move(websocket_subprotocol);
    endpoint.proxy = options.proxy;  // as edgeHub: the proxy is for the WebSocket transports
  }
  endpoint.timeout = options.operation_timeout;
  return endpoint;
}

}  // namespace edgehub::upstream
