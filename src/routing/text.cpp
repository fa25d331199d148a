#include "routing/text.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

#include "edgehub/core/hex.hpp"

namespace edgehub::routing::detail {
namespace {

bool is_dotnet_space(char c) noexcept {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

bool iequal_prefix(std::string_view s, std::string_view word) noexcept {
  if (s.size() != word.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char a = s[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != word[i]) return false;
  }
  return true;
}

// Length of the UTF-8 sequence starting at s[i] and its code point; invalid bytes are one unit.
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t len = 0;
  char32_t v = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    v = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    v = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    v = b0 & 0x07;
  } else {
    cp = 0xFFFD;
    return 1;
  }
  if (i + len > s.size()) {
    cp = 0xFFFD;
    return 1;
  }
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      cp = 0xFFFD;
      return 1;
    }
    v = (v << 6) | (b & 0x3F);
  }
  cp = v;
  return len;
}

}  // namespace

void append_utf8(std::string& out, char32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string unescape_literal(std::string_view in) {
  // Pass 1: \uXXXX / \UXXXX to UTF-16 code units, pairing surrogates.
  std::string pass1;
  pass1.reserve(in.size());
  char32_t pending_high = 0;
  auto flush_high = [&] {
    if (pending_high != 0) append_utf8(pass1, 0xFFFD);
    pending_high = 0;
  };
  for (std::size_t i = 0; i < in.size();) {
    if (in[i] == '\\' && i + 6 <= in.size() && (in[i + 1] == 'u' || in[i + 1] == 'U')) {
      int v = 0;
      bool ok = true;
      for (std::size_t k = i + 2; k < i + 6; ++k) {
        const int h = core::hex_digit_value(in[k]);
        if (h < 0) {
          ok = false;
          break;
        }
        v = v * 16 + h;
      }
      if (ok) {
        const auto unit = static_cast<char32_t>(v);
        if (unit >= 0xD800 && unit <= 0xDBFF) {
          flush_high();
          pending_high = unit;
        } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
          if (pending_high != 0) {
            append_utf8(pass1, 0x10000 + ((pending_high - 0xD800) << 10) + (unit - 0xDC00));
            pending_high = 0;
          } else {
            append_utf8(pass1, 0xFFFD);
          }
        } else {
          flush_high();
          append_utf8(pass1, unit);
        }
        i += 6;
        continue;
      }
    }
    flush_high();
    pass1.push_back(in[i]);
    ++i;
  }
  flush_high();
  // Pass 2: \" \' \\ (run over pass 1's output, as edgeHub's second Regex.Replace is).
  std::string out;
  out.reserve(pass1.size());
  for (std::size_t i = 0; i < pass1.size();) {
    if (pass1[i] == '\\' && i + 1 < pass1.size() &&
        (pass1[i + 1] == '"' || pass1[i + 1] == '\'' || pass1[i + 1] == '\\')) {
      out.push_back(pass1[i + 1]);
      i += 2;
    } else {
      out.push_back(pass1[i]);
      ++i;
    }
  }
  return out;
}

std::optional<double> parse_dotnet_double(std::string_view s) noexcept {
  while (!s.empty() && is_dotnet_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_dotnet_space(s.back()))
    s.remove_suffix(1);
  bool negative = false;
  bool signed_already = false;
  if (s.size() >= 2 && s.front() == '(' && s.back() == ')') {
    negative = true;
    signed_already = true;
    s = s.substr(1, s.size() - 2);
  }
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    if (signed_already) return std::nullopt;
    negative = s.front() == '-';
    signed_already = true;
    s.remove_prefix(1);
  } else if (!s.empty() && (s.back() == '+' || s.back() == '-') && !signed_already) {
    negative = s.back() == '-';
    signed_already = true;
    s.remove_suffix(1);
  }
  if (s.empty()) return std::nullopt;
  if (iequal_prefix(s, "infinity") || s == "\xE2\x88\x9E") {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (iequal_prefix(s, "nan")) return std::numeric_limits<double>::quiet_NaN();

  // Normalise into "digits[.digits][e[+-]digits]" for from_chars.
  char buf[512];
  std::size_t n = 0;
  auto put = [&](char c) {
    if (n >= sizeof(buf)) return false;
    buf[n++] = c;
    return true;
  };
  std::size_t i = 0;
  std::size_t mantissa_digits = 0;
  bool seen_digit_in_int = false;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || (s[i] == ',' && seen_digit_in_int))) {
    if (s[i] != ',') {
      if (!put(s[i])) return std::nullopt;
      ++mantissa_digits;
      seen_digit_in_int = true;
    }
    ++i;
  }
  if (i < s.size() && s[i] == '.') {
    if (!put('.')) return std::nullopt;
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (!put(s[i])) return std::nullopt;
      ++mantissa_digits;
      ++i;
    }
  }
  if (mantissa_digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    std::size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    std::size_t k = j;
    while (k < s.size() && s[k] >= '0' && s[k] <= '9')
      ++k;
    if (k == j) return std::nullopt;
    for (std::size_t m = i; m < k; ++m) {
      if (!put(s[m] == 'E' ? 'e' : s[m])) return std::nullopt;
    }
    i = k;
  }
  if (i != s.size()) return std::nullopt;
  double value = 0;
  const auto res = std::from_chars(buf, buf + n, value);
  if (res.ec == std::errc::result_out_of_range) {
    // from_chars leaves the value alone on overflow/underflow; .NET Core returns +-inf or 0.
    bool big = false;
    for (std::size_t m = 0; m < n; ++m) {
      if (buf[m] == 'e') {
        big = buf[m + 1] != '-';
        break;
      }
    }
    value = big ? std::numeric_limits<double>::infinity() : 0.0;
  } else if (res.ec != std::errc() || res.ptr != buf + n) {
    return std::nullopt;
  }
  return negative ? -value : value;
}

std::size_t utf16_length(std::string_view s) noexcept {
  std::size_t units = 0;
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    i += decode_utf8(s, i, cp);
    units += cp >= 0x10000 ? 2 : 1;
  }
  return units;
}

std::optional<std::size_t> utf16_to_byte(std::string_view s, std::size_t units) noexcept {
  std::size_t seen = 0;
  std::size_t i = 0;
  while (seen < units) {
    if (i >= s.size()) return std::nullopt;
    char32_t cp = 0;
    i += decode_utf8(s, i, cp);
    seen += cp >= 0x10000 ? 2 : 1;
  }
  if (seen != units) return std::nullopt;  // would split a surrogate pair
  return i;
}

void utf16le_to_utf8(std::string_view bytes, std::string& out) {
  out.clear();
  const std::size_t n = bytes.size() / 2;
  auto unit = [&](std::size_t k) {
    return static_cast<char32_t>(static_cast<unsigned char>(bytes[2 * k]) |
                                 (static_cast<unsigned char>(bytes[2 * k + 1]) << 8));
  };
  for (std::size_t k = 0; k < n; ++k) {
    const char32_t u = unit(k);
    if (u >= 0xD800 && u <= 0xDBFF && k + 1 < n) {
      const char32_t lo = unit(k + 1);
      if (lo >= 0xDC00 && lo <= 0xDFFF) {
        append_utf8(out, 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
        ++k;
        continue;
      }
    }
    append_utf8(out, u);  // lone surrogates become U+FFFD
  }
  if (bytes.size() % 2 != 0) append_utf8(out, 0xFFFD);
}

void utf32le_to_utf8(std::string_view bytes, std::string& out) {
  out.clear();
  for (std::size_t k = 0; k + 4 <= bytes.size(); k += 4) {
    const auto cp = static_cast<char32_t>(
        static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k + 1])) << 8) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k + 2])) << 16) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k + 3])) << 24));
    append_utf8(out, cp);
  }
  if (bytes.size() % 4 != 0) append_utf8(out, 0xFFFD);
}

}  // namespace edgehub::routing::detail
