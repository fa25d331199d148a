#pragma once

// MQTT 3.1.1 encoder and incremental decoder. Pure functions over bytes: no I/O, no clock, no
// exceptions (style P1/P4). Role-agnostic: a server decodes client packets and encodes its own,
// and the upstream client can do the reverse with the same code.
//
// Size rule (docs/mqtt.md): a packet's Remaining Length may be at most
//   max_payload_bytes + kPublishHeaderAllowance
// i.e. the largest PUBLISH whose payload is exactly max_payload_bytes with the longest topic MQTT
// can encode. It is checked as soon as the fixed header is read, before the body is buffered, so a
// peer can never make the decoder hold more than that. A PUBLISH payload above max_payload_bytes
// is refused too, whatever its topic length. IoT Hub's own message-size rule (body + property
// names and values) is the session's business.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "edgehub/core/result.hpp"
#include "edgehub/mqtt_proto/errors.hpp"
#include "edgehub/mqtt_proto/packets.hpp"

namespace edgehub::mqtt_proto {

/// The largest value four Remaining Length bytes can carry (MQTT 3.1.1 §2.2.3).
inline constexpr std::uint32_t kMaxRemainingLength = 268'435'455;
/// Topic length prefix + the longest topic + packet identifier.
inline constexpr std::uint32_t kPublishHeaderAllowance = 2 + 65'535 + 2;
/// IoT Hub's D2C message limit, edgeHub's MaxInboundMessageSize.
inline constexpr std::uint32_t kDefaultMaxPayloadBytes = 256 * 1024;

/// The Remaining Length limit for a payload limit (saturates at kMaxRemainingLength).
constexpr std::uint32_t max_remaining_length(std::uint32_t max_payload_bytes) noexcept {
  const std::uint64_t n = std::uint64_t{max_payload_bytes} + kPublishHeaderAllowance;
  return n > kMaxRemainingLength ? kMaxRemainingLength : static_cast<std::uint32_t>(n);
}

// --- Validation rules, shared by the decoder, the encoder and the IoT Hub naming layer ---------

/// MQTT-1.5.3: well-formed UTF-8 (no overlong forms, no surrogates, ≤ U+10FFFF), no U+0000.
/// Returns Errc::invalid_utf8.
core::Result<void> validate_utf8(std::string_view text) noexcept;
/// A PUBLISH/will topic: valid UTF-8, non-empty, no '+' or '#'. Errc::invalid_topic_name.
core::Result<void> validate_topic_name(std::string_view topic) noexcept;
/// A SUBSCRIBE/UNSUBSCRIBE filter: valid UTF-8, non-empty, '+' alone in its level, '#' alone in
/// the last level. Errc::invalid_topic_filter.
core::Result<void> validate_topic_filter(std::string_view filter) noexcept;

// --- Encoder ------------------------------------------------------------------------------------

/// Appends the wire form of `packet` to `out`. The packet is validated with the decoder's rules
/// (so whatever encodes also decodes); on error `out` is left unchanged. Errors: the Errc of the
/// broken rule, or value_too_long for a string over 65,535 bytes or a packet whose Remaining
/// Length would exceed kMaxRemainingLength.
core::Result<void> encode(const Packet& packet, std::vector<std::byte>& out);
core::Result<std::vector<std::byte>> encode(const Packet& packet);

// --- Decoder ------------------------------------------------------------------------------------

/// A parsed fixed header.
struct FixedHeader {
  PacketType type;
  std::uint8_t flags;              ///< low nibble of the first byte
  std::uint32_t remaining_length;  ///< body length
  std::size_t header_size;         ///< 2 to 5 bytes
};

/// Parses a fixed header from the start of `in`. nullopt = need more bytes. Checks the packet
/// type, its reserved flags and the Remaining Length encoding and limit.
core::Result<std::optional<FixedHeader>> parse_fixed_header(std::span<const std::byte> in,
                                                            std::uint32_t max_payload_bytes);

/// Decodes one packet from its header and exactly `remaining_length` body bytes.
core::Result<Packet> decode_packet(const FixedHeader& header, std::span<const std::byte> body,
                                   std::uint32_t max_payload_bytes);

/// Incremental decoder: feed bytes as they arrive in any chunking, take packets out with next().
/// An error is final: every later next() returns it. Not thread-safe; one per connection.
/// Memory: buffers at most one packet beyond what next() has consumed, as long as next() is called
/// until it returns nullopt after each feed().
class Decoder {
 public:
  explicit Decoder(std::uint32_t max_payload_bytes = kDefaultMaxPayloadBytes)
      : max_payload_bytes_(max_payload_bytes) {}

  void feed(std::span<const std::byte> bytes);

  /// The next complete packet, nullopt when more bytes are needed, or the error.
  core::Result<std::optional<Packet>> next();

  /// Bytes received and not yet returned as packets.
  std::size_t buffered() const noexcept { return buffer_.size() - read_; }

 private:
  std::uint32_t max_payload_bytes_;
  std::vector<std::byte> buffer_;
  std::size_t read_ = 0;
  core::ErrorCode error_;
};

}  // namespace edgehub::mqtt_proto
