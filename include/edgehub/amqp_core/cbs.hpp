#pragma once

// The claims-based security node "$cbs" (iot-hub-protocol.md §3.2): put-token requests and their
// replies. A request carries application properties operation = "put-token", type (one of the
// two SAS token types), name (the audience, URL-encoded: "{hub}%2Fdevices%2F{d}[%2Fmodules%2F
// {m}]") and the token as an amqp-value string body. The reply echoes the request's message-id
// as correlation-id with int status-code and string status-description.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgehub/amqp_core/message_codec.hpp"
#include "edgehub/core/client_id.hpp"
#include "edgehub/core/result.hpp"

namespace edgehub::amqp_core {

inline constexpr std::string_view kServiceBusTokenType = "servicebus.windows.net:sastoken";
inline constexpr std::string_view kIotHubTokenType = "azure-devices.net:sastoken";

/// CBS status codes as IoT Hub / edgeHub answer them.
enum class CbsStatus : std::int32_t {
  ok = 200,
  bad_request = 400,   ///< malformed request, unknown token type or audience
  unauthorized = 401,  ///< the token does not authenticate the audience's identity
  internal_error = 500,
};

struct PutTokenRequest {
  std::optional<MessageId> request_id;  ///< the request's message-id, echoed in the reply
  std::string type;
  std::string audience;  ///< as sent (URL-encoded)
  std::string token;
};

/// Errors: Errc::malformed_put_token (operation is not put-token, missing name/type/token),
/// Errc::unsupported_token_type.
core::Result<PutTokenRequest> parse_put_token(const DecodedMessage& request);

/// The identity an audience names: URL-decoded, optional scheme stripped, then
/// "{host}/devices/{d}" or "{host}/devices/{d}/modules/{m}". Errc::bad_audience otherwise.
core::Result<core::ClientId> parse_audience(std::string_view audience);

/// The encoded reply message.
core::Result<std::vector<std::byte>> encode_put_token_reply(
    const std::optional<MessageId>& request_id, CbsStatus status, std::string_view description);

}  // namespace edgehub::amqp_core
