#include "edgehub/amqp_core/errors.hpp"

#include <string>

namespace edgehub::amqp_core {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "edgehub.amqp"; }

  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::unknown_address:
        return "link address not served by the gateway";
      case Errc::unauthorized:
        return "no valid token or certificate for this identity";
      case Errc::wrong_role:
        return "link attached in a direction the address does not support";
      case Errc::malformed_sasl_response:
        return "SASL PLAIN response is not authzid NUL user NUL password";
      case Errc::bad_plain_user_name:
        return "SASL PLAIN user name is not {device}[/modules/{module}]@sas.{hubname}";
      case Errc::malformed_put_token:
        return "CBS put-token request without operation, type, name or token";
      case Errc::unsupported_token_type:
        return "CBS token type is not a SAS token type";
      case Errc::bad_audience:
        return "CBS audience names no device or module of this hub";
      case Errc::malformed_message:
        return "transfer is not a valid AMQP message";
      case Errc::message_too_large:
        return "message exceeds the size limit";
      case Errc::invalid_property:
        return "message property of an unsupported type";
      case Errc::outbound_full:
        return "outbound queue for the link is full";
      case Errc::no_link:
        return "the identity has no link for this message";
      case Errc::not_accepted:
        return "the client did not accept the message";
      case Errc::rejected:
        return "the client rejected the message";
      case Errc::throttled:
        return "the gateway's store is full; retry later";
      case Errc::internal_error:
        return "internal error";
      case Errc::token_expired:
        return "the identity's token expired and was not renewed";
      case Errc::closed_by_gateway:
        return "closed by the gateway";
      case Errc::idle_timeout:
        return "no frame received within the idle timeout";
    }
    return "unknown AMQP error";
  }
};

}  // namespace

const boost::system::error_category& amqp_category() noexcept {
  static const Category category;
  return category;
}

std::string_view condition_name(const boost::system::error_code& ec) noexcept {
  if (ec.category() != amqp_category()) return "amqp:internal-error";
  switch (static_cast<Errc>(ec.value())) {
    case Errc::unknown_address:
    case Errc::no_link:
      return "amqp:not-found";
    case Errc::unauthorized:
    case Errc::token_expired:
    case Errc::malformed_sasl_response:
    case Errc::bad_plain_user_name:
      return "amqp:unauthorized-access";
    case Errc::wrong_role:
      return "amqp:not-allowed";
    case Errc::malformed_put_token:
    case Errc::unsupported_token_type:
    case Errc::bad_audience:
    case Errc::invalid_property:
      return "com.microsoft:argument-error";
    case Errc::malformed_message:
      return "amqp:decode-error";
    case Errc::message_too_large:
      return "amqp:link:message-size-exceeded";
    case Errc::outbound_full:
    case Errc::idle_timeout:
      return "amqp:resource-limit-exceeded";
    case Errc::throttled:
      return "com.microsoft:device-container-throttled";
    case Errc::internal_error:
    case Errc::not_accepted:
    case Errc::rejected:
      return "amqp:internal-error";
    case Errc::closed_by_gateway:
      return "amqp:link:detach-forced";
  }
  return "amqp:internal-error";
}

}  // namespace edgehub::amqp_core
