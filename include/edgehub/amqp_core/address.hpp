#pragma once

// Link addresses of IoT Hub's AMQP device API (iot-hub-protocol.md §3.3, edgehub-reference.md
// §1.4). Clients send a bare path ("/devices/d1/messages/events") or an absolute URI
// ("amqps://hub.azure-devices.net:5671/devices/d1/methods/deviceBound"); the path is matched
// case-insensitively and ids are URL-decoded. Which node a link is depends on the address and
// on the direction, which the connection checks (link_role_allowed()).

#include <optional>
#include <string_view>

#include "edgehub/core/client_id.hpp"

namespace edgehub::amqp_core {

enum class Node {
  cbs,      ///< $cbs: put-token requests (client sender) and replies (client receiver)
  events,   ///< .../messages/events: telemetry / module outputs (client sender) or module
            ///< inputs (client receiver, modules only)
  inputs,   ///< /devices/{d}/modules/{m}/inputs: module inputs (client receiver)
  c2d,      ///< .../messages/devicebound: C2D (client receiver)
  methods,  ///< .../methods/devicebound: requests (client receiver), responses (client sender)
  twin,     ///< .../twin: requests (client sender), responses and desired patches (client receiver)
};

/// What the client wants a link for, from the gateway's side.
enum class LinkRole {
  receive_from_client,  ///< the client is the sender; the gateway's link is a receiver
  send_to_client,       ///< the client is the receiver; the gateway's link is a sender
};

struct LinkAddress {
  Node node = Node::cbs;
  core::ClientId id;  ///< empty for $cbs
};

/// nullopt for an address the gateway does not serve (including ids longer than 128 characters
/// or with invalid percent-encoding).
std::optional<LinkAddress> parse_link_address(std::string_view address);

/// Whether `node` may be attached in `role` by this identity kind (module inputs need a module).
bool link_role_allowed(const LinkAddress& address, LinkRole role) noexcept;

/// Percent-decoding of one id or audience; nullopt for a broken escape.
std::optional<std::string> url_decode(std::string_view text);

}  // namespace edgehub::amqp_core
