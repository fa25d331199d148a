#pragma once

// The store's error codes (style P4): one enum, one boost::system category "edgehub.store".
// Protocol sessions map store_full and busy to a retryable error for the device; everything
// else is a gateway fault.

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace edgehub::store {

enum class Errc {
  store_full = 1,    ///< quota reached and when_full = refuse (retryable for the device)
  busy,              ///< too many appends waiting for the store thread (retryable, backpressure)
  closed,            ///< the store is shutting down
  corrupt,           ///< the file is not a healthy SQLite database (quick_check failed, bad header)
  unreadable,        ///< the file or its directory cannot be opened (permissions, missing dir)
  locked,            ///< another process (a running edgehubd) holds the store
  io_error,          ///< SQLite reported an I/O error or the disk is full
  schema_too_new,    ///< written by a newer edgehubd; this version will not touch it
  invalid_argument,  ///< a malformed request (no targets, empty endpoint, ...)
  sqlite_error,      ///< any other SQLite failure
};

const boost::system::error_category& store_category() noexcept;

inline boost::system::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), store_category()};
}

/// True for the errors a device should retry (store_full, busy).
bool is_retryable(const boost::system::error_code& ec) noexcept;

}  // namespace edgehub::store

template <>
struct boost::system::is_error_code_enum<edgehub::store::Errc> : std::true_type {};
