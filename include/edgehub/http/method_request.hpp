#pragma once

// The body of POST /twins/{d}[/modules/{m}]/methods (edgehub-reference.md §1.5, §9):
//   {"methodName": "...", "payload": <JSON>, "responseTimeoutInSeconds": 30,
//    "connectTimeoutInSeconds": 0}
// and the answer {"status": N, "payload": <JSON>}. Pure: no I/O, never throws.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "edgehub/core/result.hpp"

namespace edgehub::http {

/// IoT Hub's bounds (edgehub-reference.md §9; the same as hub::MethodRouter's).
inline constexpr std::size_t kMaxMethodPayloadBytes = 128 * 1024;
inline constexpr std::size_t kMaxMethodNameChars = 100;
inline constexpr std::chrono::seconds kDefaultResponseTimeout{30};
inline constexpr std::chrono::seconds kMinResponseTimeout{5};
inline constexpr std::chrono::seconds kMaxResponseTimeout{300};
inline constexpr std::chrono::seconds kMaxConnectTimeout{300};

struct MethodInvocation {
  std::string method_name;
  std::string payload;  ///< JSON text of "payload"; "null" when absent
  std::chrono::seconds response_timeout = kDefaultResponseTimeout;
  std::chrono::seconds connect_timeout{0};
};

/// Errors: Errc::bad_request (not a JSON object, methodName missing, empty or over 100
/// characters, a timeout not an integer or out of range), Errc::too_large (payload over
/// 128 KiB). `why` names the field.
core::Result<MethodInvocation> parse_method_request(std::string_view body, std::string& why);

/// {"status": status, "payload": payload}; a payload that is not JSON is sent as a JSON string,
/// an empty one as null.
std::string method_response_body(int status, std::string_view payload);

}  // namespace edgehub::http
