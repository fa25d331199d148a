#include "edgehub/hub/errors.hpp"

#include <string>

namespace edgehub::hub {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "edgehub.hub"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::message_too_large:
        return "message larger than the maximum message size";
      case Errc::store_refused:
        return "store full or busy; retry later";
      case Errc::storage_failure:
        return "message could not be stored; retry later";
      case Errc::not_connected:
        return "target is not connected or not subscribed";
      case Errc::timeout:
        return "timed out";
      case Errc::too_many_pending:
        return "too many pending requests";
      case Errc::disconnected:
        return "connection closed while the operation was pending";
      case Errc::queue_full:
        return "outbound queue full";
      case Errc::invalid_request:
        return "invalid request";
      case Errc::invalid_twin_patch:
        return "invalid twin patch";
      case Errc::superseded:
        return "connection closed: the same identity connected again";
      case Errc::revoked:
        return "connection closed: identity revoked";
      case Errc::shutting_down:
        return "connection closed: gateway shutting down";
      case Errc::not_supported:
        return "operation not supported by this connection's protocol";
      case Errc::not_authorized:
        return "not authorised by the receiver";
      case Errc::rejected:
        return "rejected by the device";
    }
    return "unknown hub error";
  }
};

}  // namespace

const boost::system::error_category& hub_category() noexcept {
  static const Category category;
  return category;
}

bool is_retryable(const boost::system::error_code& ec) noexcept {
  return ec == Errc::store_refused || ec == Errc::storage_failure || ec == Errc::queue_full ||
         ec == Errc::timeout;
}

int method_error_status(const boost::system::error_code& ec) noexcept {
  if (ec == Errc::not_connected || ec == Errc::disconnected) return 404;
  if (ec == Errc::timeout) return 504;
  if (ec == Errc::too_many_pending || ec == Errc::queue_full) return 429;
  if (ec == Errc::invalid_request) return 400;
  return 500;
}

}  // namespace edgehub::hub
