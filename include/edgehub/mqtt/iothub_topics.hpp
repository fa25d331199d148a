#pragma once

// IoT Hub's MQTT topic names and subscription filters (iot-hub-protocol.md §2.2, §7.2, §8.2, §10;
// edgehub-reference §1.3). Pure string functions: which identity may use a topic is the session's
// decision, made on the ids extracted here.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "edgehub/core/client_id.hpp"
#include "edgehub/mqtt_proto/packets.hpp"

namespace edgehub::mqtt {

enum class TopicKind {
  telemetry,            ///< devices/{d}[/modules/{m}]/messages/events[/{bag}][/]
  twin_get,             ///< $iothub/twin/GET/?$rid={rid}
  twin_reported_patch,  ///< $iothub/twin/PATCH/properties/reported/?$rid={rid}[&…]
  method_response,      ///< $iothub/methods/res/{status}/?$rid={rid}[&…]
  unknown,              ///< anything else: IoT Hub closes the connection
};

/// A classified inbound PUBLISH topic. The views point into the classified topic string.
struct InboundTopic {
  TopicKind kind = TopicKind::unknown;
  std::string_view device;  ///< telemetry
  std::string_view module;  ///< telemetry from a module; empty for a device
  std::string_view bag;     ///< telemetry: the raw (still encoded) bag, one trailing '/' removed
  std::string_view query;   ///< twin/method: the raw query after '?'
  std::string_view rid;     ///< twin/method: $rid as written (echoed back verbatim)
  int status = 0;           ///< method response status chosen by the device
};

/// Classifies a PUBLISH topic. A twin or method topic without a non-empty $rid, or a method
/// response whose status is not an integer, is `unknown`.
InboundTopic classify_publish_topic(std::string_view topic);

enum class FilterKind {
  c2d,            ///< devices/{d}/messages/devicebound/# (or devices/+/… from the embedded C SDK)
  module_inputs,  ///< devices/{d}/modules/{m}/inputs/# or devices/{d}/modules/{m}/#
  module_c2d,     ///< devices/{d}/modules/{m}/messages/devicebound/#
  methods,        ///< $iothub/methods/POST/#
  twin_responses,  ///< $iothub/twin/res/#
  twin_desired,    ///< $iothub/twin/PATCH/properties/desired/#
  unknown,         ///< anything else: the session answers SUBACK 0x80
};

struct SubscriptionFilter {
  FilterKind kind = FilterKind::unknown;
  std::string_view device;  ///< empty for the $iothub filters and for `any_device`
  std::string_view module;
  bool any_device = false;  ///< devices/+/messages/devicebound/#: means the connected device
};

SubscriptionFilter classify_subscription(std::string_view filter);

// --- Authorisation: an identity acts only within its own space (design.md §5) ---------------

/// Telemetry only on the identity's own topic (a device on devices/{d}/messages/events, a module
/// on devices/{d}/modules/{m}/messages/events; ids compared exactly). Twin and method topics name
/// no identity: they act for the connection's identity, so they are always allowed. Unknown
/// topics never are.
bool may_publish(const InboundTopic& topic, const core::ClientId& identity);

/// C2D (including the C SDK's devices/+/… form) only for a device identity and its own id; module
/// inputs and module C2D only for that module; the $iothub filters for anyone; unknown never.
bool may_subscribe(const SubscriptionFilter& filter, const core::ClientId& identity);

/// The QoS IoT Hub grants for a requested QoS: QoS 2 is granted as QoS 1.
mqtt_proto::QoS granted_qos(mqtt_proto::QoS requested) noexcept;

// --- Outbound topics ---------------------------------------------------------------------------

/// devices/{d}/messages/devicebound/{bag} — the '/' is always there, even with an empty bag.
std::string c2d_topic(std::string_view device, std::string_view bag);
/// devices/{d}/modules/{m}/messages/devicebound/{bag}
std::string module_c2d_topic(std::string_view device, std::string_view module,
                             std::string_view bag);
/// devices/{d}/modules/{m}/inputs/{input}/{bag}
std::string module_input_topic(std::string_view device, std::string_view module,
                               std::string_view input, std::string_view bag);
/// $iothub/twin/res/{status}/?$rid={rid}[&$version={v}]
std::string twin_response_topic(int status, std::string_view rid,
                                std::optional<std::int64_t> version = std::nullopt);
/// $iothub/twin/PATCH/properties/desired/?$version={v}
std::string desired_patch_topic(std::int64_t version);
/// $iothub/methods/POST/{method}/?$rid={rid}
std::string method_request_topic(std::string_view method, std::string_view rid);

// --- Query strings ------------------------------------------------------------------------------

/// The raw value of the first `name=value` pair in an '&'-separated query (exact name match);
/// nullopt when absent, "" for `name=` or a bare `name`.
std::optional<std::string_view> query_value(std::string_view query, std::string_view name);
/// $rid of a twin/method query.
std::optional<std::string_view> request_id(std::string_view query);
/// $version of a twin query, when present and a decimal integer.
std::optional<std::int64_t> twin_version(std::string_view query);

}  // namespace edgehub::mqtt
