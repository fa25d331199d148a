#include "routing/text.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace edgehub::routing::detail {
namespace {

TEST(RoutingText, DotNetDoubleParsing) {
  EXPECT_EQ(parse_dotnet_double("42"), 42.0);
  EXPECT_EQ(parse_dotnet_double(" -1.25e2 "), -125.0);
  EXPECT_EQ(parse_dotnet_double("+7"), 7.0);
  EXPECT_EQ(parse_dotnet_double("1,000,000"), 1e6);
  EXPECT_EQ(parse_dotnet_double("(3)"), -3.0);
  EXPECT_EQ(parse_dotnet_double("3-"), -3.0);
  EXPECT_EQ(parse_dotnet_double("5."), 5.0);
  EXPECT_EQ(parse_dotnet_double("1e400"), INFINITY);
  EXPECT_EQ(parse_dotnet_double("-1e400"), -INFINITY);
  EXPECT_EQ(parse_dotnet_double("-Infinity"), -INFINITY);
  EXPECT_TRUE(std::isnan(*parse_dotnet_double("NaN")));
  for (const char* bad :
       {"", " ", "-", ".", "e5", "1e", "0x1", "1.2.3", "1 2", ",1", "(-1)", "abc", "1e+", "--1"}) {
    EXPECT_FALSE(parse_dotnet_double(bad).has_value()) << bad;
  }
}

TEST(RoutingText, UnescapeRunsTwoPassesLikeEdgeHub) {
  EXPECT_EQ(unescape_literal(R"(a\'b\"c\\d)"), "a'b\"c\\d");
  EXPECT_EQ(unescape_literal(R"(\u0041\U0042)"), "AB");
  EXPECT_EQ(unescape_literal(R"(\u00e9)"), "\xC3\xA9");
  EXPECT_EQ(unescape_literal(R"(\ud83d\ude00)"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(unescape_literal(R"(\ud83d)"), "\xEF\xBF\xBD");
  EXPECT_EQ(unescape_literal(R"(\\u0041)"), "\\A");  // \uXXXX is replaced first
  EXPECT_EQ(unescape_literal(R"(\u005c')"), "'");    // ... and can make a new escape
}

TEST(RoutingText, Utf16Positions) {
  EXPECT_EQ(utf16_length("abc"), 3u);
  EXPECT_EQ(utf16_length("\xC3\xA9"), 1u);
  EXPECT_EQ(utf16_length("\xF0\x9F\x98\x80"), 2u);
  EXPECT_EQ(utf16_to_byte("a\xC3\xA9z", 2), 3u);
  EXPECT_FALSE(utf16_to_byte("\xF0\x9F\x98\x80", 1).has_value());
  EXPECT_FALSE(utf16_to_byte("ab", 3).has_value());
}

TEST(RoutingText, Transcoding) {
  std::string out;
  utf16le_to_utf8(std::string("h\0\xE9\0", 4), out);
  EXPECT_EQ(out, "h\xC3\xA9");
  utf32le_to_utf8(std::string("\x00\xF6\x01\x00", 4), out);
  EXPECT_EQ(out, "\xF0\x9F\x98\x80");
  utf16le_to_utf8(std::string("\x3D\xD8", 2), out);  // lone high surrogate
  EXPECT_EQ(out, "\xEF\xBF\xBD");
}

}  // namespace
}  // namespace edgehub::routing::detail
