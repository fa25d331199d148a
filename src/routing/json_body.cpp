#include "routing/json_body.hpp"

#include <charconv>
#include <cstring>
#include <limits>

#include "edgehub/core/hex.hpp"
#include "routing/text.hpp"

namespace edgehub::routing::detail {
namespace {

bool is_json_ws(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
class Validator {
 public:
  explicit Validator(std::string_view s) noexcept : s_(s) {}

  bool document() noexcept {
    ws();
    if (i_ >= s_.size() || s_[i_] != '{') return false;
    if (!value(0)) return false;
    ws();
    return i_ == s_.size();
  }

 private:
  void ws() noexcept {
    while (i_ < s_.size() && is_json_ws(s_[i_]))
      ++i_;
  }
  bool literal(std::string_view word) noexcept {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  bool string() noexcept {
    ++i_;  // opening quote
    while (i_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (i_ + 1 >= s_.size()) return false;
        const char e = s_[i_ + 1];
        if (e == 'u') {
          if (i_ + 6 > s_.size()) return false;
          for (std::size_t k = i_ + 2; k < i_ + 6; ++k) {
            if (core::hex_digit_value(s_[k]) < 0) return false;
          }
          i_ += 6;
          continue;
        }
        if (std::strchr("\"\\/bfnrt", e) == nullptr || e == '\0') return false;
        i_ += 2;
        continue;
      }
      ++i_;
    }
    return false;
  }
  bool number() noexcept {
    if (s_[i_] == '-') ++i_;
    if (i_ >= s_.size()) return false;
    if (s_[i_] == '0') {
      ++i_;
    } else if (is_digit(s_[i_])) {
      while (i_ < s_.size() && is_digit(s_[i_]))
        ++i_;
    } else {
      return false;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (i_ >= s_.size() || !is_digit(s_[i_])) return false;
      while (i_ < s_.size() && is_digit(s_[i_]))
        ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (i_ >= s_.size() || !is_digit(s_[i_])) return false;
      while (i_ < s_.size() && is_digit(s_[i_]))
        ++i_;
    }
    return true;
  }
  bool value(std::size_t depth) noexcept {
    ws();
    if (i_ >= s_.size()) return false;
    switch (s_[i_]) {
      case '{': {
        if (depth >= kMaxJsonDepth) return false;
        ++i_;
        ws();
        if (i_ < s_.size() && s_[i_] == '}') {
          ++i_;
          return true;
        }
        while (true) {
          ws();
          if (i_ >= s_.size() || s_[i_] != '"' || !string()) return false;
          ws();
          if (i_ >= s_.size() || s_[i_] != ':') return false;
          ++i_;
          if (!value(depth + 1)) return false;
          ws();
          if (i_ >= s_.size()) return false;
          if (s_[i_] == ',') {
            ++i_;
            continue;
          }
          if (s_[i_] == '}') {
            ++i_;
            return true;
          }
          return false;
        }
      }
      case '[': {
        if (depth >= kMaxJsonDepth) return false;
        ++i_;
        ws();
        if (i_ < s_.size() && s_[i_] == ']') {
          ++i_;
          return true;
        }
        while (true) {
          if (!value(depth + 1)) return false;
          ws();
          if (i_ >= s_.size()) return false;
          if (s_[i_] == ',') {
            ++i_;
            continue;
          }
          if (s_[i_] == ']') {
            ++i_;
            return true;
          }
          return false;
        }
      }
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

// Navigation over an already validated document: only skipping, no checks.
std::size_t skip_ws(std::string_view s, std::size_t i) noexcept {
  while (i < s.size() && is_json_ws(s[i]))
    ++i;
  return i;
}
std::size_t skip_string(std::string_view s, std::size_t i) noexcept {
  ++i;
  while (i < s.size() && s[i] != '"')
    i += (s[i] == '\\') ? 2 : 1;
  return i + 1;
}
std::size_t skip_value(std::string_view s, std::size_t i) noexcept {
  i = skip_ws(s, i);
  if (i >= s.size()) return i;
  const char c = s[i];
  if (c == '"') return skip_string(s, i);
  if (c == '{' || c == '[') {
    std::size_t depth = 0;
    while (i < s.size()) {
      const char d = s[i];
      if (d == '"') {
        i = skip_string(s, i);
        continue;
      }
      if (d == '{' || d == '[') ++depth;
      if (d == '}' || d == ']') {
        --depth;
        if (depth == 0) return i + 1;
      }
      ++i;
    }
    return i;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !is_json_ws(s[i]))
    ++i;
  return i;
}

// Decodes the JSON string whose opening quote is at `i` (validated). Views into the document when
// there is no escape, else into the arena.
std::string_view decode_string(std::string_view s, std::size_t i, Arena& arena) noexcept {
  const std::size_t start = i + 1;
  const std::size_t end = skip_string(s, i) - 1;
  const std::string_view raw = s.substr(start, end - start);
  if (raw.find('\\') == std::string_view::npos) return raw;
  std::string tmp;  // escapes are rare; this path may allocate
  tmp.reserve(raw.size());
  for (std::size_t k = 0; k < raw.size();) {
    if (raw[k] != '\\') {
      tmp.push_back(raw[k++]);
      continue;
    }
    const char e = raw[k + 1];
    k += 2;
    switch (e) {
      case 'b':
        tmp.push_back('\b');
        break;
      case 'f':
        tmp.push_back('\f');
        break;
      case 'n':
        tmp.push_back('\n');
        break;
      case 'r':
        tmp.push_back('\r');
        break;
      case 't':
        tmp.push_back('\t');
        break;
      case 'u': {
        char32_t u = 0;
        for (std::size_t m = 0; m < 4; ++m)
          u = u * 16 + static_cast<char32_t>(core::hex_digit_value(raw[k + m]));
        k += 4;
        if (u >= 0xD800 && u <= 0xDBFF && k + 6 <= raw.size() && raw[k] == '\\' &&
            raw[k + 1] == 'u') {
          char32_t lo = 0;
          for (std::size_t m = 0; m < 4; ++m) {
            lo = lo * 16 + static_cast<char32_t>(core::hex_digit_value(raw[k + 2 + m]));
          }
          if (lo >= 0xDC00 && lo <= 0xDFFF) {
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            k += 6;
          }
        }
        append_utf8(tmp, u);
        break;
      }
      default:
        tmp.push_back(e);  // " \ /
    }
  }
  char* out = arena.allocate(tmp.size());
  if (!tmp.empty()) std::memcpy(out, tmp.data(), tmp.size());
  return {out, tmp.size()};
}

}  // namespace

bool json_is_object(std::string_view doc) noexcept {
  return Validator(doc).document();
}

Value json_lookup(std::string_view s, const BodyPath& path, Arena& arena,
                  bool* container) noexcept {
  if (container != nullptr) *container = false;
  std::size_t pos = skip_ws(s, 0);
  for (const PathStep& step : path) {
    pos = skip_ws(s, pos);
    if (pos >= s.size()) return Value::null();
    std::size_t found = std::string_view::npos;
    if (step.index < 0) {
      if (s[pos] != '{') return Value::null();
      std::size_t i = skip_ws(s, pos + 1);
      if (i < s.size() && s[i] == '}') return Value::null();
      while (i < s.size()) {
        i = skip_ws(s, i);
        const std::string_view key = decode_string(s, i, arena);
        i = skip_ws(s, skip_string(s, i));
        ++i;  // ':'
        const std::size_t value_at = skip_ws(s, i);
        // Member names are case-sensitive; with duplicates the last one wins (JObject.Parse).
        if (key == step.key) found = value_at;
        i = skip_ws(s, skip_value(s, value_at));
        if (i >= s.size() || s[i] == '}') break;
        ++i;  // ','
      }
    } else {
      if (s[pos] != '[') return Value::null();
      std::size_t i = skip_ws(s, pos + 1);
      if (i < s.size() && s[i] == ']') return Value::null();
      std::int64_t k = 0;
      while (i < s.size()) {
        const std::size_t value_at = skip_ws(s, i);
        if (k == step.index) {
          found = value_at;
          break;
        }
        i = skip_ws(s, skip_value(s, value_at));
        if (i >= s.size() || s[i] == ']') break;
        ++i;
        ++k;
      }
    }
    if (found == std::string_view::npos) return Value::null();
    pos = found;
  }
  pos = skip_ws(s, pos);
  if (pos >= s.size()) return Value::undefined();
  switch (s[pos]) {
    case '{':
    case '[':
      if (container != nullptr) *container = true;
      return Value::undefined();
    case '"':
      return Value::string(decode_string(s, pos, arena));
    case 't':
      return Value::boolean(true);
    case 'f':
      return Value::boolean(false);
    case 'n':
      return Value::null();
    default: {
      const std::size_t end = skip_value(s, pos);
      double v = 0;
      const auto res = std::from_chars(s.data() + pos, s.data() + end, v);
      if (res.ec == std::errc::result_out_of_range) {
        const std::string_view num = s.substr(pos, end - pos);
        const auto e = num.find_first_of("eE");
        const bool tiny = e != std::string_view::npos && e + 1 < num.size() && num[e + 1] == '-';
        v = tiny ? 0.0 : std::numeric_limits<double>::infinity();
        if (num.front() == '-') v = -v;
      }
      return Value::number(v);
    }
  }
}

bool parse_body_path(std::string_view text, BodyPath& out, std::string& reason) {
  out.clear();
  if (text.empty()) {
    reason = "the path is empty";
    return false;
  }
  std::size_t i = 0;
  while (true) {
    std::size_t j = i;
    while (j < text.size() && text[j] != '.' && text[j] != '[' && text[j] != ']')
      ++j;
    if (j == i) {
      reason = "expected a member name at position " + std::to_string(i + 1) + " of '" +
               std::string(text) + "'";
      return false;
    }
    out.push_back(PathStep{std::string(text.substr(i, j - i)), -1});
    i = j;
    if (i < text.size() && text[i] == '[') {
      std::size_t k = i + 1;
      std::int64_t index = 0;
      while (k < text.size() && is_digit(text[k]) && k - i <= 9) {
        index = index * 10 + (text[k] - '0');
        ++k;
      }
      if (k == i + 1 || k >= text.size() || text[k] != ']') {
        reason = "an index must be a non-negative integer in brackets, as in a[0], in '" +
                 std::string(text) + "'";
        return false;
      }
      out.push_back(PathStep{{}, index});
      i = k + 1;
    }
    if (i == text.size()) return true;
    if (text[i] != '.') {
      reason = "unexpected '" + std::string(1, text[i]) + "' at position " + std::to_string(i + 1) +
               " of '" + std::string(text) + "'";
      return false;
    }
    ++i;
    if (i == text.size()) {
      reason = "the path ends with '.' in '" + std::string(text) + "'";
      return false;
    }
  }
}

}  // namespace edgehub::routing::detail
