#include "routing/compiler.hpp"

#include <array>
#include <charconv>
#include <optional>
#include <string>

#include "routing/json_body.hpp"
#include "routing/text.hpp"

namespace edgehub::routing::detail {
namespace {

using core::iequals;

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

enum class Sig : std::uint8_t {
  math1,      // (number) -> number
  power,      // (number, number) -> number
  as_number,  // (string) | (number) -> number
  any1,       // (any) -> boolean
  concat,     // (string, string, ...) -> string
  length,     // (string) -> number
  str1,       // (string) -> string
  substring,  // (string, number[, number]) -> string
  index_of,   // (string, string) -> number
  str2,       // (string, string) -> boolean
  twin,       // (path) -> boolean
};

struct BuiltinInfo {
  std::string_view name;
  Fn fn;
  Sig sig;
};

constexpr std::array<BuiltinInfo, 24> kBuiltins = {{
    {"abs", Fn::abs, Sig::math1},
    {"exp", Fn::exp, Sig::math1},
    {"power", Fn::power, Sig::power},
    {"square", Fn::square, Sig::math1},
    {"ceiling", Fn::ceiling, Sig::math1},
    {"floor", Fn::floor, Sig::math1},
    {"sign", Fn::sign, Sig::math1},
    {"sqrt", Fn::sqrt, Sig::math1},
    {"as_number", Fn::as_number, Sig::as_number},
    {"is_bool", Fn::is_bool, Sig::any1},
    {"is_defined", Fn::is_defined, Sig::any1},
    {"is_null", Fn::is_null, Sig::any1},
    {"is_number", Fn::is_number, Sig::any1},
    {"is_string", Fn::is_string, Sig::any1},
    {"concat", Fn::abs, Sig::concat},
    {"length", Fn::length, Sig::length},
    {"lower", Fn::lower, Sig::str1},
    {"upper", Fn::upper, Sig::str1},
    {"substring", Fn::substring, Sig::substring},
    {"index_of", Fn::index_of, Sig::index_of},
    {"starts_with", Fn::starts_with, Sig::str2},
    {"ends_with", Fn::ends_with, Sig::str2},
    {"contains", Fn::contains, Sig::str2},
    {"twin_change_includes", Fn::abs, Sig::twin},
}};

const BuiltinInfo* find_builtin(std::string_view name) noexcept {
  for (const auto& b : kBuiltins) {
    if (iequals(b.name, name)) return &b;
  }
  return nullptr;
}

struct Ref {
  std::uint32_t node = 0;
  Type type = Type::undefined;
  std::size_t depth = 1;
};

std::string_view op_text(Tok t) noexcept {
  switch (t) {
    case Tok::plus:
      return "+";
    case Tok::minus:
      return "-";
    case Tok::mul:
      return "*";
    case Tok::div:
      return "/";
    case Tok::mod:
      return "%";
    case Tok::eq:
      return "=";
    case Tok::ne1:
      return "!=";
    case Tok::ne2:
      return "<>";
    case Tok::lt:
      return "<";
    case Tok::le:
      return "<=";
    case Tok::gt:
      return ">";
    case Tok::ge:
      return ">=";
    case Tok::concat:
      return "||";
    case Tok::coalesce:
      return "??";
    case Tok::kw_and:
      return "AND";
    case Tok::kw_or:
      return "OR";
    case Tok::kw_not:
      return "NOT";
    default:
      return "?";
  }
}

// The hint people need most: properties are strings (reference §3.6, "the quirks are the product").
std::string type_hint(Type a, Type b) {
  if ((a == Type::string && b == Type::number) || (a == Type::number && b == Type::string)) {
    return " (property values are strings: convert with as_number(...) to use them as numbers)";
  }
  if (a == Type::null || b == Type::null) {
    return " (null only compares with null; test a property with is_null(...) or is_defined(...))";
  }
  if (a == Type::undefined || b == Type::undefined) {
    return " (test for a missing value with is_defined(...))";
  }
  return {};
}

class Compiler {
 public:
  Compiler(std::string_view text, const std::vector<Token>& tokens, std::size_t pos,
           const CompileOptions& options, CompileError& error)
      : text_(text), tokens_(tokens), pos_(pos), options_(options), error_(error) {
    program_ = std::make_unique<Program>();
  }

  std::unique_ptr<Program> run(std::size_t& pos) {
    const std::size_t start = tokens_[pos_].offset;
    auto root = coalesce();
    if (!root) return nullptr;
    program_->root = root->node;
    program_->root_type = root->type;
    const std::size_t end =
        pos_ > 0 ? tokens_[pos_ - 1].offset + tokens_[pos_ - 1].text.size() : start;
    program_->text = std::string(text_.substr(start, end - start));
    pos = pos_;
    return std::move(program_);
  }

 private:
  const Token& peek() const noexcept { return tokens_[pos_]; }
  const Token& take() noexcept {
    const Token& t = tokens_[pos_];
    if (t.kind != Tok::end) ++pos_;
    return t;
  }

  std::nullopt_t fail(RoutingErrc code, const Token& at, std::string message) {
    set_error(error_, code, text_, at.offset, std::move(message));
    return std::nullopt;
  }

  std::string_view intern(std::string value) {
    program_->strings.push_back(std::move(value));
    return program_->strings.back();
  }

  std::optional<Ref> add(Node node, std::initializer_list<Ref> kids, const Token& at) {
    std::vector<Ref> v(kids);
    return add(std::move(node), v, at);
  }

  std::optional<Ref> add(Node node, const std::vector<Ref>& kids, const Token& at) {
    std::size_t depth = 0;
    for (const auto& k : kids)
      depth = std::max(depth, k.depth);
    depth += 1;
    if (depth > kMaxExpressionDepth) {
      return fail(RoutingErrc::too_deep, at,
                  "expression nested too deeply (the limit is " +
                      std::to_string(kMaxExpressionDepth) + " levels)");
    }
    node.first = static_cast<std::uint32_t>(program_->children.size());
    node.count = static_cast<std::uint32_t>(kids.size());
    for (const auto& k : kids)
      program_->children.push_back(k.node);
    program_->nodes.push_back(node);
    return Ref{static_cast<std::uint32_t>(program_->nodes.size() - 1), node.type, depth};
  }

  std::optional<Ref> literal(Value v, Type t, const Token& at) {
    Node n;
    n.op = Op::literal;
    n.type = t;
    n.literal = v;
    return add(n, {}, at);
  }

  // Recursion guard for parentheses, unary operators and function arguments.
  bool enter(const Token& at) {
    if (++nesting_ > kMaxExpressionDepth) {
      fail(RoutingErrc::too_deep, at,
           "expression nested too deeply (the limit is " + std::to_string(kMaxExpressionDepth) +
               " levels)");
      return false;
    }
    return true;
  }
  void leave() noexcept { --nesting_; }

  static bool pair_ok(Type a, Type b) noexcept {
    return a == b || a == Type::query || b == Type::query;
  }
  static bool is_logic_operand(Type t) noexcept {
    return t == Type::boolean || t == Type::null || t == Type::undefined || t == Type::query;
  }

  // ---- precedence levels, lowest first -------------------------------------------------------

  std::optional<Ref> coalesce() {
    auto left = logical_or();
    if (!left) return std::nullopt;
    while (peek().kind == Tok::coalesce) {
      const Token& op = take();
      auto right = logical_or();
      if (!right) return std::nullopt;
      if (!pair_ok(left->type, right->type)) {
        return fail(RoutingErrc::type_error, op,
                    "operator '"
                    "??"
                    "' needs operands of the same type, got " +
                        std::string(type_name(left->type)) + " and " +
                        std::string(type_name(right->type)) + type_hint(left->type, right->type));
      }
      if (left->type == Type::undefined) {
        left = right;  // `undefined ?? x` is x
        continue;
      }
      Node n;
      n.op = Op::coalesce;
      n.type = (left->type == Type::query || right->type == Type::query) ? Type::query : left->type;
      left = add(n, {*left, *right}, op);
      if (!left) return std::nullopt;
    }
    return left;
  }

  std::optional<Ref> logical_or() { return logical_chain(Tok::kw_or); }

  std::optional<Ref> logical_and() { return logical_chain(Tok::kw_and); }

  std::optional<Ref> logical_chain(Tok op_kind) {
    auto first = op_kind == Tok::kw_or ? logical_and() : equality();
    if (!first) return std::nullopt;
    if (peek().kind != op_kind) return first;
    std::vector<Ref> operands{*first};
    const Token* op = nullptr;
    while (peek().kind == op_kind) {
      op = &take();
      auto next = op_kind == Tok::kw_or ? logical_and() : equality();
      if (!next) return std::nullopt;
      operands.push_back(*next);
    }
    bool any_null = false;
    bool all_null = true;
    for (const auto& r : operands) {
      if (!is_logic_operand(r.type)) {
        return fail(
            RoutingErrc::type_error, *op,
            "operator '" + std::string(op_text(op_kind)) + "' needs boolean operands, got " +
                std::string(type_name(r.type)) +
                (r.type == Type::string ? " (compare the property, e.g. name = 'value')" : ""));
      }
      any_null = any_null || r.type == Type::null;
      all_null = all_null && r.type == Type::null;
    }
    Node n;
    n.op = op_kind == Tok::kw_or ? Op::logical_or : Op::logical_and;
    // edgeHub's Null & x is Null; Null | x is x unless both are Null (Rt/query/Null.cs).
    n.type = (op_kind == Tok::kw_and ? any_null : all_null) ? Type::null : Type::boolean;
    return add(n, operands, *op);
  }

  std::optional<Ref> equality() {
    auto left = relational();
    if (!left) return std::nullopt;
    while (peek().kind == Tok::eq || peek().kind == Tok::ne1 || peek().kind == Tok::ne2) {
      const Token& op = take();
      auto right = relational();
      if (!right) return std::nullopt;
      left = compare(op, *left, *right, op.kind == Tok::eq ? Cmp::eq : Cmp::ne);
      if (!left) return std::nullopt;
    }
    return left;
  }

  std::optional<Ref> relational() {
    auto left = additive();
    if (!left) return std::nullopt;
    while (peek().kind == Tok::lt || peek().kind == Tok::le || peek().kind == Tok::gt ||
           peek().kind == Tok::ge) {
      const Token& op = take();
      auto right = additive();
      if (!right) return std::nullopt;
      const Cmp c = op.kind == Tok::lt   ? Cmp::lt
                    : op.kind == Tok::le ? Cmp::le
                    : op.kind == Tok::gt ? Cmp::gt
                                         : Cmp::ge;
      left = compare(op, *left, *right, c);
      if (!left) return std::nullopt;
    }
    return left;
  }

  std::optional<Ref> compare(const Token& op, Ref left, Ref right, Cmp c) {
    if (!pair_ok(left.type, right.type)) {
      return fail(RoutingErrc::type_error, op,
                  "operator '" + std::string(op.text) + "' cannot compare " +
                      std::string(type_name(left.type)) + " with " +
                      std::string(type_name(right.type)) + type_hint(left.type, right.type));
    }
    Node n;
    n.op = Op::compare;
    n.type = Type::boolean;
    n.sub = static_cast<std::uint8_t>(c);
    n.operand_type =
        (left.type == Type::query || right.type == Type::query) ? Type::query : left.type;
    return add(n, {left, right}, op);
  }

  std::optional<Ref> additive() {
    auto left = multiplicative();
    if (!left) return std::nullopt;
    std::vector<Ref> concat_group;  // consecutive || operands become one n-ary concat
    const Token* concat_op = nullptr;
    auto flush = [&]() -> bool {
      if (concat_group.empty()) return true;
      Node n;
      n.op = Op::concat;
      n.type = Type::string;
      left = add(n, concat_group, *concat_op);
      concat_group.clear();
      return left.has_value();
    };
    while (peek().kind == Tok::plus || peek().kind == Tok::minus || peek().kind == Tok::concat) {
      const Token& op = take();
      auto right = multiplicative();
      if (!right) return std::nullopt;
      if (op.kind == Tok::concat) {
        const Type lt = concat_group.empty() ? left->type : Type::string;
        const bool ok_l = lt == Type::string || lt == Type::query;
        const bool ok_r = right->type == Type::string || right->type == Type::query;
        if (!ok_l || !ok_r) {
          return fail(RoutingErrc::type_error, op,
                      "operator '||' concatenates strings, got " + std::string(type_name(lt)) +
                          " and " + std::string(type_name(right->type)));
        }
        if (concat_group.empty()) concat_group.push_back(*left);
        concat_group.push_back(*right);
        concat_op = &op;
        continue;
      }
      if (!flush()) return std::nullopt;
      left = arith(op, *left, *right, op.kind == Tok::plus ? Arith::add : Arith::sub);
      if (!left) return std::nullopt;
    }
    if (!flush()) return std::nullopt;
    return left;
  }

  std::optional<Ref> multiplicative() {
    auto left = prefix();
    if (!left) return std::nullopt;
    while (peek().kind == Tok::mul || peek().kind == Tok::div || peek().kind == Tok::mod) {
      const Token& op = take();
      auto right = prefix();
      if (!right) return std::nullopt;
      const Arith a = op.kind == Tok::mul   ? Arith::mul
                      : op.kind == Tok::div ? Arith::div
                                            : Arith::mod;
      left = arith(op, *left, *right, a);
      if (!left) return std::nullopt;
    }
    return left;
  }

  std::optional<Ref> arith(const Token& op, Ref left, Ref right, Arith a) {
    const auto numeric = [](Type t) { return t == Type::number || t == Type::query; };
    if (!numeric(left.type) || !numeric(right.type)) {
      return fail(RoutingErrc::type_error, op,
                  "operator '" + std::string(op.text) + "' needs numbers, got " +
                      std::string(type_name(left.type)) + " and " +
                      std::string(type_name(right.type)) +
                      (left.type == Type::string && right.type == Type::string && a == Arith::add
                           ? " (use || or concat() to join strings)"
                           : type_hint(left.type, right.type)));
    }
    Node n;
    n.op = Op::arith;
    n.sub = static_cast<std::uint8_t>(a);
    n.type = (left.type == Type::query || right.type == Type::query) ? Type::query : Type::number;
    return add(n, {left, right}, op);
  }

  std::optional<Ref> prefix() {
    const Token& t = peek();
    if (t.kind == Tok::minus || t.kind == Tok::kw_not) {
      take();
      if (!enter(t)) return std::nullopt;
      auto operand = prefix();
      leave();
      if (!operand) return std::nullopt;
      Node n;
      if (t.kind == Tok::minus) {
        if (operand->type != Type::number && operand->type != Type::query) {
          return fail(RoutingErrc::type_error, t,
                      "unary '-' needs a number, got " + std::string(type_name(operand->type)) +
                          (operand->type == Type::string ? " (convert with as_number(...))" : ""));
        }
        n.op = Op::negate;
        n.type = operand->type;
      } else {
        if (operand->type != Type::boolean && operand->type != Type::null &&
            operand->type != Type::query) {
          return fail(RoutingErrc::type_error, t,
                      "NOT needs a boolean operand, got " + std::string(type_name(operand->type)) +
                          ". NOT binds tighter than comparisons: write NOT (a = b)");
        }
        n.op = Op::logical_not;
        n.type = Type::boolean;
        n.operand_type = operand->type;
      }
      return add(n, {*operand}, t);
    }
    return primary();
  }

  std::optional<Ref> number_literal(const Token& t) {
    std::optional<double> v;
    if (t.kind == Tok::hex) {
      // long.TryParse(HexNumber): up to 16 significant digits, two's complement.
      std::string_view digits = t.text.substr(2);
      while (digits.size() > 1 && digits.front() == '0')
        digits.remove_prefix(1);
      if (digits.size() <= 16) {
        std::uint64_t u = 0;
        std::from_chars(digits.data(), digits.data() + digits.size(), u, 16);
        v = static_cast<double>(static_cast<std::int64_t>(u));
      }
    } else {
      v = parse_dotnet_double(t.text);
    }
    // edgeHub turns an unparsable literal into the undefined constant (ConditionVisitor).
    if (!v) return literal(Value::undefined(), Type::undefined, t);
    return literal(Value::number(*v), Type::number, t);
  }

  std::optional<Ref> body_query(const Token& t, std::string_view prop_text, bool check_app) {
    const std::string_view query = prop_text.substr(6);  // after "$body."
    if (query.empty()) {
      return fail(RoutingErrc::bad_arguments, t, "$body query cannot be empty");
    }
    BodyPath path;
    std::string reason;
    if (!parse_body_path(query, path, reason)) {
      return fail(RoutingErrc::bad_arguments, t, "error in $body query: " + reason);
    }
    program_->paths.push_back(std::move(path));
    Node n;
    n.type = Type::query;
    n.aux = static_cast<std::uint32_t>(program_->paths.size() - 1);
    n.op = check_app ? Op::dollar_body_query : Op::body_query;
    if (check_app) n.name = intern(std::string(prop_text));
    return add(n, {}, t);
  }

  std::optional<Ref> system_property(const Token& t, std::string_view prop_text, bool escaped) {
    if (istarts_with(prop_text, "$body.")) {
      // Names with brackets cannot be application properties (ConditionVisitor).
      const bool brackets = prop_text.find_first_of("[]") != std::string_view::npos;
      return body_query(t, prop_text, !escaped && !brackets);
    }
    if (prop_text.find_first_of("[]") != std::string_view::npos) {
      return literal(Value::undefined(), Type::undefined, t);
    }
    Node n;
    n.type = Type::string;
    const auto sys = core::find_system_property(prop_text.substr(1));
    n.aux = sys ? static_cast<std::uint32_t>(*sys) : kNoSys;
    if (escaped) {
      n.op = Op::sys_prop;
    } else {
      n.op = Op::dollar_prop;
      n.name = intern(std::string(prop_text));
    }
    return add(n, {}, t);
  }

  std::optional<Ref> primary() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::lparen: {
        take();
        if (!enter(t)) return std::nullopt;
        auto inner = coalesce();
        leave();
        if (!inner) return std::nullopt;
        if (peek().kind != Tok::rparen) {
          return fail(RoutingErrc::syntax_error, peek(),
                      "missing closing ')' for the '(' at column " +
                          std::to_string(column_of(text_, t.offset)) + ", found " +
                          describe(peek()));
        }
        take();
        return inner;
      }
      case Tok::kw_true:
      case Tok::kw_false:
        take();
        return literal(Value::boolean(t.kind == Tok::kw_true), Type::boolean, t);
      case Tok::kw_null:
        take();
        return literal(Value::null(), Type::null, t);
      case Tok::kw_undefined:
        take();
        return literal(Value::undefined(), Type::undefined, t);
      case Tok::integer:
      case Tok::real:
      case Tok::hex:
        take();
        return number_literal(t);
      case Tok::string: {
        take();
        const std::string_view inner =
            intern(unescape_literal(t.text.substr(1, t.text.size() - 2)));
        return literal(Value::string(inner), Type::string, t);
      }
      case Tok::unterminated_string:
        return fail(RoutingErrc::syntax_error, t,
                    "unterminated string (strings are quoted with ' or \" and may only use the "
                    "escapes \\', \\\", \\\\ and \\uXXXX)");
      case Tok::sys_prop:
        take();
        return system_property(t, t.text, false);
      case Tok::lbrace: {
        take();
        const Token& prop = peek();
        if (prop.kind != Tok::sys_prop) {
          return fail(
              RoutingErrc::syntax_error, prop,
              "expected a system property such as $contentType after '{', found " + describe(prop));
        }
        take();
        if (peek().kind != Tok::rbrace) {
          return fail(
              RoutingErrc::syntax_error, peek(),
              "expected '}' after " + std::string(prop.text) + ", found " + describe(peek()));
        }
        take();
        return system_property(prop, prop.text, true);
      }
      case Tok::id: {
        take();
        if (peek().kind == Tok::lparen) return call(t);
        Node n;
        n.op = Op::app_prop;
        n.type = Type::string;
        n.name = intern(std::string(t.text));
        return add(n, {}, t);
      }
      case Tok::rparen:
        return fail(RoutingErrc::syntax_error, t, "unmatched closing ')'");
      case Tok::unknown:
        return fail(RoutingErrc::syntax_error, t,
                    "unrecognized symbol '" + std::string(t.text) + "'");
      case Tok::end:
        return fail(RoutingErrc::syntax_error, t, "expected an operand, found end of text");
      default:
        return fail(
            RoutingErrc::syntax_error, t,
            "expected an operand (a property, literal or function call), found " + describe(t));
    }
  }

  std::optional<Ref> call(const Token& name) {
    const BuiltinInfo* info = find_builtin(name.text);
    if (info == nullptr || (info->sig == Sig::twin && !options_.twin_change_source)) {
      std::string msg = "unknown function '" + std::string(name.text) + "'";
      if (info != nullptr)
        msg += " (twin_change_includes is only valid FROM /twinChangeNotifications)";
      return fail(RoutingErrc::unknown_function, name, msg);
    }
    const Token& open = take();
    if (!enter(open)) return std::nullopt;
    std::vector<Ref> args;
    const std::size_t first_arg_token = pos_;
    if (peek().kind != Tok::rparen) {
      while (true) {
        auto a = coalesce();
        if (!a) return std::nullopt;
        args.push_back(*a);
        if (peek().kind == Tok::comma) {
          take();
          continue;
        }
        break;
      }
    }
    leave();
    if (peek().kind != Tok::rparen) {
      return fail(
          RoutingErrc::syntax_error, peek(),
          "missing closing ')' of " + std::string(info->name) + "(...), found " + describe(peek()));
    }
    const std::size_t close_token = pos_;
    take();

    if (info->sig == Sig::twin) {
      // edgeHub hands the argument's token text (white space dropped) to the path validator.
      std::string path_text;
      for (std::size_t k = first_arg_token; k < close_token; ++k)
        path_text += tokens_[k].text;
      return twin_change_includes(name, path_text);
    }
    return typed_call(name, *info, args);
  }

  std::optional<Ref> twin_change_includes(const Token& name, const std::string& path_text) {
    if (path_text.empty()) {
      return fail(RoutingErrc::bad_arguments, name,
                  "twin_change_includes argument cannot be empty");
    }
    if (!istarts_with(path_text, "properties.reported.") &&
        !istarts_with(path_text, "properties.desired.") && !istarts_with(path_text, "tags.")) {
      return fail(RoutingErrc::bad_arguments, name,
                  "twin_change_includes path must start with properties.reported., "
                  "properties.desired. or tags., got '" +
                      path_text + "'");
    }
    BodyPath path;
    std::string reason;
    if (!parse_body_path(path_text, path, reason)) {
      return fail(RoutingErrc::bad_arguments, name, "twin_change_includes: " + reason);
    }
    program_->paths.push_back(std::move(path));
    Node n;
    n.op = Op::twin_change_includes;
    n.type = Type::boolean;
    n.aux = static_cast<std::uint32_t>(program_->paths.size() - 1);
    return add(n, {}, name);
  }

  static bool arg_is(Type given, Type wanted) noexcept {
    return given == wanted || given == Type::query;
  }

  std::optional<Ref> typed_call(const Token& name, const BuiltinInfo& info,
                                const std::vector<Ref>& args) {
    const std::string fname(info.name);
    auto arity = [&](std::string expected) {
      return fail(
          RoutingErrc::bad_arguments, name,
          "function '" + fname + "' takes " + expected + ", got " + std::to_string(args.size()));
    };
    auto types_error = [&](std::string expected) {
      std::string got;
      for (std::size_t i = 0; i < args.size(); ++i) {
        if (i > 0) got += ", ";
        got += type_name(args[i].type);
      }
      std::string hint;
      for (const auto& a : args) {
        if (a.type == Type::string && expected.find("number") != std::string::npos &&
            info.sig == Sig::math1) {
          hint = " (property values are strings: use as_number(...))";
        }
      }
      return fail(RoutingErrc::type_error, name,
                  "function '" + fname + "' expects (" + expected + "), got (" + got + ")" + hint);
    };
    Node n;
    n.op = Op::call;
    n.sub = static_cast<std::uint8_t>(info.fn);
    switch (info.sig) {
      case Sig::math1:
        if (args.size() != 1) return arity("1 argument");
        if (!arg_is(args[0].type, Type::number)) return types_error("number");
        n.type = Type::number;
        break;
      case Sig::power:
        if (args.size() != 2) return arity("2 arguments");
        if (!arg_is(args[0].type, Type::number) || !arg_is(args[1].type, Type::number)) {
          return types_error("number, number");
        }
        n.type = Type::number;
        break;
      case Sig::as_number:
        if (args.size() != 1) return arity("1 argument");
        if (args[0].type == Type::number) return args[0];  // the double overload is identity
        if (!arg_is(args[0].type, Type::string)) return types_error("string");
        n.type = Type::number;
        break;
      case Sig::any1:
        if (args.size() != 1) return arity("1 argument");
        n.type = Type::boolean;
        n.operand_type = args[0].type;
        break;
      case Sig::concat:
        if (args.size() < 2) return arity("at least 2 arguments");
        for (const auto& a : args) {
          if (!arg_is(a.type, Type::string)) return types_error("string, string, ...");
        }
        n.op = Op::concat;
        n.type = Type::string;
        break;
      case Sig::length:
        if (args.size() != 1) return arity("1 argument");
        if (!arg_is(args[0].type, Type::string)) return types_error("string");
        n.type = Type::number;
        break;
      case Sig::str1:
        if (args.size() != 1) return arity("1 argument");
        if (!arg_is(args[0].type, Type::string)) return types_error("string");
        n.type = Type::string;
        break;
      case Sig::substring:
        if (args.size() != 2 && args.size() != 3) return arity("2 or 3 arguments");
        if (!arg_is(args[0].type, Type::string) || !arg_is(args[1].type, Type::number) ||
            (args.size() == 3 && !arg_is(args[2].type, Type::number))) {
          return types_error(args.size() == 2 ? "string, number" : "string, number, number");
        }
        n.type = Type::string;
        break;
      case Sig::index_of:
        if (args.size() != 2) return arity("2 arguments");
        if (!arg_is(args[0].type, Type::string) || !arg_is(args[1].type, Type::string)) {
          return types_error("string, string");
        }
        n.type = Type::number;
        break;
      case Sig::str2:
        if (args.size() != 2) return arity("2 arguments");
        if (!arg_is(args[0].type, Type::string) || !arg_is(args[1].type, Type::string)) {
          return types_error("string, string");
        }
        n.type = Type::boolean;
        break;
      case Sig::twin:
        break;
    }
    return add(n, args, name);
  }

  std::string_view text_;
  const std::vector<Token>& tokens_;
  std::size_t pos_;
  const CompileOptions& options_;
  CompileError& error_;
  std::unique_ptr<Program> program_;
  std::size_t nesting_ = 0;
};

}  // namespace

void set_error(CompileError& error, RoutingErrc code, std::string_view text, std::size_t offset,
               std::string message) {
  error.code = code;
  error.column = column_of(text, offset);
  error.message = std::move(message);
}

std::unique_ptr<Program> compile_expression(std::string_view text, const std::vector<Token>& tokens,
                                            std::size_t& pos, const CompileOptions& options,
                                            CompileError& error) {
  Compiler c(text, tokens, pos, options, error);
  return c.run(pos);
}

std::unique_ptr<Program> undefined_program(std::string_view text) {
  auto p = std::make_unique<Program>();
  p->text = std::string(text);
  Node n;
  n.op = Op::literal;
  n.type = Type::undefined;
  p->nodes.push_back(n);
  p->root = 0;
  return p;
}

}  // namespace edgehub::routing::detail
