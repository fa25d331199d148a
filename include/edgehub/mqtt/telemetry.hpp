#pragma once

// Device telemetry PUBLISH (or will) → core::Message, the one conversion every MQTT ingress needs.
// Pure: the session adds what only it knows (connection device/module ids, auth method, model id,
// enqueued time) after checking that the topic's ids are the connection's identity.

#include <cstddef>
#include <span>
#include <string_view>

#include "edgehub/core/message.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/mqtt/iothub_topics.hpp"
#include "edgehub/mqtt/naming_errors.hpp"

namespace edgehub::mqtt {

enum class TelemetrySource {
  publish,  ///< a PUBLISH on a telemetry topic
  will,     ///< the CONNECT will, sent because the connection dropped without DISCONNECT
};

/// The application property IoT Hub adds to a retained publish (value "true").
inline constexpr std::string_view kRetainProperty = "mqtt-retain";
/// The application property IoT Hub adds to a will message (value "Will").
inline constexpr std::string_view kMessageTypeProperty = "iothub-MessageType";

/// Body = payload; properties from the topic's bag (property_bag.hpp rules); `mqtt-retain=true`
/// when `retain`; `iothub-MessageType=Will` for a will (iot-hub-protocol.md §2.1, §2.2).
/// Errors: NamingErrc::not_telemetry, NamingErrc::invalid_property_bag.
core::Result<core::Message> telemetry_message(const InboundTopic& topic,
                                              std::span<const std::byte> payload, bool retain,
                                              TelemetrySource source = TelemetrySource::publish);

}  // namespace edgehub::mqtt
