#pragma once

// The hub's error codes (style P4): one enum, one boost::system category "edgehub.hub".
// Protocol sessions map them to their wire codes in one place each (MQTT, AMQP, HTTP).

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace edgehub::hub {

enum class Errc {
  message_too_large = 1,  ///< accounted size above LimitsConfig::max_message_bytes (not retryable)
  store_refused,          ///< the store is full or busy: not acknowledged, the device retries
  storage_failure,        ///< the store failed (I/O): not acknowledged, the device retries
  not_connected,          ///< the target is not connected or not subscribed (methods: 404)
  timeout,                ///< no answer within the deadline (methods: 504)
  too_many_pending,       ///< a bound on pending operations is reached
  disconnected,           ///< the connection ended while the operation was pending
  queue_full,             ///< the session's bounded outbound queue refused the item
  invalid_request,        ///< a malformed request (method name, timeouts, payload size)
  invalid_twin_patch,     ///< a reported-properties patch broke a twin rule (400)
  superseded,             ///< closed: the same identity connected again (IoT Hub 400027)
  revoked,                ///< closed: the identity was removed or disabled
  shutting_down,          ///< closed: the gateway is stopping
  not_supported,          ///< the session's protocol cannot carry this operation
  not_authorized,         ///< the receiver refuses the sender for good (IoT Hub CONNACK 5,
                          ///< identity disabled): not retryable, the message is dropped
  rejected,               ///< the device rejected a C2D message (IoT Hub dead-letters it)
};

const boost::system::error_category& hub_category() noexcept;

inline boost::system::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), hub_category()};
}

/// True for the errors after which the sender should retry the same message (store_refused,
/// storage_failure, queue_full, timeout).
bool is_retryable(const boost::system::error_code& ec) noexcept;

/// The HTTP-like status IoT Hub gives a failed direct-method call: 404 not connected or
/// disconnected, 504 timeout, 429 too many pending or queue full, 400 invalid request, else 500.
int method_error_status(const boost::system::error_code& ec) noexcept;

}  // namespace edgehub::hub

template <>
struct boost::system::is_error_code_enum<edgehub::hub::Errc> : std::true_type {};
