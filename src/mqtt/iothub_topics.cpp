#include "edgehub/mqtt/iothub_topics.hpp"

#include <charconv>
#include <limits>

namespace edgehub::mqtt {
namespace {

// Consumes `prefix` from the front of `text`.
bool consume(std::string_view& text, std::string_view prefix) {
  if (!text.starts_with(prefix)) return false;
  text.remove_prefix(prefix.size());
  return true;
}

// Consumes one non-empty segment up to the next '/' (which is consumed too).
bool segment(std::string_view& text, std::string_view& out) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  out = text.substr(0, slash);
  text.remove_prefix(slash + 1);
  return true;
}

InboundTopic telemetry(std::string_view device, std::string_view module, std::string_view rest) {
  // rest follows ".../messages/events": "", "/", "/{bag}" or "/{bag}/" (Node module outputs).
  InboundTopic t;
  if (!rest.empty()) {
    if (rest.front() != '/') return t;
    rest.remove_prefix(1);
    if (rest.ends_with('/')) rest.remove_suffix(1);
  }
  t.kind = TopicKind::telemetry;
  t.device = device;
  t.module = module;
  t.bag = rest;
  return t;
}

// "?{query}" carrying a non-empty $rid.
bool rid_query(std::string_view rest, InboundTopic& t) {
  if (!consume(rest, "?")) return false;
  const auto rid = request_id(rest);
  if (!rid || rid->empty()) return false;
  t.query = rest;
  t.rid = *rid;
  return true;
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc{} || ptr != end || text.empty()) return std::nullopt;
  return v;
}

}  // namespace

InboundTopic classify_publish_topic(std::string_view topic) {
  std::string_view rest = topic;
  InboundTopic t;
  if (consume(rest, "devices/")) {
    std::string_view device;
    std::string_view module;
    if (!segment(rest, device)) return t;
    if (consume(rest, "modules/")) {
      if (!segment(rest, module)) return t;
    }
    if (!consume(rest, "messages/events")) return t;
    return telemetry(device, module, rest);
  }
  if (consume(rest, "$iothub/twin/")) {
    if (consume(rest, "GET/")) {
      if (rid_query(rest, t)) t.kind = TopicKind::twin_get;
    } else if (consume(rest, "PATCH/properties/reported/")) {
      if (rid_query(rest, t)) t.kind = TopicKind::twin_reported_patch;
    }
    return t;
  }
  if (consume(rest, "$iothub/methods/res/")) {
    std::string_view status;
    if (!segment(rest, status)) return t;
    const auto value = parse_int(status);
    if (!value || *value < std::numeric_limits<int>::min() ||
        *value > std::numeric_limits<int>::max()) {
      return t;
    }
    if (!rid_query(rest, t)) return t;
    t.status = static_cast<int>(*value);
    t.kind = TopicKind::method_response;
    return t;
  }
  return t;
}

SubscriptionFilter classify_subscription(std::string_view filter) {
  SubscriptionFilter f;
  if (filter == "$iothub/methods/POST/#") {
    f.kind = FilterKind::methods;
  } else if (filter == "$iothub/twin/res/#") {
    f.kind = FilterKind::twin_responses;
  } else if (filter == "$iothub/twin/PATCH/properties/desired/#") {
    f.kind = FilterKind::twin_desired;
  } else {
    std::string_view rest = filter;
    std::string_view device;
    std::string_view module;
    if (!consume(rest, "devices/") || !segment(rest, device)) return f;
    if (device.find_first_of("+#") != std::string_view::npos) {
      // Only the embedded C SDK's C2D filter may leave the device open.
      if (device != "+" || rest != "messages/devicebound/#") return f;
      f.kind = FilterKind::c2d;
      f.any_device = true;
      return f;
    }
    if (rest == "messages/devicebound/#") {
      f.kind = FilterKind::c2d;
    } else if (consume(rest, "modules/") && segment(rest, module) &&
               module.find_first_of("+#") == std::string_view::npos) {
      if (rest == "inputs/#" || rest == "#") {
        f.kind = FilterKind::module_inputs;
      } else if (rest == "messages/devicebound/#") {
        f.kind = FilterKind::module_c2d;
      } else {
        return SubscriptionFilter{};
      }
      f.module = module;
    } else {
      return SubscriptionFilter{};
    }
    f.device = device;
  }
  return f;
}

bool may_publish(const InboundTopic& topic, const core::ClientId& identity) {
  switch (topic.kind) {
    case TopicKind::telemetry:
      return topic.device == identity.device && topic.module == identity.module;
    case TopicKind::twin_get:
    case TopicKind::twin_reported_patch:
    case TopicKind::method_response:
      return true;
    case TopicKind::unknown:
      return false;
  }
  return false;
}

bool may_subscribe(const SubscriptionFilter& filter, const core::ClientId& identity) {
  switch (filter.kind) {
    case FilterKind::c2d:
      return !identity.is_module() && (filter.any_device || filter.device == identity.device);
    case FilterKind::module_inputs:
    case FilterKind::module_c2d:
      return identity.is_module() && filter.device == identity.device &&
             filter.module == identity.module;
    case FilterKind::methods:
    case FilterKind::twin_responses:
    case FilterKind::twin_desired:
      return true;
    case FilterKind::unknown:
      return false;
  }
  return false;
}

mqtt_proto::QoS granted_qos(mqtt_proto::QoS requested) noexcept {
  return requested == mqtt_proto::QoS::at_most_once ? mqtt_proto::QoS::at_most_once
                                                    : mqtt_proto::QoS::at_least_once;
}

std::string c2d_topic(std::string_view device, std::string_view bag) {
  std::string t = "devices/";
  t.append(device).append("/messages/devicebound/").append(bag);
  return t;
}

std::string module_c2d_topic(std::string_view device, std::string_view module,
                             std::string_view bag) {
  std::string t = "devices/";
  t.append(device).append("/modules/").append(module).append("/messages/devicebound/").append(bag);
  return t;
}

std::string module_input_topic(std::string_view device, std::string_view module,
                               std::string_view input, std::string_view bag) {
  std::string t = "devices/";
  t.append(device).append("/modules/").append(module).append("/inputs/").append(input);
  t.append("/").append(bag);
  return t;
}

std::string twin_response_topic(int status, std::string_view rid,
                                std::optional<std::int64_t> version) {
  std::string t = "$iothub/twin/res/";
  t.append(std::to_string(status)).append("/?$rid=").append(rid);
  if (version) t.append("&$version=").append(std::to_string(*version));
  return t;
}

std::string desired_patch_topic(std::int64_t version) {
  return "$iothub/twin/PATCH/properties/desired/?$version=" + std::to_string(version);
}

std::string method_request_topic(std::string_view method, std::string_view rid) {
  std::string t = "$iothub/methods/POST/";
  t.append(method).append("/?$rid=").append(rid);
  return t;
}

std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
  std::size_t start = 0;
  while (start <= query.size()) {
    auto end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const auto pair = query.substr(start, end - start);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<std::string_view> request_id(std::string_view query) {
  return query_value(query, "$rid");
}

std::optional<std::int64_t> twin_version(std::string_view query) {
  const auto v = query_value(query, "$version");
  if (!v) return std::nullopt;
  return parse_int(*v);
}

}  // namespace edgehub::mqtt
