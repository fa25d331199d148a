#pragma once

// The compiled form of a condition: a flat array of typed nodes (children by index), literal
// strings in a stable pool, and $body paths. Built once by compile(), then read-only.

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgehub/core/message.hpp"
#include "edgehub/routing/condition.hpp"

namespace edgehub::routing::detail {

/// Static types of edgeHub's condition compiler (reference §3.6). `query` is a $body query value
/// whose type is only known at run time.
enum class Type : std::uint8_t { boolean, number, string, null, undefined, query };

std::string_view type_name(Type t) noexcept;

/// Run-time values. Undefined covers edgeHub's Bool.Undefined, NaN doubles and the undefined
/// string sentinel; null covers the null literal, a property whose value is null and JSON null.
enum class Kind : std::uint8_t { undefined, null, boolean, number, string };

struct Value {
  Kind kind = Kind::undefined;
  bool b = false;
  double n = 0;
  std::string_view s;

  static Value undefined() noexcept { return {}; }
  static Value null() noexcept { return {Kind::null, false, 0, {}}; }
  static Value boolean(bool v) noexcept { return {Kind::boolean, v, 0, {}}; }
  static Value tri(Tri t) noexcept {
    return t == Tri::undefined ? Value{} : Value{Kind::boolean, t == Tri::true_, 0, {}};
  }
  /// NaN is edgeHub's undefined double.
  static Value number(double v) noexcept {
    return v != v ? Value{} : Value{Kind::number, false, v, {}};
  }
  static Value string(std::string_view v) noexcept { return {Kind::string, false, 0, v}; }
};

enum class Op : std::uint8_t {
  literal,
  app_prop,           // name: application property
  sys_prop,           // aux: system property index (kNoSys: never set)
  dollar_prop,        // name "$x": application property "$x", else system property aux
  body_query,         // aux: path index
  dollar_body_query,  // name "$body.x": application property, else body query aux
  negate,
  logical_not,
  arith,  // sub: Arith
  compare,
  logical_and,  // n-ary
  logical_or,   // n-ary
  coalesce,
  concat,                // n-ary (the || operator and concat())
  call,                  // sub: Fn
  twin_change_includes,  // aux: path index
};

enum class Arith : std::uint8_t { add, sub, mul, div, mod };
enum class Cmp : std::uint8_t { eq, ne, lt, le, gt, ge };
enum class Fn : std::uint8_t {
  abs,
  exp,
  ceiling,
  floor,
  sign,
  sqrt,
  square,
  power,
  as_number,
  is_bool,
  is_defined,
  is_null,
  is_number,
  is_string,
  length,
  lower,
  upper,
  substring,
  index_of,
  starts_with,
  ends_with,
  contains,
};

inline constexpr std::uint32_t kNoSys = 0xFFFFFFFF;

struct Node {
  Op op = Op::literal;
  Type type = Type::undefined;
  std::uint8_t sub = 0;                 // Arith / Cmp / Fn
  Type operand_type = Type::undefined;  // compare/coalesce: the operands' common static type
  std::uint32_t first = 0;              // first child in Program::children
  std::uint32_t count = 0;              // number of children
  std::uint32_t aux = 0;
  std::string_view name;  // property name (into Program::strings)
  Value literal;
};

/// One step of a $body path: an object member or an array index.
struct PathStep {
  std::string key;
  std::int64_t index = -1;  // >= 0: array index step
};
using BodyPath = std::vector<PathStep>;

struct Program {
  std::string text;
  std::vector<Node> nodes;
  std::vector<std::uint32_t> children;
  std::deque<std::string> strings;  // deque: views into it stay valid while it grows
  std::vector<BodyPath> paths;
  std::uint32_t root = 0;
  Type root_type = Type::undefined;

  static Condition make_condition(std::unique_ptr<const Program> p) noexcept {
    return Condition(std::move(p));
  }
};

/// Scratch memory for strings made during one evaluation; chunks are kept across resets, so a
/// warmed-up arena does not allocate. Returned views stay valid until reset().
class Arena {
 public:
  char* allocate(std::size_t n);
  void reset() noexcept {
    chunk_ = 0;
    used_ = 0;
  }

 private:
  static constexpr std::size_t kChunk = 4096;
  struct Chunk {
    std::unique_ptr<char[]> data;
    std::size_t size = 0;
  };
  std::vector<Chunk> chunks_;
  std::size_t chunk_ = 0;
  std::size_t used_ = 0;
};

enum class BodyState : std::uint8_t { unknown, unusable, ready };

struct ContextState {
  const core::Message* message = nullptr;
  BodyState body_state = BodyState::unknown;
  std::string_view body_json;  // UTF-8 JSON text of the body once validated
  std::string transcoded;      // UTF-16/UTF-32 bodies converted to UTF-8
  Arena arena;
  std::vector<Value> stack;  // builtin arguments
};

/// Evaluates `program` against the message bound in `state`.
Value evaluate(const Program& program, ContextState& state) noexcept;

/// Converts the root value of a condition to edgeHub's Bool (reference §3.6, RouteCompiler's
/// final Convert to Bool): Bool as is, null is false, anything else is undefined.
Tri to_condition_result(const Value& v, Type static_type) noexcept;

}  // namespace edgehub::routing::detail
