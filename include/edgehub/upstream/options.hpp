#pragma once

// What the upstream client needs from the configuration (design.md §4, docs/upstream.md): where
// to dial, over which transport, whom to trust, and the keys it signs tokens with. A slice of
// config::GatewayConfig taken once (style P5).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "edgehub/config/gateway_config.hpp"

namespace edgehub::upstream {

enum class Transport {
  mqtt_tls,        ///< ssl://{host}:8883
  mqtt_websocket,  ///< wss://{host}:443/$iothub/websocket, optionally through an HTTP proxy
  amqp_tls,        ///< amqps://{host}:5671, one connection for every identity
  amqp_websocket,  ///< wss://{host}:443/$iothub/websocket, subprotocol AMQPWSB10
};

struct UpstreamOptions {
  std::string iothub_hostname;  ///< named in user names and token audiences (never a port)
  std::string edge_device_id;   ///< the gateway's own device identity
  std::string dial_host;        ///< parent_hostname when nested, else the IoT hub
  std::uint16_t port = 8883;
  Transport transport = Transport::mqtt_tls;
  std::optional<std::string> proxy;  ///< http://[user:password@]host:port (WebSocket only)
  std::optional<std::filesystem::path> trust_bundle;  ///< trusted besides the system store

  std::string device_key;          ///< base64 provisioning key of the gateway's own identity
  std::string edgehub_module_key;  ///< base64 key of `$edgeHub`: tokens for children
  /// authentication_mode = "cloud": children go upstream with their own SAS tokens.
  bool forward_device_tokens = false;
  std::filesystem::path identity_cert;  ///< X.509 provisioning: the gateway's client cert ...
  std::filesystem::path identity_pk;    ///< ... and key (then device_key is empty)

  std::chrono::seconds token_ttl{3600};          ///< edgeHub's on-behalf-of tokens last 1 h
  std::chrono::seconds token_renew_before{300};  ///< reconnect with a new token this early
  std::chrono::seconds keep_alive{60};
  std::chrono::seconds idle_timeout{3600};     ///< edgeHub's CloudConnectionIdleTimeoutSecs
  std::chrono::seconds operation_timeout{20};  ///< connect / subscribe (CloudOperationTimeoutSecs)
  std::chrono::seconds probe_interval{120};    ///< while offline (edgeHub: 2 min)
  std::chrono::seconds online_probe_after{300};  ///< ConnectivityCheckFrequencySecs
  std::size_t max_connections = 10000;           ///< identities with an open upstream connection
  std::size_t max_pending_per_connection = 256;  ///< queued + unacknowledged publishes

  /// The options for `config`, or nullopt with `why` when the configuration has no upstream
  /// (no [provisioning]).
  static std::optional<UpstreamOptions> from_config(const config::GatewayConfig& config,
                                                    std::string& why);
};

}  // namespace edgehub::upstream
