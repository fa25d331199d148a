#include "edgehub/upstream/topics.hpp"

#include <array>
#include <charconv>

#include "edgehub/mqtt/iothub_topics.hpp"
#include "edgehub/mqtt/property_bag.hpp"

namespace edgehub::upstream {
namespace {

using core::SystemProperty;

struct BagKey {
  std::string_view key;
  SystemProperty property;
};

// The keys a device sends IoT Hub (iot-hub-protocol.md §6), in the Node SDK's order where it
// has one.
constexpr std::array<BagKey, 12> kTelemetryKeys = {{
    {"$.on", SystemProperty::output_name},
    {"$.mid", SystemProperty::message_id},
    {"$.cid", SystemProperty::correlation_id},
    {"$.uid", SystemProperty::user_id},
    {"$.to", SystemProperty::to},
    {"$.ct", SystemProperty::content_type},
    {"$.ce", SystemProperty::content_encoding},
    {"$.exp", SystemProperty::absolute_expiry_time},
    {"$.ctime", SystemProperty::creation_time},
    {"$.ifid", SystemProperty::interface_id},
    {"$.sub", SystemProperty::component},
    {"$.schema", SystemProperty::message_schema},
}};

void append_pair(std::string& out, std::string_view name, const std::optional<std::string>& value) {
  if (!out.empty()) out += '&';
  out += mqtt::percent_encode(name);
  if (value) {
    out += '=';
    out += mqtt::percent_encode(*value);
  }
}

bool consume(std::string_view& text, std::string_view prefix) {
  if (text.substr(0, prefix.size()) != prefix) return false;
  text.remove_prefix(prefix.size());
  return true;
}

}  // namespace

std::string telemetry_topic(const core::Message& message) {
  std::string bag;
  for (const auto& k : kTelemetryKeys) {
    if (const auto& v = message.sys_prop(k.property)) append_pair(bag, k.key, v);
  }
  for (const auto& p : message.app)
    append_pair(bag, p.name, p.value);
  std::string topic = "devices/" + message.origin.device;
  if (message.origin.is_module()) topic += "/modules/" + message.origin.module;
  topic += "/messages/events/";
  topic += bag;
  return topic;
}

std::string c2d_filter(std::string_view device) {
  return "devices/" + std::string(device) + "/messages/devicebound/#";
}

std::string method_response_topic(int status, std::string_view rid) {
  return "$iothub/methods/res/" + std::to_string(status) + "/?$rid=" + std::string(rid);
}

std::string twin_get_topic(std::string_view rid) {
  return "$iothub/twin/GET/?$rid=" + std::string(rid);
}

std::string reported_patch_topic(std::string_view rid) {
  return "$iothub/twin/PATCH/properties/reported/?$rid=" + std::string(rid);
}

CloudTopic classify_cloud_topic(std::string_view topic) {
  CloudTopic out;
  std::string_view rest = topic;
  if (consume(rest, "devices/")) {
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) return out;
    out.device = rest.substr(0, slash);
    rest.remove_prefix(slash);
    if (!consume(rest, "/messages/devicebound")) return out;
    if (!rest.empty() && !consume(rest, "/")) return out;
    out.bag = rest;
    out.kind = CloudTopicKind::c2d;
    return out;
  }
  if (consume(rest, "$iothub/methods/POST/")) {
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) return out;
    out.method = rest.substr(0, slash);
    rest.remove_prefix(slash + 1);
    if (!consume(rest, "?")) return out;
    auto rid = mqtt::request_id(rest);
    if (!rid || rid->empty()) return out;
    out.rid = *rid;
    out.kind = CloudTopicKind::method_request;
    return out;
  }
  if (consume(rest, "$iothub/twin/PATCH/properties/desired/")) {
    consume(rest, "?");
    auto version = mqtt::twin_version(rest);
    if (!version) return out;
    out.version = *version;
    out.kind = CloudTopicKind::desired_patch;
    return out;
  }
  if (consume(rest, "$iothub/twin/res/")) {
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) return out;
    const auto digits = rest.substr(0, slash);
    if (std::from_chars(digits.data(), digits.data() + digits.size(), out.status).ec !=
        std::errc{}) {
      return out;
    }
    rest.remove_prefix(slash + 1);
    consume(rest, "?");
    auto rid = mqtt::request_id(rest);
    if (!rid || rid->empty()) return out;
    out.rid = *rid;
    out.kind = CloudTopicKind::twin_response;
    return out;
  }
  return out;
}

}  // namespace edgehub::upstream
