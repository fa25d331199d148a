#pragma once

// A compiled WHERE condition of edgeHub's routing language (edgehub-reference.md §3.5-3.8).
//
// compile() lexes, parses and type-checks the text statically, as edgeHub does (application
// properties are strings, mismatched operand types are compile errors), and lowers it into a flat
// program. evaluate() walks that program with three-valued logic; it never throws and, after an
// EvalContext has warmed up, does not allocate for property, arithmetic, comparison and $body
// lookups (string-producing builtins such as lower() or concat() use the context's arena).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "edgehub/core/message.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/routing/errors.hpp"

namespace edgehub::routing {

/// Bound on expression nesting (parentheses, unary operators, function arguments and operator
/// chains other than AND/OR/||, which compile to one n-ary node), so that hostile input such as
/// "((((...))))" is a compile error instead of a stack overflow.
inline constexpr std::size_t kMaxExpressionDepth = 64;

/// edgeHub's Bool: a condition is true, false or undefined; a route fires only on true.
enum class Tri : std::int8_t { false_ = -1, undefined = 0, true_ = 1 };

/// "true", "false" or "undefined".
std::string_view to_string(Tri value) noexcept;

struct CompileOptions {
  /// twin_change_includes() is only valid in routes FROM /twinChangeNotifications.
  bool twin_change_source = false;
};

namespace detail {
struct Program;
struct ContextState;
}  // namespace detail

/// Per-message evaluation state: the bound message, its lazily validated $body, and scratch
/// memory for strings built during evaluation. Reuse one per thread (or per session) and bind()
/// each message: after warm-up nothing is allocated. Not thread-safe; cheap to move.
class EvalContext {
 public:
  EvalContext();
  ~EvalContext();
  EvalContext(EvalContext&&) noexcept;
  EvalContext& operator=(EvalContext&&) noexcept;

  /// Binds a message (which must outlive the evaluations) and forgets the previous body.
  void bind(const core::Message& message) noexcept;

  detail::ContextState& state() noexcept { return *state_; }

 private:
  std::unique_ptr<detail::ContextState> state_;
};

/// Immutable after compile(); evaluate() is safe to call concurrently with distinct contexts.
class Condition {
 public:
  Condition(Condition&&) noexcept;
  Condition& operator=(Condition&&) noexcept;
  ~Condition();

  /// Compiles a condition. On failure returns the error code and, when `error` is given, fills
  /// it with the column and a human-readable message. Never throws on bad input.
  static core::Result<Condition> compile(std::string_view text, const CompileOptions& options = {},
                                         CompileError* error = nullptr);

  /// Evaluates against the message bound to `context`.
  Tri evaluate(EvalContext& context) const noexcept;

  /// Convenience for tools and tests: binds a fresh context (allocates).
  Tri evaluate(const core::Message& message) const;

  const std::string& text() const noexcept;

 private:
  friend struct detail::Program;
  explicit Condition(std::unique_ptr<const detail::Program> program) noexcept;
  std::unique_ptr<const detail::Program> program_;
};

}  // namespace edgehub::routing
