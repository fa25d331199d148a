#pragma once

// Where an upstream link connects, as the upstream options describe it: TLS to dial_host:port
// verified with the system store and the trust bundle, the identity certificate when the link
// authenticates with it, and for the WebSocket transports IoT Hub's WebSocket path with the
// protocol's subprotocol, through the proxy when one is configured.

#include "edgehub/net/client_connect.hpp"
#include "edgehub/upstream/options.hpp"

namespace edgehub::upstream {

/// `websocket_subprotocol` ("mqtt", "AMQPWSB10") is used for the WebSocket transports only.
net::ClientEndpoint upstream_endpoint(const UpstreamOptions& options, bool client_certificate,
                                      std::string websocket_subprotocol);

}  // namespace edgehub::upstream
