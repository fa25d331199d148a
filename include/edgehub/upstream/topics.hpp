#pragma once

// IoT Hub's MQTT topics in the client role (iot-hub-protocol.md §2.2, §2.3, §7.2, §8.2): the
// telemetry topic a stored message is published on, and the classification of what IoT Hub
// sends to an identity's connection. Pure string code over core::Message.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "edgehub/core/message.hpp"

namespace edgehub::upstream {

/// devices/{d}/messages/events/{bag} or devices/{d}/modules/{m}/messages/events/{bag} for the
/// message's origin. The bag carries what a device would have sent: $.mid $.cid $.uid $.to $.exp
/// $.ct $.ce $.ctime $.on $.ifid $.sub $.schema, then the application properties in order; '$'
/// as %24 and every value %-encoded, as the Node SDK writes it. Never $.cdid / $.cmid: IoT Hub
/// stamps the connection's identity itself.
std::string telemetry_topic(const core::Message& message);

/// The subscription filters that make IoT Hub send an identity its C2D messages, method
/// requests, twin responses and desired-property patches.
std::string c2d_filter(std::string_view device);
inline constexpr std::string_view kMethodsFilter = "$iothub/methods/POST/#";
inline constexpr std::string_view kTwinResponsesFilter = "$iothub/twin/res/#";
inline constexpr std::string_view kDesiredFilter = "$iothub/twin/PATCH/properties/desired/#";

/// $iothub/methods/res/{status}/?$rid={rid}
std::string method_response_topic(int status, std::string_view rid);

/// $iothub/twin/GET/?$rid={rid}: asks for the connection's twin; answered on $iothub/twin/res/.
std::string twin_get_topic(std::string_view rid);
/// $iothub/twin/PATCH/properties/reported/?$rid={rid}: the patch is the payload.
std::string reported_patch_topic(std::string_view rid);

enum class CloudTopicKind { c2d, method_request, desired_patch, twin_response, unknown };

/// A classified topic IoT Hub published to one identity's connection. Views point into the
/// topic string.
struct CloudTopic {
  CloudTopicKind kind = CloudTopicKind::unknown;
  std::string_view device;   ///< c2d: the {d} of the topic
  std::string_view bag;      ///< c2d: raw property bag (may be empty)
  std::string_view method;   ///< method_request
  std::string_view rid;      ///< method_request, twin_response
  std::int64_t version = 0;  ///< desired_patch
  int status = 0;            ///< twin_response
};

CloudTopic classify_cloud_topic(std::string_view topic);

}  // namespace edgehub::upstream
