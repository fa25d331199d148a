#pragma once

// POST /devices/{d}/messages/events → core::Message(s) (iot-hub-protocol.md §5.2, §5.3, §6).
// Pure: no I/O, never throws; the API stamps the origin and hands the messages to the ingress.
//
// Header mapping (names case-insensitive): iothub-app-{name} → application property {name};
// dt-subject → $component (Node sends it unprefixed); iothub-messageid, iothub-correlationid,
// iothub-userid, iothub-contenttype, iothub-contentencoding, iothub-expiry,
// iothub-interface-id, iothub-creation-time-utc → the system properties of the same meaning.
// Other headers (Authorization, Host, iothub-to, ...) are not message properties.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgehub/core/message.hpp"
#include "edgehub/core/result.hpp"

namespace edgehub::http {

/// IoT Hub's bounds on a batch (iot-hub-protocol.md §12.5): 500 messages, 256 KiB in total.
inline constexpr std::size_t kMaxBatchMessages = 500;
/// Content type of a batch.
inline constexpr std::string_view kBatchContentType = "application/vnd.microsoft.iothub.json";
/// Longest message id IoT Hub accepts.
inline constexpr std::size_t kMaxMessageIdLength = 128;

using Header = std::pair<std::string_view, std::string_view>;

/// Whether a Content-Type names a batch (parameters such as "; charset=utf-8" ignored).
bool is_batch_content_type(std::string_view content_type) noexcept;

/// One message: the body as sent, properties from the headers. Errors: Errc::bad_request (message
/// id too long, empty application property name), Errc::too_large (accounted size over
/// `max_message_bytes`). `why` says which rule failed.
core::Result<core::Message> message_from_request(std::span<const Header> headers,
                                                 std::string_view body,
                                                 std::size_t max_message_bytes, std::string& why);

/// A batch: a JSON array of {"body": base64, "properties": {header name: string}}, each mapped
/// like the headers of a single message. Errors: Errc::bad_request (not a JSON array, element
/// not an object, body not base64, property not a string, empty, over kMaxBatchMessages),
/// Errc::too_large (accounted sizes together over `max_batch_bytes`).
core::Result<std::vector<core::Message>> messages_from_batch(std::string_view body,
                                                             std::size_t max_batch_bytes,
                                                             std::string& why);

}  // namespace edgehub::http
