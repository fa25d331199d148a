// The lexer keeps ANTLR's longest-match / first-rule tie-break (GrammarLexer.g4).

#include "routing/lexer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace edgehub::routing::detail {
namespace {

std::vector<Tok> kinds(std::string_view text) {
  std::vector<Tok> out;
  for (const auto& t : lex(text))
    out.push_back(t.kind);
  return out;
}

std::vector<std::string> texts(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& t : lex(text)) {
    if (t.kind != Tok::end) out.emplace_back(t.text);
  }
  return out;
}

TEST(RoutingLexer, KeywordsAndLiterals) {
  EXPECT_EQ(kinds("SELECT from Where INTO and OR not"),
            (std::vector<Tok>{Tok::kw_select, Tok::kw_from, Tok::kw_where, Tok::kw_into,
                              Tok::kw_and, Tok::kw_or, Tok::kw_not, Tok::end}));
  EXPECT_EQ(kinds("true false null undefined TRUE"),
            (std::vector<Tok>{Tok::kw_true, Tok::kw_false, Tok::kw_null, Tok::kw_undefined, Tok::id,
                              Tok::end}));
  EXPECT_EQ(kinds("12 -3 0x1F 1.5 .5 1e3 e3"),
            (std::vector<Tok>{Tok::integer, Tok::integer, Tok::hex, Tok::real, Tok::real, Tok::real,
                              Tok::real, Tok::end}));
}

TEST(RoutingLexer, LongestMatchWins) {
  EXPECT_EQ(texts("a-b 3+4 x.y 'a'||'b' a!=b"),
            (std::vector<std::string>{"a-b", "3+4", "x.y", "'a'||'b'", "a!", "=", "b"}));
  EXPECT_EQ(texts("trueish notx andy $a.b[0] a[0]"),
            (std::vector<std::string>{"trueish", "notx", "andy", "$a.b[0]", "a[0]"}));
  EXPECT_EQ(kinds("a[0]"), (std::vector<Tok>{Tok::query_path, Tok::end}));
}

TEST(RoutingLexer, OperatorsAndPunctuation) {
  EXPECT_EQ(kinds("= != <> < <= > >= || ?? + - * / % ( ) , { }"),
            (std::vector<Tok>{Tok::eq,     Tok::ne1,   Tok::ne2,    Tok::lt,       Tok::le,
                              Tok::gt,     Tok::ge,    Tok::concat, Tok::coalesce, Tok::plus,
                              Tok::minus,  Tok::mul,   Tok::div,    Tok::mod,      Tok::lparen,
                              Tok::rparen, Tok::comma, Tok::lbrace, Tok::rbrace,   Tok::end}));
}

TEST(RoutingLexer, StringsCommentsAndUnknowns) {
  EXPECT_EQ(kinds(R"('it\'s' "q\"" 'x\u0041')"),
            (std::vector<Tok>{Tok::string, Tok::string, Tok::string, Tok::end}));
  EXPECT_EQ(kinds("'open"), (std::vector<Tok>{Tok::unterminated_string, Tok::end}));
  EXPECT_EQ(kinds("a /* hidden */ b"), (std::vector<Tok>{Tok::id, Tok::id, Tok::end}));
  EXPECT_EQ(kinds("@ ; :"), (std::vector<Tok>{Tok::unknown, Tok::unknown, Tok::unknown, Tok::end}));
  EXPECT_EQ(kinds("/* open"), (std::vector<Tok>{Tok::div, Tok::mul, Tok::id, Tok::end}));
}

TEST(RoutingLexer, ColumnsCountCharacters) {
  EXPECT_EQ(column_of("abc", 0), 1u);
  EXPECT_EQ(column_of("abc", 2), 3u);
  EXPECT_EQ(column_of("\xC3\xA9 = x", 3), 3u);  // 'é' is one character
}

}  // namespace
}  // namespace edgehub::routing::detail
