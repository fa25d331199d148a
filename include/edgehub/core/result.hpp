#pragma once

// Result<T>: a value or a boost::system::error_code, never an exception on the data plane.
// Boost 1.74 (Debian 12) predates boost::system::result, and std::expected is C++23, so this is
// the project's small equivalent with the same vocabulary (has_value, value, error).

#include <boost/system/error_code.hpp>
#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace edgehub::core {

using ErrorCode = boost::system::error_code;

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value)
      : state_(std::in_place_index<0>, std::move(value)) {}          // NOLINT: implicit by design
  Result(ErrorCode error) : state_(std::in_place_index<1>, error) {  // NOLINT: implicit by design
    assert(error && "a Result error must be a failure code");
  }
  template <typename E, typename = std::enable_if_t<boost::system::is_error_code_enum<E>::value>>
  Result(E error) : Result(ErrorCode(make_error_code(error))) {}  // NOLINT: implicit by design

  bool has_value() const noexcept { return state_.index() == 0; }
  bool has_error() const noexcept { return state_.index() == 1; }
  explicit operator bool() const noexcept { return has_value(); }

  /// Precondition: has_value().
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// The error, or a default (success) code when there is a value.
  ErrorCode error() const noexcept { return has_error() ? std::get<1>(state_) : ErrorCode{}; }

 private:
  std::variant<T, ErrorCode> state_;
};

/// Result<void>: success or an error code.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(ErrorCode error) : error_(error) {}  // NOLINT: implicit by design
  template <typename E, typename = std::enable_if_t<boost::system::is_error_code_enum<E>::value>>
  Result(E error) : error_(make_error_code(error)) {}  // NOLINT: implicit by design

  bool has_value() const noexcept { return !error_; }
  bool has_error() const noexcept { return static_cast<bool>(error_); }
  explicit operator bool() const noexcept { return has_value(); }
  ErrorCode error() const noexcept { return error_; }

 private:
  ErrorCode error_;
};

}  // namespace edgehub::core
