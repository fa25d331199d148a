#pragma once

// The mapping between an encoded AMQP message (the payload of one transfer) and core::Message,
// both ways (iot-hub-protocol.md §3.4, §6, §9.2). Pure functions over bytes: no connection, no
// I/O, so the mapping is unit-tested and fuzzed on its own.
//
// Device -> gateway (decode_message):
//   properties message-id / correlation-id  string, ulong (decimal), uuid (lower-case
//                                           8-4-4-4-12) or binary (the bytes as they are)
//   user-id, to, content-type, content-encoding, absolute-expiry-time (ISO 8601 UTC)
//   application-properties                  scalars as text; iothub-outputname, iothub-creation-
//                                           time-utc, iothub-message-schema, iothub-ack become
//                                           system properties; lists and maps are refused
//   message-annotations                     iothub-interface-id, dt-subject, x-opt-output-name
//                                           become system properties; all scalars are also
//                                           returned as text (twin requests read "operation")
//   body                                    data sections, or an amqp-value string / binary
//
// Gateway -> device (encode_message): the same properties, one data section, string-valued
// application properties, plus the annotations and typed properties the caller adds.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "edgehub/core/message.hpp"
#include "edgehub/core/result.hpp"

namespace edgehub::amqp_core {

/// A message-id or correlation-id with its AMQP type, so that a reply can echo it unchanged.
struct MessageId {
  enum class Type : std::uint8_t { string, ulong, uuid, binary };
  Type type = Type::string;
  std::string text;  ///< string; ulong as decimal; uuid as lower-case text; binary as raw bytes
  friend bool operator==(const MessageId&, const MessageId&) = default;
};

struct DecodedMessage {
  core::Message message;  ///< origin and enqueue time are left for the session to set
  std::optional<MessageId> message_id;
  std::optional<MessageId> correlation_id;
  std::optional<std::string> reply_to;
  /// Message annotations with scalar values, as text (numbers in decimal), in wire order.
  std::vector<std::pair<std::string, std::string>> annotations;

  const std::string* annotation(std::string_view key) const noexcept;
};

/// Decodes one message. Errors: Errc::malformed_message (not an AMQP message, or a body of
/// another type), Errc::invalid_property (a list or map as application property value).
core::Result<DecodedMessage> decode_message(std::span<const std::byte> encoded);

/// A value the gateway adds to an outbound message beyond core::Message.
using ExtraValue = std::variant<std::string, std::int32_t, std::int64_t>;

struct OutboundExtras {
  std::vector<std::pair<std::string, ExtraValue>> annotations;
  std::vector<std::pair<std::string, ExtraValue>> typed_properties;  ///< application properties
  /// Replaces the correlation id of the message (replies echo the request's id and type).
  std::optional<MessageId> correlation_id;
  bool include_system_annotations = true;  ///< iothub-connection-*, iothub-interface-id, ...
};

/// Encodes `message` with one data section. Never fails for messages that decode_message made;
/// Errc::internal_error if Proton refuses the message.
core::Result<std::vector<std::byte>> encode_message(const core::Message& message,
                                                    const OutboundExtras& extras = {});

/// ISO 8601 UTC text with milliseconds ("2030-01-01T00:00:00.000Z") of a time in ms since 1970.
std::string format_timestamp_ms(std::int64_t ms_since_epoch);
/// The inverse for the forms IoT Hub uses (with or without fraction, "Z" suffix).
std::optional<std::int64_t> parse_timestamp_ms(std::string_view text);

}  // namespace edgehub::amqp_core
