#pragma once

// The CONNECT user name IoT Hub devices send (iot-hub-protocol.md §2.1, edgehub-reference §1.3):
//   {host}/{d}/?api-version=…&DeviceClientType=…          device
//   {host}/{d}/{m}/?api-version=…&model-id=…&DeviceClientType=…   module, PnP model id
//   {host}/{d}/api-version=…&DeviceClientType=…           legacy C SDK (no '?')
//   {host}/{d}   {host}/{d}/{m}                            hand-written clients
// {host} is the IoT hub's host name, or the gateway's own for X.509 devices (§13): which one is
// acceptable is the session's decision. api-version is not required (edgeHub requires it; the hand-
// written form has none) and its value is not checked.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgehub/core/client_id.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/mqtt/naming_errors.hpp"

namespace edgehub::mqtt {

struct Username {
  std::string host;
  core::ClientId identity;  ///< {d} and, for a module, {m}; taken verbatim (never %-decoded)
  std::optional<std::string> api_version;
  std::optional<std::string> client_type;  ///< DeviceClientType, decoded
  std::optional<std::string> model_id;     ///< model-id, decoded (Node sends it raw, Java encoded)
  std::optional<std::string> auth_chain;   ///< auth-chain (nested gateways)
  /// Every query pair in order, values %-decoded ('+' stays '+'; an invalid escape is kept as
  /// written: these values are informational and never worth refusing a client over).
  std::vector<std::pair<std::string, std::string>> params;
};

/// Errors: NamingErrc::invalid_username.
core::Result<Username> parse_username(std::string_view text);

/// The client id must be exactly "{d}" or "{d}/{m}" of the user name (ordinal comparison, as
/// edgeHub). Errors: NamingErrc::client_id_mismatch.
core::Result<void> check_client_id(const Username& username, std::string_view client_id);

}  // namespace edgehub::mqtt
