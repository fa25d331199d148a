#pragma once

// The one internal message model (style P2). Protocol adapters convert to and from it at their
// edge; hub, routing, store and upstream only ever see this type.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgehub/core/client_id.hpp"
#include "edgehub/core/clock.hpp"

namespace edgehub::core {

/// System properties, named as edgeHub's routing language names them after `$`
/// (edgehub-reference.md §3.5). The numeric order is part of the stored format: append only.
enum class SystemProperty : std::uint8_t {
  message_id,            // messageId
  correlation_id,        // cid (the message correlation id; routes also accept correlationId)
  user_id,               // userId
  to,                    // to
  absolute_expiry_time,  // absolute-expiry-time (ISO 8601 UTC text)
  content_type,          // contentType
  content_encoding,      // contentEncoding
  creation_time,         // creationTime
  output_name,           // outputName
  input_name,            // inputName (module input a message is delivered to)
  interface_id,          // iothub-interface-id
  component,             // dt-subject
  message_schema,        // messageSchema
  operation,             // operation
  ack,                   // ack
  connection_device_id,  // connectionDeviceId (stamped by the gateway, never trusted from devices)
  connection_module_id,  // connectionModuleId (same)
  connection_auth_method,  // connectionAuthMethod
  model_id,                // modelId (MQTT user name model-id)
  enqueued_time,           // enqueuedTime
  edge_message_id,         // edgeMessageId
  origin_interface,        // edgeHubOriginInterface: "internal" | "downstream"
  message_type,            // messageType (twinChangeNotification)
  version,                 // version
};
inline constexpr std::size_t kSystemPropertyCount =
    static_cast<std::size_t>(SystemProperty::version) + 1;

/// The routing name of a system property, e.g. "connectionModuleId".
std::string_view system_property_name(SystemProperty p) noexcept;

/// Case-insensitive lookup of a routing name ("connectionmoduleid", "correlationId", "cid").
std::optional<SystemProperty> find_system_property(std::string_view name) noexcept;

/// An application property. Values are strings; a null value is possible (an MQTT bag key
/// without '=' and the route tester's JSON null), and is distinct from an absent property.
struct Property {
  std::string name;
  std::optional<std::string> value;
  friend bool operator==(const Property&, const Property&) = default;
};

enum class MessageKind : std::uint8_t { telemetry, twin_change_notification };

struct Message {
  MessageKind kind = MessageKind::telemetry;
  ClientId origin;  ///< The authenticated sender.
  std::vector<std::byte> body;
  std::array<std::optional<std::string>, kSystemPropertyCount> sys;
  std::vector<Property> app;  ///< Order as received; names unique case-insensitively.
  SystemTime enqueued_at{};   ///< When the gateway accepted it.

  std::optional<std::string>& sys_prop(SystemProperty p) {
    return sys[static_cast<std::size_t>(p)];
  }
  const std::optional<std::string>& sys_prop(SystemProperty p) const {
    return sys[static_cast<std::size_t>(p)];
  }

  /// Case-insensitive lookup of an application property; nullptr when absent.
  const Property* find_app(std::string_view name) const noexcept;
  /// Sets (replacing any case-insensitive match) an application property.
  void set_app(std::string name, std::optional<std::string> value);

  std::string_view body_text() const noexcept {
    return {reinterpret_cast<const char*>(body.data()), body.size()};
  }
  void set_body(std::string_view text);

  /// IoT Hub's size rule: body + system-property values + application-property names and values.
  std::size_t accounted_size() const noexcept;

  /// The route source path edgeHub gives this message: "/messages", "/messages/modules/{m}",
  /// "/messages/modules/{m}/outputs/{o}" or "/twinChangeNotifications".
  std::string source_path() const;
};

/// Case-insensitive ASCII equality, the comparison IoT Hub applies to property names.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace edgehub::core
