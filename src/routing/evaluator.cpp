#include <cmath>
#include <cstring>
#include <limits>

#include "routing/json_body.hpp"
#include "routing/program.hpp"
#include "routing/text.hpp"

namespace edgehub::routing::detail {
namespace {

using core::SystemProperty;

Value from_property(const std::optional<std::string>& v) noexcept {
  return v ? Value::string(*v) : Value::null();
}

// edgeHub's Null comparison table (Rt/query/Null.cs): null = null, null <= null, null >= null.
Value null_compare(Cmp c) noexcept {
  return Value::boolean(c == Cmp::eq || c == Cmp::le || c == Cmp::ge);
}

template <typename T>
Value ordered(Cmp c, const T& a, const T& b) noexcept {
  switch (c) {
    case Cmp::eq:
      return Value::boolean(a == b);
    case Cmp::ne:
      return Value::boolean(!(a == b));
    case Cmp::lt:
      return Value::boolean(a < b);
    case Cmp::le:
      return Value::boolean(a <= b);
    case Cmp::gt:
      return Value::boolean(a > b);
    case Cmp::ge:
      return Value::boolean(a >= b);
  }
  return Value::undefined();
}

bool body_ready(ContextState& st) noexcept {
  if (st.body_state == BodyState::unknown) {
    st.body_state = BodyState::unusable;
    const core::Message& m = *st.message;
    const auto& type = m.sys_prop(SystemProperty::content_type);
    const auto& encoding = m.sys_prop(SystemProperty::content_encoding);
    // Reference §3.8: only application/json in utf-8/16/32 is queried; anything else throws
    // inside edgeHub and the query is undefined.
    if (!type || !encoding || !core::iequals(*type, "application/json")) return false;
    std::string_view json;
    try {
      if (core::iequals(*encoding, "utf-8")) {
        json = m.body_text();
        if (json.substr(0, 3) == "\xEF\xBB\xBF") json.remove_prefix(3);
      } else if (core::iequals(*encoding, "utf-16")) {
        utf16le_to_utf8(m.body_text(), st.transcoded);
        json = st.transcoded;
      } else if (core::iequals(*encoding, "utf-32")) {
        utf32le_to_utf8(m.body_text(), st.transcoded);
        json = st.transcoded;
      } else {
        return false;
      }
    } catch (...) {
      return false;  // out of memory while transcoding: treat as unusable, never throw
    }
    if (json.substr(0, 3) == "\xEF\xBB\xBF") json.remove_prefix(3);
    if (!json_is_object(json)) return false;
    st.body_json = json;
    st.body_state = BodyState::ready;
  }
  return st.body_state == BodyState::ready;
}

std::string_view copy_to_arena(Arena& arena, std::string_view s) {
  char* p = arena.allocate(s.size());
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return {p, s.size()};
}

class Evaluator {
 public:
  Evaluator(const Program& p, ContextState& st) noexcept : p_(p), st_(st) {}

  Value run(std::uint32_t index) {
    const Node& n = p_.nodes[index];
    switch (n.op) {
      case Op::literal:
        return n.literal;
      case Op::app_prop: {
        const core::Property* prop = st_.message->find_app(n.name);
        return prop ? from_property(prop->value) : Value::undefined();
      }
      case Op::sys_prop:
        return sys(n.aux);
      case Op::dollar_prop: {
        // An application property literally named "$name" wins over the system property.
        if (const core::Property* prop = st_.message->find_app(n.name)) {
          return from_property(prop->value);
        }
        return sys(n.aux);
      }
      case Op::body_query:
        return body(n.aux);
      case Op::dollar_body_query: {
        if (const core::Property* prop = st_.message->find_app(n.name)) {
          return from_property(prop->value);
        }
        return body(n.aux);
      }
      case Op::negate: {
        const Value v = child(n, 0);
        return v.kind == Kind::number ? Value::number(-v.n) : Value::undefined();
      }
      case Op::logical_not: {
        if (n.operand_type == Type::null) return Value::boolean(true);  // !Null is True
        const Value v = child(n, 0);
        return v.kind == Kind::boolean ? Value::boolean(!v.b) : Value::undefined();
      }
      case Op::arith:
        return arith(n);
      case Op::compare:
        return compare(n);
      case Op::logical_and: {
        if (n.type == Type::null) return Value::null();
        bool undefined = false;
        for (std::uint32_t k = 0; k < n.count; ++k) {
          const Value v = child(n, k);
          if (v.kind != Kind::boolean) {
            undefined = true;
          } else if (!v.b) {
            return Value::boolean(false);  // false wins over undefined
          }
        }
        return undefined ? Value::undefined() : Value::boolean(true);
      }
      case Op::logical_or: {
        if (n.type == Type::null) return Value::null();
        bool undefined = false;
        for (std::uint32_t k = 0; k < n.count; ++k) {
          if (p_.nodes[p_.children[n.first + k]].type == Type::null) continue;  // Null | x = x
          const Value v = child(n, k);
          if (v.kind != Kind::boolean) {
            undefined = true;
          } else if (v.b) {
            return Value::boolean(true);  // true wins over undefined
          }
        }
        return undefined ? Value::undefined() : Value::boolean(false);
      }
      case Op::coalesce: {
        const Value left = child(n, 0);
        return left.kind != Kind::undefined ? left : child(n, 1);
      }
      case Op::concat:
        return concat(n);
      case Op::call:
        return call(n);
      case Op::twin_change_includes: {
        if (!body_ready(st_)) return Value::undefined();
        bool container = false;
        const Value v = json_lookup(st_.body_json, p_.paths[n.aux], st_.arena, &container);
        if (container) return Value::boolean(true);
        if (v.kind == Kind::null) return Value::boolean(false);
        if (v.kind == Kind::undefined) return Value::undefined();
        return Value::boolean(true);
      }
    }
    return Value::undefined();
  }

 private:
  Value child(const Node& n, std::uint32_t k) { return run(p_.children[n.first + k]); }

  Value sys(std::uint32_t index) const noexcept {
    if (index == kNoSys) return Value::undefined();
    const auto& v = st_.message->sys[index];
    // The route tester's null system property is simply absent: edgeHub has no null system
    // property values, so an absent one is undefined.
    return v ? Value::string(*v) : Value::undefined();
  }

  Value body(std::uint32_t path) {
    if (!body_ready(st_)) return Value::undefined();
    return json_lookup(st_.body_json, p_.paths[path], st_.arena);
  }

  Value arith(const Node& n) {
    const Value a = child(n, 0);
    const Value b = child(n, 1);
    if (a.kind != Kind::number || b.kind != Kind::number) return Value::undefined();
    switch (static_cast<Arith>(n.sub)) {
      case Arith::add:
        return Value::number(a.n + b.n);
      case Arith::sub:
        return Value::number(a.n - b.n);
      case Arith::mul:
        return Value::number(a.n * b.n);
      case Arith::div:
        return Value::number(a.n / b.n);
      case Arith::mod:
        return Value::number(std::fmod(a.n, b.n));
    }
    return Value::undefined();
  }

  Value compare(const Node& n) {
    const Cmp c = static_cast<Cmp>(n.sub);
    const Type t = n.operand_type;
    if (t == Type::undefined) return Value::undefined();
    const Value a = child(n, 0);
    const Value b = child(n, 1);
    if (t == Type::null) return null_compare(c);
    if (a.kind == Kind::undefined || b.kind == Kind::undefined) return Value::undefined();
    if (a.kind == Kind::null || b.kind == Kind::null) {
      // JSON null against JSON null compares like the null literal; a null-valued property
      // (static string) is undefined in any comparison.
      if (t == Type::query && a.kind == Kind::null && b.kind == Kind::null) return null_compare(c);
      return Value::undefined();
    }
    if (a.kind != b.kind) return Value::undefined();  // body values of different JSON types
    switch (a.kind) {
      case Kind::number:
        return ordered(c, a.n, b.n);
      case Kind::string:
        return ordered(c, a.s, b.s);  // ordinal
      case Kind::boolean:
        return ordered(c, static_cast<int>(a.b), static_cast<int>(b.b));
      default:
        return Value::undefined();
    }
  }

  Value concat(const Node& n) {
    const std::size_t base = st_.stack.size();
    bool undefined = false;
    for (std::uint32_t k = 0; k < n.count && !undefined; ++k) {
      const Value v = child(n, k);
      if (v.kind == Kind::string) {
        st_.stack.push_back(v);
      } else if (v.kind != Kind::null) {
        undefined = true;  // null strings concatenate as empty, anything else is undefined
      }
    }
    Value result = Value::undefined();
    if (!undefined) {
      std::size_t total = 0;
      for (std::size_t k = base; k < st_.stack.size(); ++k)
        total += st_.stack[k].s.size();
      char* out = st_.arena.allocate(total);
      std::size_t at = 0;
      for (std::size_t k = base; k < st_.stack.size(); ++k) {
        const auto s = st_.stack[k].s;
        if (!s.empty()) std::memcpy(out + at, s.data(), s.size());
        at += s.size();
      }
      result = Value::string({out, total});
    }
    st_.stack.resize(base);
    return result;
  }

  Value call(const Node& n) {
    const std::size_t base = st_.stack.size();
    for (std::uint32_t k = 0; k < n.count; ++k) {
      const Value v = child(n, k);
      st_.stack.push_back(v);
    }
    const Value result = apply(static_cast<Fn>(n.sub), st_.stack.data() + base, n.count);
    st_.stack.resize(base);
    return result;
  }

  static std::optional<std::int64_t> as_index(const Value& v) noexcept {
    if (v.kind != Kind::number || !std::isfinite(v.n)) return std::nullopt;
    const double t = std::trunc(v.n);
    if (t < -2147483648.0 || t > 2147483647.0) return std::nullopt;
    return static_cast<std::int64_t>(t);
  }

  Value apply(Fn fn, const Value* a, std::uint32_t count) {
    const auto num = [&](std::uint32_t i) { return a[i].kind == Kind::number; };
    const auto str = [&](std::uint32_t i) { return a[i].kind == Kind::string; };
    switch (fn) {
      case Fn::abs:
        return num(0) ? Value::number(std::fabs(a[0].n)) : Value::undefined();
      case Fn::exp:
        return num(0) ? Value::number(std::exp(a[0].n)) : Value::undefined();
      case Fn::ceiling:
        return num(0) ? Value::number(std::ceil(a[0].n)) : Value::undefined();
      case Fn::floor:
        return num(0) ? Value::number(std::floor(a[0].n)) : Value::undefined();
      case Fn::sign:
        return num(0) ? Value::number(a[0].n > 0   ? 1.0
                                      : a[0].n < 0 ? -1.0
                                                   : 0.0)
                      : Value::undefined();
      case Fn::sqrt:
        return num(0) ? Value::number(std::sqrt(a[0].n)) : Value::undefined();
      case Fn::square:
        return num(0) ? Value::number(a[0].n * a[0].n) : Value::undefined();
      case Fn::power:
        return num(0) && num(1) ? Value::number(std::pow(a[0].n, a[1].n)) : Value::undefined();
      case Fn::as_number:
        if (num(0)) return a[0];
        if (str(0)) {
          const auto v = parse_dotnet_double(a[0].s);
          return v ? Value::number(*v) : Value::undefined();
        }
        return Value::undefined();
      case Fn::is_bool:
        return Value::boolean(a[0].kind == Kind::boolean);
      case Fn::is_defined:
        return Value::boolean(a[0].kind != Kind::undefined);
      case Fn::is_null:
        return Value::boolean(a[0].kind == Kind::null);
      case Fn::is_number:
        return Value::boolean(num(0) && std::isfinite(a[0].n));
      case Fn::is_string:
        return Value::boolean(str(0));
      case Fn::length:
        return str(0) ? Value::number(static_cast<double>(utf16_length(a[0].s)))
                      : Value::undefined();
      case Fn::lower:
      case Fn::upper: {
        if (!str(0)) return Value::undefined();
        const bool up = fn == Fn::upper;
        const auto s = a[0].s;
        bool change = false;
        for (char c : s) {
          if (up ? (c >= 'a' && c <= 'z') : (c >= 'A' && c <= 'Z')) {
            change = true;
            break;
          }
        }
        if (!change) return a[0];
        const std::string_view copy = copy_to_arena(st_.arena, s);
        char* out = const_cast<char*>(copy.data());
        for (std::size_t i = 0; i < copy.size(); ++i) {
          const char c = out[i];
          if (up && c >= 'a' && c <= 'z') out[i] = static_cast<char>(c - 'a' + 'A');
          if (!up && c >= 'A' && c <= 'Z') out[i] = static_cast<char>(c - 'A' + 'a');
        }
        return Value::string(copy);
      }
      case Fn::substring: {
        if (!str(0)) return Value::undefined();
        const auto start = as_index(a[1]);
        if (!start) return Value::undefined();
        const auto s = a[0].s;
        const auto length = static_cast<std::int64_t>(utf16_length(s));
        if (count == 2) {
          if (*start < 0 || *start > length) return Value::undefined();
          const auto from = utf16_to_byte(s, static_cast<std::size_t>(*start));
          return from ? Value::string(s.substr(*from)) : Value::undefined();
        }
        const auto len = as_index(a[2]);
        if (!len || *start < 0 || *len < 0 || *start >= length || *start + *len > length) {
          return Value::undefined();
        }
        const auto from = utf16_to_byte(s, static_cast<std::size_t>(*start));
        const auto to = utf16_to_byte(s, static_cast<std::size_t>(*start + *len));
        if (!from || !to) return Value::undefined();
        return Value::string(s.substr(*from, *to - *from));
      }
      case Fn::index_of: {
        if (!str(0) || !str(1)) return Value::undefined();
        const auto at = a[0].s.find(a[1].s);
        if (at == std::string_view::npos) return Value::number(-1);
        return Value::number(static_cast<double>(utf16_length(a[0].s.substr(0, at))));
      }
      case Fn::starts_with:
        if (!str(0) || !str(1)) return Value::undefined();
        return Value::boolean(a[0].s.substr(0, a[1].s.size()) == a[1].s);
      case Fn::ends_with:
        if (!str(0) || !str(1)) return Value::undefined();
        return Value::boolean(a[0].s.size() >= a[1].s.size() &&
                              a[0].s.substr(a[0].s.size() - a[1].s.size()) == a[1].s);
      case Fn::contains:
        if (!str(0) || !str(1)) return Value::undefined();
        return Value::boolean(a[0].s.find(a[1].s) != std::string_view::npos);
    }
    return Value::undefined();
  }

  const Program& p_;
  ContextState& st_;
};

}  // namespace

char* Arena::allocate(std::size_t n) {
  if (n == 0) n = 1;
  while (chunk_ < chunks_.size()) {
    Chunk& c = chunks_[chunk_];
    if (c.size - used_ >= n) {
      char* p = c.data.get() + used_;
      used_ += n;
      return p;
    }
    ++chunk_;
    used_ = 0;
  }
  const std::size_t size = std::max(n, kChunk);
  chunks_.push_back(Chunk{std::unique_ptr<char[]>(new char[size]), size});
  chunk_ = chunks_.size() - 1;
  used_ = n;
  return chunks_.back().data.get();
}

Value evaluate(const Program& program, ContextState& state) noexcept {
  if (state.message == nullptr) return Value::undefined();
  try {
    return Evaluator(program, state).run(program.root);
  } catch (...) {
    // Only allocation can throw here (arena or argument stack growth); evaluation must never
    // propagate an exception onto the data plane, and edgeHub treats failures as undefined.
    return Value::undefined();
  }
}

Tri to_condition_result(const Value& v, Type static_type) noexcept {
  switch (static_type) {
    case Type::null:
      return Tri::false_;
    case Type::boolean:
    case Type::undefined:
    case Type::query:
      if (v.kind == Kind::boolean) return v.b ? Tri::true_ : Tri::false_;
      return Tri::undefined;
    default:
      return Tri::undefined;
  }
}

}  // namespace edgehub::routing::detail
