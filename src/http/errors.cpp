#include "edgehub/http/errors.hpp"

#include <string>

namespace edgehub::http {
namespace {

struct Entry {
  int status;
  std::string_view name;
  const char* message;
};

Entry entry(Errc e) noexcept {
  switch (e) {
    case Errc::not_found:
      return {404, "NotFound", "no such resource on this gateway"};
    case Errc::method_not_allowed:
      return {405, "MethodNotAllowed", "HTTP method not allowed on this resource"};
    case Errc::bad_request:
      return {400, "ArgumentInvalid", "invalid request"};
    case Errc::bad_api_version:
      return {400, "InvalidProtocolVersion", "api-version missing or not supported"};
    case Errc::unauthorized:
      return {401, "IotHubUnauthorizedAccess", "unauthorized"};
    case Errc::forbidden:
      return {403, "Forbidden", "caller not allowed to perform this operation"};
    case Errc::too_large:
      return {413, "MessageTooLarge", "request larger than the limit"};
    case Errc::device_not_online:
      return {404, "DeviceNotOnline", "target not connected or not subscribed to methods"};
    case Errc::device_not_found:
      return {404, "DeviceNotFound", "identity not found"};
    case Errc::lock_lost:
      return {412, "DeviceMessageLockLost", "lock token unknown or expired"};
    case Errc::throttled:
      return {429, "ThrottlingException", "too many pending requests"};
    case Errc::queue_full:
      return {503, "ServiceUnavailable", "the gateway cannot take the message now; retry"};
    case Errc::timeout:
      return {504, "GatewayTimeout", "no response within the timeout"};
    case Errc::internal:
      return {500, "ServerError", "internal error"};
  }
  return {500, "ServerError", "unknown http error"};
}

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "edgehub.http"; }
  std::string message(int ev) const override { return entry(static_cast<Errc>(ev)).message; }
};

}  // namespace

const boost::system::error_category& http_category() noexcept {
  static const Category category;
  return category;
}

int status_of(const boost::system::error_code& ec) noexcept {
  return ec.category() == http_category() ? entry(static_cast<Errc>(ec.value())).status : 500;
}

std::string_view error_name(const boost::system::error_code& ec) noexcept {
  return ec.category() == http_category() ? entry(static_cast<Errc>(ec.value())).name
                                          : std::string_view("ServerError");
}

}  // namespace edgehub::http
