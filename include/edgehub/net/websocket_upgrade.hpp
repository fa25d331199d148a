#pragma once

// What port 443 does with a WebSocket upgrade request (iot-hub-protocol.md §4): the path must be
// /$iothub/websocket, and Sec-WebSocket-Protocol must offer "mqtt" or "AMQPWSB10" (in any case;
// the 101 response echoes the client's token exactly). Pure, so that the listener and the
// fuzz_websocket_upgrade target share one decision.

#include <string>
#include <string_view>

namespace edgehub::net {

inline constexpr std::string_view kWebSocketPath = "/$iothub/websocket";

enum class CarriedProtocol { none, mqtt, amqp };

struct WebSocketUpgrade {
  CarriedProtocol carried = CarriedProtocol::none;
  std::string subprotocol;  ///< the offered token as the client wrote it (echoed in the 101)
  bool wrong_path = false;  ///< the target's path is not /$iothub/websocket (404)

  /// The upgrade may go ahead (if a handler serves `carried`).
  bool accepted() const { return !wrong_path && carried != CarriedProtocol::none; }
  /// "mqtt", "amqp" or "unknown": the subprotocol label of edgehubd_websocket_upgrades_total.
  std::string_view label() const;
};

/// `target` is the request target (a query string is ignored); `offered` the
/// Sec-WebSocket-Protocol header's value, a comma-separated list. The first supported token wins.
WebSocketUpgrade decide_websocket_upgrade(std::string_view target, std::string_view offered);

}  // namespace edgehub::net
