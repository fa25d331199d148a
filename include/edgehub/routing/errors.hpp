#pragma once

// Errors of the route language compiler. Compilation is control-plane work (config load and
// reload), so a failure carries a human message with the column as well as an error code; the
// data plane (evaluation, matching) never fails.

#include <boost/system/error_code.hpp>
#include <cstddef>
#include <string>
#include <type_traits>

namespace edgehub::routing {

enum class RoutingErrc {
  syntax_error = 1,  ///< the text is not a route or condition (bad token, missing operand, ...)
  type_error,        ///< operands or arguments of the wrong static type
  unknown_function,  ///< no builtin of that name (or not valid for the route's source)
  bad_arguments,     ///< wrong number of arguments, or a bad body/twin path literal
  bad_source,        ///< FROM path edgeHub does not know
  bad_sink,          ///< INTO target edgeHub does not know
  too_deep,          ///< nesting beyond kMaxExpressionDepth
  bad_route_spec,    ///< priority out of range, empty name, ...
};

const boost::system::error_category& routing_category() noexcept;
boost::system::error_code make_error_code(RoutingErrc e) noexcept;

/// Where and why a route or condition did not compile. `column` is 1-based, counted in
/// characters of the text handed to the compiler (the whole route for a route); 0 when the
/// problem has no single place.
struct CompileError {
  RoutingErrc code = RoutingErrc::syntax_error;
  std::size_t column = 0;
  std::string message;  ///< e.g. "operator '>' cannot compare string with number ..."

  /// "column 12: <message>" (or just the message when column is 0).
  std::string to_string() const;
};

}  // namespace edgehub::routing

template <>
struct boost::system::is_error_code_enum<edgehub::routing::RoutingErrc> : std::true_type {};
