#include "edgehub/amqp_core/message_codec.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <ctime>

#include "amqp_core/pn_util.hpp"
#include "edgehub/amqp_core/errors.hpp"
#include "edgehub/core/hex.hpp"
#include "edgehub/core/uuid.hpp"

namespace edgehub::amqp_core {

using core::SystemProperty;
using detail::bytes_of;
using detail::view;

namespace detail {

std::optional<std::string> scalar_text(pn_data_t* data) {
  switch (pn_data_type(data)) {
    case PN_STRING:
      return std::string(view(pn_data_get_string(data)));
    case PN_SYMBOL:
      return std::string(view(pn_data_get_symbol(data)));
    case PN_BINARY:
      return std::string(view(pn_data_get_binary(data)));
    case PN_BOOL:
      return pn_data_get_bool(data) ? "true" : "false";
    case PN_UBYTE:
      return std::to_string(pn_data_get_ubyte(data));
    case PN_BYTE:
      return std::to_string(pn_data_get_byte(data));
    case PN_USHORT:
      return std::to_string(pn_data_get_ushort(data));
    case PN_SHORT:
      return std::to_string(pn_data_get_short(data));
    case PN_UINT:
      return std::to_string(pn_data_get_uint(data));
    case PN_INT:
      return std::to_string(pn_data_get_int(data));
    case PN_CHAR:
      return std::to_string(pn_data_get_char(data));
    case PN_ULONG:
      return std::to_string(pn_data_get_ulong(data));
    case PN_LONG:
      return std::to_string(pn_data_get_long(data));
    case PN_TIMESTAMP:
      return format_timestamp_ms(pn_data_get_timestamp(data));
    case PN_FLOAT:
      return std::to_string(pn_data_get_float(data));
    case PN_DOUBLE:
      return std::to_string(pn_data_get_double(data));
    case PN_UUID: {
      const auto u = pn_data_get_uuid(data);
      std::array<std::uint8_t, 16> bytes{};
      std::memcpy(bytes.data(), u.bytes, 16);
      return core::format_uuid(bytes);
    }
    default:
      return std::nullopt;
  }
}

}  // namespace detail

namespace {

std::optional<MessageId> read_id(pn_atom_t atom) {
  switch (atom.type) {
    case PN_STRING:
      return MessageId{MessageId::Type::string, std::string(view(atom.u.as_bytes))};
    case PN_ULONG:
      return MessageId{MessageId::Type::ulong, std::to_string(atom.u.as_ulong)};
    case PN_BINARY:
      return MessageId{MessageId::Type::binary, std::string(view(atom.u.as_bytes))};
    case PN_UUID: {
      std::array<std::uint8_t, 16> bytes{};
      std::memcpy(bytes.data(), atom.u.as_uuid.bytes, 16);
      return MessageId{MessageId::Type::uuid, core::format_uuid(bytes)};
    }
    default:
      return std::nullopt;
  }
}

bool parse_uuid(std::string_view text, pn_uuid_t& out) {
  if (text.size() != 36) return false;
  std::size_t byte = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
      ++i;
      continue;
    }
    const int hi = core::hex_digit_value(text[i]);
    const int lo = core::hex_digit_value(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.bytes[byte++] = static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return byte == 16;
}

void put_id(pn_data_t* data, const MessageId& id) {
  pn_data_clear(data);
  switch (id.type) {
    case MessageId::Type::ulong: {
      std::uint64_t v = 0;
      const auto* end = id.text.data() + id.text.size();
      if (std::from_chars(id.text.data(), end, v).ptr == end) {
        pn_data_put_ulong(data, v);
        return;
      }
      break;
    }
    case MessageId::Type::uuid: {
      pn_uuid_t u{};
      if (parse_uuid(id.text, u)) {
        pn_data_put_uuid(data, u);
        return;
      }
      break;
    }
    case MessageId::Type::binary:
      pn_data_put_binary(data, bytes_of(id.text));
      return;
    case MessageId::Type::string:
      break;
  }
  pn_data_put_string(data, bytes_of(id.text));
}

void put_extra(pn_data_t* data, const ExtraValue& value) {
  std::visit(
      [data](const auto& v) {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::string>) {
          pn_data_put_string(data, bytes_of(v));
        } else if constexpr (std::is_same_v<V, std::int32_t>) {
          pn_data_put_int(data, v);
        } else {
          pn_data_put_long(data, v);
        }
      },
      value);
}

// Application properties IoT Hub treats as system properties (iot-hub-protocol.md §3.4, §6).
struct ReservedProperty {
  std::string_view name;
  SystemProperty property;
};
constexpr ReservedProperty kReservedAppProperties[] = {
    {"iothub-outputname", SystemProperty::output_name},
    {"iothub-creation-time-utc", SystemProperty::creation_time},
    {"iothub-message-schema", SystemProperty::message_schema},
    {"iothub-ack", SystemProperty::ack},
};
constexpr ReservedProperty kAnnotationProperties[] = {
    {"iothub-interface-id", SystemProperty::interface_id},
    {"dt-subject", SystemProperty::component},
    {"x-opt-output-name", SystemProperty::output_name},
};

core::Result<void> read_application_properties(pn_data_t* data, core::Message& message) {
  pn_data_rewind(data);
  if (!pn_data_next(data)) return {};
  if (pn_data_type(data) != PN_MAP) return Errc::malformed_message;
  const auto count = pn_data_get_map(data);
  pn_data_enter(data);
  for (std::size_t i = 0; i + 1 < count; i += 2) {
    if (!pn_data_next(data)) break;
    const auto key_type = pn_data_type(data);
    if (key_type != PN_STRING && key_type != PN_SYMBOL) return Errc::invalid_property;
    std::string key(
        view(key_type == PN_STRING ? pn_data_get_string(data) : pn_data_get_symbol(data)));
    if (!pn_data_next(data)) break;
    std::optional<std::string> value;
    if (pn_data_type(data) != PN_NULL) {
      value = detail::scalar_text(data);
      if (!value) return Errc::invalid_property;
    }
    bool reserved = false;
    for (const auto& r : kReservedAppProperties) {
      if (core::iequals(key, r.name)) {
        message.sys_prop(r.property) = std::move(value);
        reserved = true;
        break;
      }
    }
    if (!reserved) message.set_app(std::move(key), std::move(value));
  }
  pn_data_exit(data);
  return {};
}

core::Result<void> read_annotations(pn_data_t* data, DecodedMessage& out) {
  pn_data_rewind(data);
  if (!pn_data_next(data)) return {};
  if (pn_data_type(data) != PN_MAP) return Errc::malformed_message;
  const auto count = pn_data_get_map(data);
  pn_data_enter(data);
  for (std::size_t i = 0; i + 1 < count; i += 2) {
    if (!pn_data_next(data)) break;
    const auto key_type = pn_data_type(data);
    std::optional<std::string> key;
    if (key_type == PN_SYMBOL || key_type == PN_STRING) key = detail::scalar_text(data);
    if (!pn_data_next(data)) break;
    if (!key) continue;  // ulong keys are reserved by the AMQP spec; nothing of ours uses them
    auto value = detail::scalar_text(data);
    if (!value) continue;
    for (const auto& r : kAnnotationProperties) {
      if (core::iequals(*key, r.name)) out.message.sys_prop(r.property) = *value;
    }
    out.annotations.emplace_back(std::move(*key), std::move(*value));
  }
  pn_data_exit(data);
  return {};
}

core::Result<void> read_body(pn_data_t* data, core::Message& message) {
  pn_data_rewind(data);
  if (!pn_data_next(data)) return {};
  switch (pn_data_type(data)) {
    case PN_BINARY: {
      const auto b = view(pn_data_get_binary(data));
      message.body.resize(b.size());
      if (!b.empty()) std::memcpy(message.body.data(), b.data(), b.size());
      return {};
    }
    case PN_STRING:
      message.set_body(view(pn_data_get_string(data)));
      return {};
    case PN_NULL:
      return {};
    default:
      return Errc::malformed_message;
  }
}

void set_text(std::optional<std::string>& slot, const char* value) {
  if (value) slot = std::string(value);
}

}  // namespace

const std::string* DecodedMessage::annotation(std::string_view key) const noexcept {
  for (const auto& [k, v] : annotations) {
    if (core::iequals(k, key)) return &v;
  }
  return nullptr;
}

core::Result<DecodedMessage> decode_message(std::span<const std::byte> encoded) {
  // Proton asserts (aborts) on an empty input: an empty transfer is simply not a message.
  if (encoded.empty()) return Errc::malformed_message;
  detail::MessagePtr msg(pn_message());
  if (!msg) return Errc::internal_error;
  if (pn_message_decode(msg.get(), reinterpret_cast<const char*>(encoded.data()), encoded.size()) !=
      0) {
    return Errc::malformed_message;
  }
  DecodedMessage out;
  auto& m = out.message;
  out.message_id = read_id(pn_message_get_id(msg.get()));
  out.correlation_id = read_id(pn_message_get_correlation_id(msg.get()));
  if (out.message_id) m.sys_prop(SystemProperty::message_id) = out.message_id->text;
  if (out.correlation_id) m.sys_prop(SystemProperty::correlation_id) = out.correlation_id->text;
  if (const auto user = pn_message_get_user_id(msg.get()); user.size > 0) {
    m.sys_prop(SystemProperty::user_id) = std::string(view(user));
  }
  set_text(m.sys_prop(SystemProperty::to), pn_message_get_address(msg.get()));
  set_text(m.sys_prop(SystemProperty::content_type), pn_message_get_content_type(msg.get()));
  set_text(m.sys_prop(SystemProperty::content_encoding),
           pn_message_get_content_encoding(msg.get()));
  if (const char* reply_to = pn_message_get_reply_to(msg.get())) out.reply_to = reply_to;
  if (const auto expiry = pn_message_get_expiry_time(msg.get()); expiry != 0) {
    m.sys_prop(SystemProperty::absolute_expiry_time) = format_timestamp_ms(expiry);
  }
  if (auto r = read_application_properties(pn_message_properties(msg.get()), m); !r) {
    return r.error();
  }
  if (auto r = read_annotations(pn_message_annotations(msg.get()), out); !r) return r.error();
  if (auto r = read_body(pn_message_body(msg.get()), m); !r) return r.error();
  return out;
}

core::Result<std::vector<std::byte>> encode_message(const core::Message& message,
                                                    const OutboundExtras& extras) {
  detail::MessagePtr msg(pn_message());
  if (!msg) return Errc::internal_error;
  auto* m = msg.get();
  auto text_id = [](const std::optional<std::string>& value) {
    // Ids that look like UUIDs travel as AMQP uuids, as the SDKs send them (iot-hub-protocol.md
    // §3.4); the receiving SDK turns them back into the same text.
    pn_uuid_t probe{};
    return MessageId{
        value && parse_uuid(*value, probe) ? MessageId::Type::uuid : MessageId::Type::string,
        value.value_or("")};
  };
  if (const auto& id = message.sys_prop(SystemProperty::message_id)) {
    put_id(pn_message_id(m), text_id(id));
  }
  if (extras.correlation_id) {
    put_id(pn_message_correlation_id(m), *extras.correlation_id);
  } else if (const auto& cid = message.sys_prop(SystemProperty::correlation_id)) {
    put_id(pn_message_correlation_id(m), text_id(cid));
  }
  if (const auto& user = message.sys_prop(SystemProperty::user_id)) {
    pn_message_set_user_id(m, bytes_of(*user));
  }
  if (const auto& to = message.sys_prop(SystemProperty::to)) {
    pn_message_set_address(m, to->c_str());
  }
  if (const auto& ct = message.sys_prop(SystemProperty::content_type)) {
    pn_message_set_content_type(m, ct->c_str());
  }
  if (const auto& ce = message.sys_prop(SystemProperty::content_encoding)) {
    pn_message_set_content_encoding(m, ce->c_str());
  }
  if (const auto& exp = message.sys_prop(SystemProperty::absolute_expiry_time)) {
    if (auto ms = parse_timestamp_ms(*exp)) pn_message_set_expiry_time(m, *ms);
  }

  auto* props = pn_message_properties(m);
  pn_data_put_map(props);
  pn_data_enter(props);
  for (const auto& p : message.app) {
    pn_data_put_string(props, bytes_of(p.name));
    if (p.value) {
      pn_data_put_string(props, bytes_of(*p.value));
    } else {
      pn_data_put_null(props);
    }
  }
  for (const auto& r : kReservedAppProperties) {
    if (r.property == SystemProperty::output_name) continue;  // never sent to a device
    if (const auto& v = message.sys_prop(r.property)) {
      pn_data_put_string(props, bytes_of(r.name));
      pn_data_put_string(props, bytes_of(*v));
    }
  }
  for (const auto& [name, value] : extras.typed_properties) {
    pn_data_put_string(props, bytes_of(name));
    put_extra(props, value);
  }
  pn_data_exit(props);

  auto* annotations = pn_message_annotations(m);
  pn_data_put_map(annotations);
  pn_data_enter(annotations);
  if (extras.include_system_annotations) {
    const std::pair<std::string_view, SystemProperty> stamped[] = {
        {"iothub-connection-device-id", SystemProperty::connection_device_id},
        {"iothub-connection-module-id", SystemProperty::connection_module_id},
        {"iothub-interface-id", SystemProperty::interface_id},
        {"dt-subject", SystemProperty::component},
    };
    for (const auto& [name, property] : stamped) {
      if (const auto& v = message.sys_prop(property)) {
        pn_data_put_symbol(annotations, bytes_of(name));
        pn_data_put_string(annotations, bytes_of(*v));
      }
    }
  }
  for (const auto& [name, value] : extras.annotations) {
    pn_data_put_symbol(annotations, bytes_of(name));
    put_extra(annotations, value);
  }
  pn_data_exit(annotations);

  auto* body = pn_message_body(m);
  pn_data_put_binary(
      body, pn_bytes(message.body.size(), reinterpret_cast<const char*>(message.body.data())));
  pn_message_set_inferred(m, true);  // a binary body with inferred = one data section

  std::vector<std::byte> out(message.body.size() + 512);
  for (;;) {
    std::size_t size = out.size();
    const int rc = pn_message_encode(m, reinterpret_cast<char*>(out.data()), &size);
    if (rc == 0) {
      out.resize(size);
      return out;
    }
    if (rc != PN_OVERFLOW || out.size() > (std::size_t{1} << 30)) return Errc::internal_error;
    out.resize(out.size() * 2);
  }
}

std::string format_timestamp_ms(std::int64_t ms) {
  auto secs = static_cast<std::time_t>(ms / 1000);
  auto millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", millis);
  return buf;
}

std::optional<std::int64_t> parse_timestamp_ms(std::string_view text) {
  std::tm tm{};
  int millis = 0;
  auto number = [&](std::size_t pos, std::size_t len, int& out) {
    if (pos + len > text.size()) return false;
    const auto* first = text.data() + pos;
    return std::from_chars(first, first + len, out).ptr == first + len;
  };
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text.back() != 'Z') {
    return std::nullopt;
  }
  if (!number(0, 4, tm.tm_year) || !number(5, 2, tm.tm_mon) || !number(8, 2, tm.tm_mday) ||
      !number(11, 2, tm.tm_hour) || !number(14, 2, tm.tm_min) || !number(17, 2, tm.tm_sec)) {
    return std::nullopt;
  }
  if (text.size() > 20) {
    if (text[19] != '.') return std::nullopt;
    const auto digits = text.substr(20, text.size() - 21);
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    int fraction = 0;
    if (!number(20, digits.size(), fraction)) return std::nullopt;
    for (auto n = digits.size(); n < 3; ++n)
      fraction *= 10;
    for (auto n = digits.size(); n > 3; --n)
      fraction /= 10;
    millis = fraction;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const auto secs = timegm(&tm);
  if (secs == -1) return std::nullopt;
  return static_cast<std::int64_t>(secs) * 1000 + millis;
}

}  // namespace edgehub::amqp_core
