#include "edgehub/store/errors.hpp"

#include <string>

namespace edgehub::store {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "edgehub.store"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::store_full:
        return "store quota reached (max_disk_mb); retry later";
      case Errc::busy:
        return "store busy: too many appends waiting; retry later";
      case Errc::closed:
        return "store closed";
      case Errc::corrupt:
        return "store database is corrupt or not a store";
      case Errc::unreadable:
        return "store database cannot be opened";
      case Errc::locked:
        return "store is in use by another process";
      case Errc::io_error:
        return "store I/O error or disk full";
      case Errc::schema_too_new:
        return "store was written by a newer edgehubd";
      case Errc::invalid_argument:
        return "invalid store request";
      case Errc::sqlite_error:
        return "SQLite error";
    }
    return "unknown store error";
  }
};

}  // namespace

const boost::system::error_category& store_category() noexcept {
  static const Category category;
  return category;
}

bool is_retryable(const boost::system::error_code& ec) noexcept {
  return ec == Errc::store_full || ec == Errc::busy;
}

}  // namespace edgehub::store
