#include "routing/lexer.hpp"

#include <array>
#include <string>

namespace edgehub::routing::detail {
namespace {

bool is_ws(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
// QUERY_PATH_CHARS: ~[()<>@,;:\\"/?={} \t\n\r]; ID_CHARS additionally exclude '[' and ']'.
bool is_query_char(char c) noexcept {
  switch (c) {
    case '(':
    case ')':
    case '<':
    case '>':
    case '@':
    case ',':
    case ';':
    case ':':
    case '\\':
    case '"':
    case '/':
    case '?':
    case '=':
    case '{':
    case '}':
    case ' ':
    case '\t':
    case '\n':
    case '\r':
      return false;
    default:
      return true;
  }
}
bool is_id_char(char c) noexcept {
  return is_query_char(c) && c != '[' && c != ']';
}
char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::size_t keyword_ci(std::string_view s, std::string_view word) noexcept {
  if (s.size() < word.size()) return 0;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (lower(s[i]) != word[i]) return 0;
  }
  return word.size();
}
std::size_t keyword_cs(std::string_view s, std::string_view word) noexcept {
  return s.substr(0, word.size()) == word ? word.size() : 0;
}

// ESC: '\\' (["'\\] | 'u' HEX HEX HEX HEX); returns its length or 0.
std::size_t escape_len(std::string_view s, std::size_t i) noexcept {
  if (i + 1 >= s.size()) return 0;
  const char c = s[i + 1];
  if (c == '"' || c == '\'' || c == '\\') return 2;
  if (c == 'u') {
    if (i + 6 > s.size()) return 0;
    for (std::size_t k = i + 2; k < i + 6; ++k) {
      if (!is_hex(s[k])) return 0;
    }
    return 6;
  }
  return 0;
}

// Returns {unterminated_len, string_len (0 if not closed)}.
std::pair<std::size_t, std::size_t> string_lens(std::string_view s) noexcept {
  const char quote = s[0];
  std::size_t i = 1;
  while (i < s.size()) {
    const char c = s[i];
    if (c == quote) return {i, i + 1};
    if (c == '\\') {
      const std::size_t e = escape_len(s, i);
      if (e == 0) return {i, 0};
      i += e;
      continue;
    }
    ++i;
  }
  return {i, 0};
}

std::size_t digits(std::string_view s, std::size_t i) noexcept {
  std::size_t j = i;
  while (j < s.size() && is_digit(s[j]))
    ++j;
  return j - i;
}

// EXP: [Ee] [+-]? [0-9]+ at i; returns length or 0.
std::size_t exp_len(std::string_view s, std::size_t i) noexcept {
  if (i >= s.size() || (s[i] != 'e' && s[i] != 'E')) return 0;
  std::size_t j = i + 1;
  if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
  const std::size_t d = digits(s, j);
  return d == 0 ? 0 : j + d - i;
}

std::size_t integer_len(std::string_view s) noexcept {
  const std::size_t sign = (!s.empty() && s[0] == '-') ? 1 : 0;
  const std::size_t d = digits(s, sign);
  return d == 0 ? 0 : sign + d;
}

std::size_t hex_len(std::string_view s) noexcept {
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return 0;
  std::size_t j = 2;
  while (j < s.size() && is_hex(s[j]))
    ++j;
  return j > 2 ? j : 0;
}

std::size_t real_len(std::string_view s) noexcept {
  const std::size_t sign = (!s.empty() && s[0] == '-') ? 1 : 0;
  const std::size_t int_digits = digits(s, sign);
  std::size_t best = 0;
  // '-'? [0-9]* '.' [0-9]+ EXP?
  std::size_t j = sign + int_digits;
  if (j < s.size() && s[j] == '.') {
    const std::size_t frac = digits(s, j + 1);
    if (frac > 0) {
      std::size_t end = j + 1 + frac;
      end += exp_len(s, end);
      best = end;
    }
  }
  // '-'? [0-9]* EXP
  const std::size_t e = exp_len(s, sign + int_digits);
  if (e > 0) best = std::max(best, sign + int_digits + e);
  return best;
}

std::size_t run_len(std::string_view s, std::size_t start, bool (*pred)(char) noexcept) noexcept {
  std::size_t j = start;
  while (j < s.size() && pred(s[j]))
    ++j;
  return j - start;
}

}  // namespace

std::vector<Token> lex(std::string_view text) {
  std::vector<Token> out;
  std::size_t pos = 0;
  while (true) {
    while (pos < text.size() && is_ws(text[pos]))
      ++pos;
    if (pos >= text.size()) break;
    const std::string_view s = text.substr(pos);

    // COMMENT '/*' .*? '*/' (hidden): longer than '/' whenever it is closed.
    if (s.size() >= 4 && s[0] == '/' && s[1] == '*') {
      const auto close = s.find("*/", 2);
      if (close != std::string_view::npos) {
        pos += close + 2;
        continue;
      }
    }

    Tok best = Tok::unknown;
    std::size_t best_len = 0;
    auto offer = [&](Tok kind, std::size_t len) {
      if (len > best_len) {
        best = kind;
        best_len = len;
      }
    };
    // Candidates in the grammar's declaration order; offer() keeps the first of equal lengths.
    offer(Tok::lbrace, s[0] == '{' ? 1 : 0);
    offer(Tok::rbrace, s[0] == '}' ? 1 : 0);
    offer(Tok::kw_select, keyword_ci(s, "select"));
    offer(Tok::kw_from, keyword_ci(s, "from"));
    offer(Tok::kw_where, keyword_ci(s, "where"));
    offer(Tok::kw_into, keyword_ci(s, "into"));
    if (s[0] == '"' || s[0] == '\'') {
      const auto [unterminated, closed] = string_lens(s);
      offer(Tok::string, closed);
      offer(Tok::unterminated_string, unterminated);
    }
    offer(Tok::integer, integer_len(s));
    offer(Tok::hex, hex_len(s));
    offer(Tok::real, real_len(s));
    offer(Tok::kw_true, keyword_cs(s, "true"));
    offer(Tok::kw_false, keyword_cs(s, "false"));
    offer(Tok::kw_null, keyword_cs(s, "null"));
    offer(Tok::kw_undefined, keyword_cs(s, "undefined"));
    offer(Tok::lparen, s[0] == '(' ? 1 : 0);
    offer(Tok::rparen, s[0] == ')' ? 1 : 0);
    offer(Tok::comma, s[0] == ',' ? 1 : 0);
    offer(Tok::plus, s[0] == '+' ? 1 : 0);
    offer(Tok::minus, s[0] == '-' ? 1 : 0);
    offer(Tok::mul, s[0] == '*' ? 1 : 0);
    offer(Tok::div, s[0] == '/' ? 1 : 0);
    offer(Tok::mod, s[0] == '%' ? 1 : 0);
    offer(Tok::kw_and, keyword_ci(s, "and"));
    offer(Tok::kw_or, keyword_ci(s, "or"));
    offer(Tok::kw_not, keyword_ci(s, "not"));
    offer(Tok::eq, s[0] == '=' ? 1 : 0);
    offer(Tok::ne1, keyword_cs(s, "!="));
    offer(Tok::ne2, keyword_cs(s, "<>"));
    offer(Tok::le, keyword_cs(s, "<="));
    offer(Tok::ge, keyword_cs(s, ">="));
    offer(Tok::gt, s[0] == '>' ? 1 : 0);
    offer(Tok::lt, s[0] == '<' ? 1 : 0);
    offer(Tok::concat, keyword_cs(s, "||"));
    offer(Tok::coalesce, keyword_cs(s, "??"));
    if (s[0] == '$') {
      const std::size_t q = run_len(s, 1, is_query_char);
      offer(Tok::sys_prop, q > 0 ? 1 + q : 0);
    }
    offer(Tok::id, run_len(s, 0, is_id_char));
    offer(Tok::query_path, run_len(s, 0, is_query_char));
    offer(Tok::unknown, 1);

    out.push_back(Token{best, static_cast<std::uint32_t>(pos), s.substr(0, best_len)});
    pos += best_len;
  }
  out.push_back(Token{Tok::end, static_cast<std::uint32_t>(text.size()), {}});
  return out;
}

std::size_t column_of(std::string_view text, std::size_t offset) noexcept {
  std::size_t col = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    // Count UTF-8 lead bytes only, so a column is a character position.
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++col;
  }
  if (offset > text.size()) col += offset - text.size();
  // The first character is column 1; the loop counted the characters before `offset`.
  return col;
}

std::string describe(const Token& token) {
  switch (token.kind) {
    case Tok::end:
      return "end of text";
    case Tok::string:
      return "string " + std::string(token.text);
    case Tok::unterminated_string:
      return "unterminated string " + std::string(token.text);
    case Tok::integer:
    case Tok::hex:
    case Tok::real:
      return "number '" + std::string(token.text) + "'";
    case Tok::id:
      return "name '" + std::string(token.text) + "'";
    case Tok::sys_prop:
      return "'" + std::string(token.text) + "'";
    default:
      return "'" + std::string(token.text) + "'";
  }
}

}  // namespace edgehub::routing::detail
