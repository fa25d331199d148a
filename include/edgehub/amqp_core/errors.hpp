#pragma once

// Why an AMQP request, link or connection was refused. Each value names the AMQP error condition
// the peer sees (condition_name()), the one error -> wire mapping of this module; docs/amqp.md
// has the table.

#include <boost/system/error_code.hpp>
#include <string_view>
#include <type_traits>

namespace edgehub::amqp_core {

enum class Errc {
  // Addresses and identities
  unknown_address = 1,  ///< a link address the gateway does not serve   (amqp:not-found)
  unauthorized,  ///< no valid token or certificate for the identity (amqp:unauthorized-access)
  wrong_role,    ///< a known address attached in the wrong direction (amqp:not-allowed)
  // SASL
  malformed_sasl_response,  ///< PLAIN initial response not authzid\0user\0password
  bad_plain_user_name,      ///< not {d}[/modules/{m}]@sas.{hubname}
  // CBS
  malformed_put_token,     ///< missing operation, type, name or token body (CBS status 400)
  unsupported_token_type,  ///< a token type other than the two SAS types (CBS status 400)
  bad_audience,            ///< the audience names no device or module (CBS status 400)
  // Messages
  malformed_message,  ///< the transfer does not decode as an AMQP message (amqp:decode-error)
  message_too_large,  ///< above the message size limit (amqp:link:message-size-exceeded)
  invalid_property,   ///< a property of a type IoT Hub does not accept
                      ///< (com.microsoft:argument-error)
  // Flow and limits
  outbound_full,   ///< a bounded outbound queue refused the message (amqp:resource-limit-exceeded)
  no_link,         ///< the identity has no link for this kind of message (amqp:not-found)
  not_accepted,    ///< the client released or modified a message sent to it (try again later)
  throttled,       ///< store full: retry later (com.microsoft:device-container-throttled)
  internal_error,  ///< a failure on the gateway's side (amqp:internal-error)
  token_expired,   ///< the identity's token expired without renewal (amqp:unauthorized-access)
  closed_by_gateway,  ///< superseded, revoked or shutting down (amqp:link:detach-forced)
  idle_timeout,       ///< nothing received within the idle timeout (amqp:resource-limit-exceeded)
  rejected,           ///< the client rejected a message sent to it, for good
};

const boost::system::error_category& amqp_category() noexcept;

inline boost::system::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), amqp_category()};
}

/// The AMQP error condition symbol for an amqp_core error, e.g. "amqp:unauthorized-access".
/// Errors of other categories map to "amqp:internal-error".
std::string_view condition_name(const boost::system::error_code& ec) noexcept;

}  // namespace edgehub::amqp_core

template <>
struct boost::system::is_error_code_enum<edgehub::amqp_core::Errc> : std::true_type {};
