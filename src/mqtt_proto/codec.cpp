#include "edgehub/mqtt_proto/codec.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace edgehub::mqtt_proto {
namespace {

using core::Result;

constexpr std::size_t kMaxStringLength = 65'535;

// Fixed-header flag nibble every packet type must carry (MQTT 3.1.1 §2.2.2); PUBLISH is checked
// separately because its flags carry DUP/QoS/RETAIN.
constexpr std::uint8_t required_flags(PacketType t) noexcept {
  switch (t) {
    case PacketType::pubrel:
    case PacketType::subscribe:
    case PacketType::unsubscribe:
      return 0x2;
    default:
      return 0x0;
  }
}

// --- Reading ------------------------------------------------------------------------------------

class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}

  std::size_t remaining() const noexcept { return in_.size() - pos_; }

  Result<std::uint8_t> u8() {
    if (remaining() < 1) return Errc::truncated_packet;
    return std::to_integer<std::uint8_t>(in_[pos_++]);
  }
  Result<std::uint16_t> u16() {
    if (remaining() < 2) return Errc::truncated_packet;
    const auto hi = std::to_integer<std::uint16_t>(in_[pos_]);
    const auto lo = std::to_integer<std::uint16_t>(in_[pos_ + 1]);
    pos_ += 2;
    return static_cast<std::uint16_t>((hi << 8) | lo);
  }
  Result<std::uint16_t> packet_id() {
    auto id = u16();
    if (id && *id == 0) return Errc::zero_packet_id;
    return id;
  }
  Result<std::span<const std::byte>> raw(std::size_t n) {
    if (remaining() < n) return Errc::truncated_packet;
    auto s = in_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  Result<std::span<const std::byte>> prefixed() {
    auto len = u16();
    if (!len) return len.error();
    return raw(*len);
  }
  Result<std::string> string() {
    auto bytes = prefixed();
    if (!bytes) return bytes.error();
    std::string s(reinterpret_cast<const char*>(bytes->data()), bytes->size());
    if (auto ok = validate_utf8(s); !ok) return ok.error();
    return s;
  }
  Result<std::vector<std::byte>> binary() {
    auto bytes = prefixed();
    if (!bytes) return bytes.error();
    return std::vector<std::byte>(bytes->begin(), bytes->end());
  }
  std::span<const std::byte> rest() {
    auto s = in_.subspan(pos_);
    pos_ = in_.size();
    return s;
  }
  Result<void> finish() const {
    if (remaining() != 0) return Errc::trailing_bytes;
    return {};
  }

 private:
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
};

// Unwraps a Result into `var` or returns its error from the enclosing function.
#define EDGEHUB_MQTT_TRY(var, expr)     \
  auto var##_r = (expr);                \
  if (!var##_r) return var##_r.error(); \
  auto var = std::move(*var##_r)

Result<Packet> decode_connect(Reader& r) {
  auto name = r.prefixed();
  if (!name) return name.error();
  const std::string_view name_text(reinterpret_cast<const char*>(name->data()), name->size());
  EDGEHUB_MQTT_TRY(level, r.u8());
  // A 3.1 client ("MQIsdp", level 3) gets CONNACK 0x01 like any other version we do not speak;
  // a name that is no MQTT at all is not worth an answer.
  if (name_text == "MQIsdp") return Errc::unacceptable_protocol_version;
  if (name_text != "MQTT") return Errc::invalid_protocol_name;
  if (level != 4) return Errc::unacceptable_protocol_version;

  EDGEHUB_MQTT_TRY(flags, r.u8());
  const bool has_user = (flags & 0x80) != 0;
  const bool has_password = (flags & 0x40) != 0;
  const bool will_retain = (flags & 0x20) != 0;
  const std::uint8_t will_qos = (flags >> 3) & 0x3;
  const bool has_will = (flags & 0x04) != 0;
  if ((flags & 0x01) != 0) return Errc::invalid_connect_flags;  // MQTT-3.1.2-3
  if (will_qos == 3) return Errc::invalid_qos;                  // MQTT-3.1.2-14
  if (!has_will && (will_qos != 0 || will_retain)) {
    return Errc::invalid_connect_flags;  // MQTT-3.1.2-13, -15
  }
  if (has_password && !has_user) return Errc::invalid_connect_flags;  // MQTT-3.1.2-22

  Connect c;
  c.clean_session = (flags & 0x02) != 0;
  EDGEHUB_MQTT_TRY(keep_alive, r.u16());
  c.keep_alive = keep_alive;
  EDGEHUB_MQTT_TRY(client_id, r.string());
  c.client_id = std::move(client_id);
  if (has_will) {
    Will w;
    EDGEHUB_MQTT_TRY(topic, r.string());
    if (auto ok = validate_topic_name(topic); !ok) return ok.error();
    w.topic = std::move(topic);
    EDGEHUB_MQTT_TRY(payload, r.binary());
    w.payload = std::move(payload);
    w.qos = static_cast<QoS>(will_qos);
    w.retain = will_retain;
    c.will = std::move(w);
  }
  if (has_user) {
    EDGEHUB_MQTT_TRY(user, r.string());
    c.username = std::move(user);
  }
  if (has_password) {
    EDGEHUB_MQTT_TRY(password, r.binary());
    c.password = std::move(password);
  }
  if (auto ok = r.finish(); !ok) return ok.error();
  return Packet{std::move(c)};
}

Result<Packet> decode_connack(Reader& r) {
  EDGEHUB_MQTT_TRY(flags, r.u8());
  EDGEHUB_MQTT_TRY(code, r.u8());
  if (auto ok = r.finish(); !ok) return ok.error();
  if ((flags & 0xFE) != 0) return Errc::invalid_connect_flags;  // MQTT-3.2.2 reserved bits
  if (code > 5) return Errc::invalid_return_code;
  const bool session_present = (flags & 0x01) != 0;
  if (session_present && code != 0) return Errc::invalid_return_code;  // MQTT-3.2.2-4
  return Packet{Connack{session_present, static_cast<ConnectReturnCode>(code)}};
}

Result<Packet> decode_publish(const FixedHeader& h, Reader& r, std::uint32_t max_payload) {
  Publish p;
  p.dup = (h.flags & 0x8) != 0;
  p.qos = static_cast<QoS>((h.flags >> 1) & 0x3);
  p.retain = (h.flags & 0x1) != 0;
  EDGEHUB_MQTT_TRY(topic, r.string());
  if (auto ok = validate_topic_name(topic); !ok) return ok.error();
  p.topic = std::move(topic);
  if (p.qos != QoS::at_most_once) {
    EDGEHUB_MQTT_TRY(id, r.packet_id());
    p.packet_id = id;
  }
  auto payload = r.rest();
  if (payload.size() > max_payload) return Errc::packet_too_large;
  p.payload.assign(payload.begin(), payload.end());
  return Packet{std::move(p)};
}

template <typename Ack>
Result<Packet> decode_ack(Reader& r) {
  EDGEHUB_MQTT_TRY(id, r.packet_id());
  if (auto ok = r.finish(); !ok) return ok.error();
  return Packet{Ack{id}};
}

Result<QoS> decode_requested_qos(std::uint8_t byte) {
  if ((byte & 0xFC) != 0 || byte == 3) return Errc::invalid_qos;  // MQTT-3.8.3-4
  return static_cast<QoS>(byte);
}

Result<Packet> decode_subscribe(Reader& r) {
  Subscribe s;
  EDGEHUB_MQTT_TRY(id, r.packet_id());
  s.packet_id = id;
  while (r.remaining() > 0) {
    EDGEHUB_MQTT_TRY(filter, r.string());
    if (auto ok = validate_topic_filter(filter); !ok) return ok.error();
    EDGEHUB_MQTT_TRY(byte, r.u8());
    EDGEHUB_MQTT_TRY(qos, decode_requested_qos(byte));
    s.subscriptions.push_back({std::move(filter), qos});
  }
  if (s.subscriptions.empty()) return Errc::empty_subscription;  // MQTT-3.8.3-3
  return Packet{std::move(s)};
}

Result<Packet> decode_suback(Reader& r) {
  Suback s;
  EDGEHUB_MQTT_TRY(id, r.packet_id());
  s.packet_id = id;
  auto codes = r.rest();
  if (codes.empty()) return Errc::empty_subscription;
  for (std::byte b : codes) {
    const auto code = std::to_integer<std::uint8_t>(b);
    if (code > 2 && code != kSubackFailure) return Errc::invalid_return_code;
    s.return_codes.push_back(code);
  }
  return Packet{std::move(s)};
}

Result<Packet> decode_unsubscribe(Reader& r) {
  Unsubscribe u;
  EDGEHUB_MQTT_TRY(id, r.packet_id());
  u.packet_id = id;
  while (r.remaining() > 0) {
    EDGEHUB_MQTT_TRY(filter, r.string());
    if (auto ok = validate_topic_filter(filter); !ok) return ok.error();
    u.filters.push_back(std::move(filter));
  }
  if (u.filters.empty()) return Errc::empty_subscription;  // MQTT-3.10.3-2
  return Packet{std::move(u)};
}

template <typename Empty>
Result<Packet> decode_empty(Reader& r) {
  if (auto ok = r.finish(); !ok) return ok.error();
  return Packet{Empty{}};
}

// --- Writing ------------------------------------------------------------------------------------

// Bodies are written twice with the same code: once to count the Remaining Length, once to emit,
// so a 256 KiB payload is copied only once into the output.
struct Counter {
  std::size_t n = 0;
  void u8(std::uint8_t) { n += 1; }
  void u16(std::uint16_t) { n += 2; }
  void bytes(const void*, std::size_t size) { n += size; }
};

struct Appender {
  std::vector<std::byte>& out;
  void u8(std::uint8_t v) { out.push_back(std::byte{v}); }
  void u16(std::uint16_t v) {
    out.push_back(std::byte{static_cast<std::uint8_t>(v >> 8)});
    out.push_back(std::byte{static_cast<std::uint8_t>(v & 0xFF)});
  }
  void bytes(const void* data, std::size_t size) {
    const auto* p = static_cast<const std::byte*>(data);
    out.insert(out.end(), p, p + size);
  }
};

template <typename W>
void put_string(W& w, std::string_view s) {
  w.u16(static_cast<std::uint16_t>(s.size()));
  w.bytes(s.data(), s.size());
}
template <typename W>
void put_binary(W& w, const std::vector<std::byte>& b) {
  w.u16(static_cast<std::uint16_t>(b.size()));
  w.bytes(b.data(), b.size());
}

std::uint8_t connect_flags(const Connect& c) {
  std::uint8_t f = 0;
  if (c.username) f |= 0x80;
  if (c.password) f |= 0x40;
  if (c.will) {
    f |= 0x04;
    f |= static_cast<std::uint8_t>(static_cast<std::uint8_t>(c.will->qos) << 3);
    if (c.will->retain) f |= 0x20;
  }
  if (c.clean_session) f |= 0x02;
  return f;
}

template <typename W>
struct BodyWriter {
  W& w;
  void operator()(const Connect& c) {
    put_string(w, "MQTT");
    w.u8(4);
    w.u8(connect_flags(c));
    w.u16(c.keep_alive);
    put_string(w, c.client_id);
    if (c.will) {
      put_string(w, c.will->topic);
      put_binary(w, c.will->payload);
    }
    if (c.username) put_string(w, *c.username);
    if (c.password) put_binary(w, *c.password);
  }
  void operator()(const Connack& c) {
    w.u8(c.session_present ? 1 : 0);
    w.u8(static_cast<std::uint8_t>(c.return_code));
  }
  void operator()(const Publish& p) {
    put_string(w, p.topic);
    if (p.qos != QoS::at_most_once) w.u16(p.packet_id);
    w.bytes(p.payload.data(), p.payload.size());
  }
  void operator()(const Puback& a) { w.u16(a.packet_id); }
  void operator()(const Pubrec& a) { w.u16(a.packet_id); }
  void operator()(const Pubrel& a) { w.u16(a.packet_id); }
  void operator()(const Pubcomp& a) { w.u16(a.packet_id); }
  void operator()(const Unsuback& a) { w.u16(a.packet_id); }
  void operator()(const Subscribe& s) {
    w.u16(s.packet_id);
    for (const auto& sub : s.subscriptions) {
      put_string(w, sub.filter);
      w.u8(static_cast<std::uint8_t>(sub.qos));
    }
  }
  void operator()(const Suback& s) {
    w.u16(s.packet_id);
    w.bytes(s.return_codes.data(), s.return_codes.size());
  }
  void operator()(const Unsubscribe& u) {
    w.u16(u.packet_id);
    for (const auto& f : u.filters)
      put_string(w, f);
  }
  void operator()(const Pingreq&) {}
  void operator()(const Pingresp&) {}
  void operator()(const Disconnect&) {}
};

Result<void> check_string(std::string_view s) {
  if (s.size() > kMaxStringLength) return Errc::value_too_long;
  return validate_utf8(s);
}

Result<void> check_qos(QoS q) {
  if (static_cast<std::uint8_t>(q) > 2) return Errc::invalid_qos;
  return {};
}

#define EDGEHUB_MQTT_CHECK(expr) \
  if (auto ok_ = (expr); !ok_) return ok_.error()

// The encoder's mirror of the decoder's rules.
struct Validator {
  Result<void> operator()(const Connect& c) const {
    EDGEHUB_MQTT_CHECK(check_string(c.client_id));
    if (c.will) {
      EDGEHUB_MQTT_CHECK(check_string(c.will->topic));
      EDGEHUB_MQTT_CHECK(validate_topic_name(c.will->topic));
      EDGEHUB_MQTT_CHECK(check_qos(c.will->qos));
      if (c.will->payload.size() > kMaxStringLength) return Errc::value_too_long;
    }
    if (c.username) EDGEHUB_MQTT_CHECK(check_string(*c.username));
    if (c.password) {
      if (!c.username) return Errc::invalid_connect_flags;
      if (c.password->size() > kMaxStringLength) return Errc::value_too_long;
    }
    return {};
  }
  Result<void> operator()(const Connack& c) const {
    const auto code = static_cast<std::uint8_t>(c.return_code);
    if (code > 5 || (c.session_present && code != 0)) return Errc::invalid_return_code;
    return {};
  }
  Result<void> operator()(const Publish& p) const {
    EDGEHUB_MQTT_CHECK(check_qos(p.qos));
    EDGEHUB_MQTT_CHECK(check_string(p.topic));
    EDGEHUB_MQTT_CHECK(validate_topic_name(p.topic));
    if (p.qos == QoS::at_most_once && p.dup) return Errc::invalid_fixed_header_flags;
    if (p.qos != QoS::at_most_once && p.packet_id == 0) return Errc::zero_packet_id;
    return {};
  }
  template <typename Ack>
  Result<void> ack(const Ack& a) const {
    if (a.packet_id == 0) return Errc::zero_packet_id;
    return {};
  }
  Result<void> operator()(const Puback& a) const { return ack(a); }
  Result<void> operator()(const Pubrec& a) const { return ack(a); }
  Result<void> operator()(const Pubrel& a) const { return ack(a); }
  Result<void> operator()(const Pubcomp& a) const { return ack(a); }
  Result<void> operator()(const Unsuback& a) const { return ack(a); }
  Result<void> operator()(const Subscribe& s) const {
    if (s.packet_id == 0) return Errc::zero_packet_id;
    if (s.subscriptions.empty()) return Errc::empty_subscription;
    for (const auto& sub : s.subscriptions) {
      EDGEHUB_MQTT_CHECK(check_string(sub.filter));
      EDGEHUB_MQTT_CHECK(validate_topic_filter(sub.filter));
      EDGEHUB_MQTT_CHECK(check_qos(sub.qos));
    }
    return {};
  }
  Result<void> operator()(const Suback& s) const {
    if (s.packet_id == 0) return Errc::zero_packet_id;
    if (s.return_codes.empty()) return Errc::empty_subscription;
    for (auto code : s.return_codes) {
      if (code > 2 && code != kSubackFailure) return Errc::invalid_return_code;
    }
    return {};
  }
  Result<void> operator()(const Unsubscribe& u) const {
    if (u.packet_id == 0) return Errc::zero_packet_id;
    if (u.filters.empty()) return Errc::empty_subscription;
    for (const auto& f : u.filters) {
      EDGEHUB_MQTT_CHECK(check_string(f));
      EDGEHUB_MQTT_CHECK(validate_topic_filter(f));
    }
    return {};
  }
  Result<void> operator()(const Pingreq&) const { return {}; }
  Result<void> operator()(const Pingresp&) const { return {}; }
  Result<void> operator()(const Disconnect&) const { return {}; }
};

std::uint8_t first_byte(const Packet& packet) {
  const auto type = static_cast<std::uint8_t>(packet_type(packet)) << 4;
  std::uint8_t flags = required_flags(packet_type(packet));
  if (const auto* p = std::get_if<Publish>(&packet)) {
    flags = static_cast<std::uint8_t>(
        (p->dup ? 0x8 : 0) | (static_cast<std::uint8_t>(p->qos) << 1) | (p->retain ? 0x1 : 0));
  }
  return static_cast<std::uint8_t>(type | flags);
}

#undef EDGEHUB_MQTT_CHECK
#undef EDGEHUB_MQTT_TRY

}  // namespace

// --- Validation rules ---------------------------------------------------------------------------

Result<void> validate_utf8(std::string_view text) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      if (c == 0) return Errc::invalid_utf8;  // MQTT-1.5.3-2
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return Errc::invalid_utf8;
    }
    if (n - i < len) return Errc::invalid_utf8;
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return Errc::invalid_utf8;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates (MQTT-1.5.3-1) and values past Unicode are all refused.
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return Errc::invalid_utf8;
    i += len;
  }
  return {};
}

Result<void> validate_topic_name(std::string_view topic) noexcept {
  if (auto ok = validate_utf8(topic); !ok) return ok.error();
  if (topic.empty()) return Errc::invalid_topic_name;  // MQTT-4.7.3-1
  if (topic.find_first_of("+#") != std::string_view::npos) {
    return Errc::invalid_topic_name;  // MQTT-3.3.2-2
  }
  return {};
}

Result<void> validate_topic_filter(std::string_view filter) noexcept {
  if (auto ok = validate_utf8(filter); !ok) return ok.error();
  if (filter.empty()) return Errc::invalid_topic_filter;  // MQTT-4.7.3-1
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = filter.find('/', start);
    const std::string_view level = filter.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (level.find('#') != std::string_view::npos) {
      // MQTT-4.7.1-2: '#' alone in its level and the last character of the filter.
      if (level != "#" || slash != std::string_view::npos) return Errc::invalid_topic_filter;
    }
    if (level.find('+') != std::string_view::npos && level != "+") {
      return Errc::invalid_topic_filter;  // MQTT-4.7.1-3
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

// --- Encoder ------------------------------------------------------------------------------------

Result<void> encode(const Packet& packet, std::vector<std::byte>& out) {
  if (auto ok = std::visit(Validator{}, packet); !ok) return ok.error();
  Counter counter;
  std::visit(BodyWriter<Counter>{counter}, packet);
  if (counter.n > kMaxRemainingLength) return Errc::value_too_long;

  // Grow geometrically: writers append many packets into one buffer, and an exact reserve per
  // packet would reallocate (and copy everything so far) on every one of them.
  if (const auto needed = out.size() + 5 + counter.n; needed > out.capacity()) {
    out.reserve(std::max(needed, 2 * out.capacity()));
  }
  out.push_back(std::byte{first_byte(packet)});
  auto remaining = static_cast<std::uint32_t>(counter.n);
  do {
    std::uint8_t digit = remaining % 128;
    remaining /= 128;
    if (remaining > 0) digit |= 0x80;
    out.push_back(std::byte{digit});
  } while (remaining > 0);
  Appender appender{out};
  std::visit(BodyWriter<Appender>{appender}, packet);
  return {};
}

Result<std::vector<std::byte>> encode(const Packet& packet) {
  std::vector<std::byte> out;
  if (auto ok = encode(packet, out); !ok) return ok.error();
  return out;
}

// --- Decoder ------------------------------------------------------------------------------------

Result<std::optional<FixedHeader>> parse_fixed_header(std::span<const std::byte> in,
                                                      std::uint32_t max_payload_bytes) {
  if (in.empty()) return std::optional<FixedHeader>{};
  const auto first = std::to_integer<std::uint8_t>(in[0]);
  const std::uint8_t type_bits = first >> 4;
  const std::uint8_t flags = first & 0x0F;
  if (type_bits == 0 || type_bits == 15) return Errc::reserved_packet_type;
  const auto type = static_cast<PacketType>(type_bits);
  if (type == PacketType::publish) {
    const std::uint8_t qos = (flags >> 1) & 0x3;
    if (qos == 3) return Errc::invalid_qos;                                       // MQTT-3.3.1-4
    if (qos == 0 && (flags & 0x8) != 0) return Errc::invalid_fixed_header_flags;  // MQTT-3.3.1-2
  } else if (flags != required_flags(type)) {
    return Errc::invalid_fixed_header_flags;  // MQTT-2.2.2-2
  }

  std::uint32_t value = 0;
  std::uint32_t multiplier = 1;
  for (std::size_t i = 1;; ++i) {
    if (i == 5) return Errc::malformed_remaining_length;
    if (i >= in.size()) return std::optional<FixedHeader>{};
    const auto digit = std::to_integer<std::uint8_t>(in[i]);
    value += static_cast<std::uint32_t>(digit & 0x7F) * multiplier;
    multiplier *= 128;
    if ((digit & 0x80) == 0) {
      if (value > max_remaining_length(max_payload_bytes)) return Errc::packet_too_large;
      return std::optional<FixedHeader>{FixedHeader{type, flags, value, i + 1}};
    }
  }
}

Result<Packet> decode_packet(const FixedHeader& header, std::span<const std::byte> body,
                             std::uint32_t max_payload_bytes) {
  Reader r(body.first(std::min<std::size_t>(body.size(), header.remaining_length)));
  if (body.size() != header.remaining_length) return Errc::truncated_packet;
  switch (header.type) {
    case PacketType::connect:
      return decode_connect(r);
    case PacketType::connack:
      return decode_connack(r);
    case PacketType::publish:
      return decode_publish(header, r, max_payload_bytes);
    case PacketType::puback:
      return decode_ack<Puback>(r);
    case PacketType::pubrec:
      return decode_ack<Pubrec>(r);
    case PacketType::pubrel:
      return decode_ack<Pubrel>(r);
    case PacketType::pubcomp:
      return decode_ack<Pubcomp>(r);
    case PacketType::subscribe:
      return decode_subscribe(r);
    case PacketType::suback:
      return decode_suback(r);
    case PacketType::unsubscribe:
      return decode_unsubscribe(r);
    case PacketType::unsuback:
      return decode_ack<Unsuback>(r);
    case PacketType::pingreq:
      return decode_empty<Pingreq>(r);
    case PacketType::pingresp:
      return decode_empty<Pingresp>(r);
    case PacketType::disconnect:
      return decode_empty<Disconnect>(r);
  }
  return Errc::reserved_packet_type;
}

void Decoder::feed(std::span<const std::byte> bytes) {
  if (error_ || bytes.empty()) return;
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

Result<std::optional<Packet>> Decoder::next() {
  if (error_) return error_;
  const std::span<const std::byte> avail = std::span<const std::byte>(buffer_).subspan(read_);
  auto header = parse_fixed_header(avail, max_payload_bytes_);
  if (!header) {
    error_ = header.error();
    return error_;
  }
  if (!*header || avail.size() - (*header)->header_size < (*header)->remaining_length) {
    // Keep only the incomplete packet so the buffer never grows with consumed bytes.
    if (read_ > 0) {
      buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_));
      read_ = 0;
    }
    return std::optional<Packet>{};
  }
  const FixedHeader& h = **header;
  auto packet =
      decode_packet(h, avail.subspan(h.header_size, h.remaining_length), max_payload_bytes_);
  if (!packet) {
    error_ = packet.error();
    buffer_.clear();
    read_ = 0;
    return error_;
  }
  read_ += h.header_size + h.remaining_length;
  if (read_ == buffer_.size()) {
    buffer_.clear();
    read_ = 0;
  }
  return std::optional<Packet>{std::move(*packet)};
}

std::string_view packet_type_name(PacketType t) noexcept {
  switch (t) {
    case PacketType::connect:
      return "CONNECT";
    case PacketType::connack:
      return "CONNACK";
    case PacketType::publish:
      return "PUBLISH";
    case PacketType::puback:
      return "PUBACK";
    case PacketType::pubrec:
      return "PUBREC";
    case PacketType::pubrel:
      return "PUBREL";
    case PacketType::pubcomp:
      return "PUBCOMP";
    case PacketType::subscribe:
      return "SUBSCRIBE";
    case PacketType::suback:
      return "SUBACK";
    case PacketType::unsubscribe:
      return "UNSUBSCRIBE";
    case PacketType::unsuback:
      return "UNSUBACK";
    case PacketType::pingreq:
      return "PINGREQ";
    case PacketType::pingresp:
      return "PINGRESP";
    case PacketType::disconnect:
      return "DISCONNECT";
  }
  return "RESERVED";
}

}  // namespace edgehub::mqtt_proto
