#include "edgehub/net/websocket_upgrade.hpp"

#include "edgehub/core/message.hpp"

namespace edgehub::net {

std::string_view WebSocketUpgrade::label() const {
  switch (carried) {
    case CarriedProtocol::mqtt:
      return "mqtt";
    case CarriedProtocol::amqp:
      return "amqp";
    case CarriedProtocol::none:
      break;
  }
  return "unknown";
}

WebSocketUpgrade decide_websocket_upgrade(std::string_view target, std::string_view offered) {
  WebSocketUpgrade out;
  out.wrong_path = target.substr(0, target.find('?')) != kWebSocketPath;
  std::size_t pos = 0;
  while (pos <= offered.size()) {
    auto comma = offered.find(',', pos);
    if (comma == std::string_view::npos) comma = offered.size();
    auto token = offered.substr(pos, comma - pos);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
      token.remove_suffix(1);
    if (core::iequals(token, "mqtt")) out.carried = CarriedProtocol::mqtt;
    if (core::iequals(token, "AMQPWSB10")) out.carried = CarriedProtocol::amqp;
    if (out.carried != CarriedProtocol::none) {
      out.subprotocol = std::string(token);
      break;
    }
    pos = comma + 1;
  }
  return out;
}

}  // namespace edgehub::net
