#pragma once

// The HTTPS API's error codes (style P4): one enum, one boost::system category "edgehub.http",
// and the one mapping to what IoT Hub answers on HTTPS (iot-hub-protocol.md §12.3): the status
// and the error name in {"Message":"ErrorCode:{name};{text}",...}, which the Node SDK parses.

#include <boost/system/error_code.hpp>
#include <string_view>
#include <type_traits>

namespace edgehub::http {

enum class Errc {
  not_found = 1,       ///< no such route                                   404 NotFound
  method_not_allowed,  ///< known path, wrong HTTP method                   405 MethodNotAllowed
  bad_request,         ///< malformed body, header or id                    400 ArgumentInvalid
  bad_api_version,  ///< api-version missing or not supported            400 InvalidProtocolVersion
  unauthorized,  ///< no, wrong or foreign credentials                401 IotHubUnauthorizedAccess
  forbidden,     ///< authenticated, but this caller may not do this  403 Forbidden
  too_large,     ///< body or message over its limit                  413 MessageTooLarge
  device_not_online,  ///< method target not connected / subscribed        404 DeviceNotOnline
  device_not_found,   ///< identity not in the registry / scope            404 DeviceNotFound
  lock_lost,          ///< C2D lock token unknown or expired               412 DeviceMessageLockLost
  throttled,          ///< a bound on pending work is reached              429 ThrottlingException
  queue_full,         ///< store full or busy: retry later                 503 ServiceUnavailable
  timeout,            ///< no answer within the response timeout           504 GatewayTimeout
  internal,           ///< the gateway failed                              500 ServerError
};

const boost::system::error_category& http_category() noexcept;

inline boost::system::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), http_category()};
}

/// The HTTP status IoT Hub answers for `e`; 500 for codes of other categories.
int status_of(const boost::system::error_code& ec) noexcept;
/// The IoT Hub error name (the {name} of "ErrorCode:{name};..."); "ServerError" for others.
std::string_view error_name(const boost::system::error_code& ec) noexcept;

}  // namespace edgehub::http

template <>
struct boost::system::is_error_code_enum<edgehub::http::Errc> : std::true_type {};
