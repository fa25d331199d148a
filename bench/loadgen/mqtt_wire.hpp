#pragma once

// The load generator's own minimal MQTT 3.1.1 wire code: just the packets a benchmark client
// sends (CONNECT, PUBLISH QoS 1, PUBACK, SUBSCRIBE, DISCONNECT) and a framer for what comes back.
// Encoders append to a caller's buffer so that a connection reuses one buffer for its life.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace edgehub::bench::mqtt {

using Buffer = std::vector<std::uint8_t>;

enum PacketType : std::uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kSubscribe = 8,
  kSuback = 9,
  kPingresp = 13,
  kDisconnect = 14,
};

inline void put_u16(Buffer& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

inline void put_string(Buffer& out, std::string_view s) {
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

inline void put_remaining_length(Buffer& out, std::size_t n) {
  do {
    auto byte = static_cast<std::uint8_t>(n % 128);
    n /= 128;
    if (n > 0) byte |= 0x80;
    out.push_back(byte);
  } while (n > 0);
}

/// CONNECT; user name and password only when the user name is not empty.
inline void append_connect(Buffer& out, std::string_view client_id, std::string_view username,
                           std::string_view password, std::uint16_t keep_alive,
                           bool clean_session = true) {
  Buffer body;
  put_string(body, "MQTT");
  body.push_back(4);  // protocol level 3.1.1
  std::uint8_t flags = clean_session ? 0x02 : 0x00;
  if (!username.empty()) flags |= 0xc0;
  body.push_back(flags);
  put_u16(body, keep_alive);
  put_string(body, client_id);
  if (!username.empty()) {
    put_string(body, username);
    put_string(body, password);
  }
  out.push_back(kConnect << 4);
  put_remaining_length(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
}

/// A QoS 1 PUBLISH; returns the offset of its packet id in `out` so a template can be re-stamped.
inline std::size_t append_publish(Buffer& out, std::string_view topic,
                                  std::span<const std::uint8_t> payload, std::uint16_t packet_id) {
  out.push_back((kPublish << 4) | 0x02);
  put_remaining_length(out, 2 + topic.size() + 2 + payload.size());
  put_string(out, topic);
  const auto id_at = out.size();
  put_u16(out, packet_id);
  out.insert(out.end(), payload.begin(), payload.end());
  return id_at;
}

inline void append_puback(Buffer& out, std::uint16_t packet_id) {
  out.push_back(kPuback << 4);
  out.push_back(2);
  put_u16(out, packet_id);
}

inline void append_subscribe(Buffer& out, std::uint16_t packet_id, std::string_view filter,
                             std::uint8_t qos) {
  out.push_back((kSubscribe << 4) | 0x02);
  put_remaining_length(out, 2 + 2 + filter.size() + 1);
  put_u16(out, packet_id);
  put_string(out, filter);
  out.push_back(qos);
}

inline void append_disconnect(Buffer& out) {
  out.push_back(kDisconnect << 4);
  out.push_back(0);
}

/// One framed packet inside a receive buffer (views into it).
struct Frame {
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  std::span<const std::uint8_t> body;
  std::size_t size = 0;  ///< whole packet, header included
};

/// The first complete packet in `data`, nullopt if more bytes are needed. A remaining length
/// longer than four bytes is reported as a frame of type 0 (the caller closes the connection).
inline std::optional<Frame> next_frame(std::span<const std::uint8_t> data) {
  if (data.size() < 2) return std::nullopt;
  std::size_t length = 0;
  std::size_t multiplier = 1;
  std::size_t at = 1;
  for (;; ++at) {
    if (at > 4) return Frame{};
    if (at >= data.size()) return std::nullopt;
    length += (data[at] & 0x7f) * multiplier;
    multiplier *= 128;
    if ((data[at] & 0x80) == 0) break;
  }
  const auto header = at + 1;
  if (data.size() < header + length) return std::nullopt;
  return Frame{static_cast<std::uint8_t>(data[0] >> 4), static_cast<std::uint8_t>(data[0] & 0x0f),
               data.subspan(header, length), header + length};
}

inline std::uint16_t get_u16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}

}  // namespace edgehub::bench::mqtt
