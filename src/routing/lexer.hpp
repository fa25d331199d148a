#pragma once

// The route language lexer. It reproduces edgeHub's ANTLR lexer (Rt/grammar/GrammarLexer.g4):
// at each position every token rule is tried, the longest match wins and a tie goes to the rule
// declared first. That is what makes `a-b` one identifier, `3 -4` two numbers, `TRUE` a property
// name and `'a'||'b'` a syntax error in edgeHub, so it is kept exactly.

#include <cstdint>
#include <string_view>
#include <vector>

namespace edgehub::routing::detail {

enum class Tok : std::uint8_t {
  lbrace,
  rbrace,
  kw_select,
  kw_from,
  kw_where,
  kw_into,
  string,
  unterminated_string,
  integer,
  hex,
  real,
  kw_true,
  kw_false,
  kw_null,
  kw_undefined,
  lparen,
  rparen,
  comma,
  plus,
  minus,
  mul,
  div,
  mod,
  kw_and,
  kw_or,
  kw_not,
  eq,
  ne1,
  ne2,
  le,
  ge,
  gt,
  lt,
  concat,
  coalesce,
  sys_prop,
  id,
  query_path,
  unknown,
  end,
};

struct Token {
  Tok kind = Tok::end;
  std::uint32_t offset = 0;  ///< byte offset in the source text
  std::string_view text;
};

/// Tokens without whitespace and comments, terminated by Tok::end.
std::vector<Token> lex(std::string_view text);

/// 1-based column (in characters, not bytes) of byte `offset`.
std::size_t column_of(std::string_view text, std::size_t offset) noexcept;

/// What a token is called in error messages, e.g. "'>='", "number '-4'", "end of text".
std::string describe(const Token& token);

}  // namespace edgehub::routing::detail
