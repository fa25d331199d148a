#include "edgehub/mqtt/property_bag.hpp"

#include <array>

#include "edgehub/core/hex.hpp"
#include "edgehub/mqtt_proto/codec.hpp"

namespace edgehub::mqtt {
namespace {

using core::SystemProperty;

struct SystemKey {
  std::string_view key;
  SystemProperty property;
};

// Bag keys a device may set (edgeHub Core/SystemProperties.cs, iot-hub-protocol.md §6).
constexpr std::array<SystemKey, 14> kInboundKeys = {{
    {"$.mid", SystemProperty::message_id},
    {"$.cid", SystemProperty::correlation_id},
    {"$.uid", SystemProperty::user_id},
    {"$.to", SystemProperty::to},
    {"$.exp", SystemProperty::absolute_expiry_time},
    {"$.ct", SystemProperty::content_type},
    {"$.ce", SystemProperty::content_encoding},
    {"$.ctime", SystemProperty::creation_time},
    {"$.on", SystemProperty::output_name},
    {"$.ifid", SystemProperty::interface_id},
    {"$.sub", SystemProperty::component},
    {"$.schema", SystemProperty::message_schema},
    {"iothub-ack", SystemProperty::ack},
    {"iothub-operation", SystemProperty::operation},
}};

// What IoT Hub sends to devices, in the order the Node SDK writes them.
constexpr std::array<SystemKey, 7> kOutboundKeys = {{
    {"$.mid", SystemProperty::message_id},
    {"$.cid", SystemProperty::correlation_id},
    {"$.uid", SystemProperty::user_id},
    {"$.to", SystemProperty::to},
    {"$.ct", SystemProperty::content_type},
    {"$.ce", SystemProperty::content_encoding},
    {"$.exp", SystemProperty::absolute_expiry_time},
}};

bool unreserved(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

void append_pair(std::string& out, std::string_view name, const std::optional<std::string>& value) {
  if (!out.empty()) out += '&';
  out += percent_encode(name);
  if (value) {
    out += '=';
    out += percent_encode(*value);
  }
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = core::hex_digit_value(text[i + 1]);
      const int lo = core::hex_digit_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (unreserved(c)) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
    }
  }
  return out;
}

core::Result<void> decode_property_bag(std::string_view bag, core::Message& message) {
  std::size_t start = 0;
  while (start <= bag.size()) {
    auto end = bag.find('&', start);
    if (end == std::string_view::npos) end = bag.size();
    const auto pair = bag.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;

    const auto eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), true);
    if (!name || name->empty() || !mqtt_proto::validate_utf8(*name)) {
      return NamingErrc::invalid_property_bag;
    }
    std::optional<std::string> value;
    if (eq != std::string_view::npos) {
      value = percent_decode(pair.substr(eq + 1), true);
      if (!value || !mqtt_proto::validate_utf8(*value)) return NamingErrc::invalid_property_bag;
    }

    // The gateway stamps the connection identity; a device's claim is not trusted.
    if (core::iequals(*name, "$.cdid") || core::iequals(*name, "$.cmid")) continue;

    bool system = false;
    for (const auto& k : kInboundKeys) {
      if (core::iequals(*name, k.key)) {
        if (value) message.sys_prop(k.property) = std::move(*value);
        system = true;
        break;
      }
    }
    if (!system) message.set_app(std::move(*name), std::move(value));
  }
  return {};
}

std::string encode_property_bag(const core::Message& message, BagTarget target) {
  std::string out;
  for (const auto& k : kOutboundKeys) {
    if (const auto& v = message.sys_prop(k.property)) append_pair(out, k.key, v);
  }
  if (target == BagTarget::module_input) {
    if (const auto& d = message.sys_prop(SystemProperty::connection_device_id)) {
      append_pair(out, "$.cdid", d);
    }
    if (const auto& m = message.sys_prop(SystemProperty::connection_module_id)) {
      append_pair(out, "$.cmid", m);
    }
  }
  if (const auto& ack = message.sys_prop(SystemProperty::ack)) append_pair(out, "iothub-ack", ack);
  for (const auto& p : message.app)
    append_pair(out, p.name, p.value);
  return out;
}

}  // namespace edgehub::mqtt
