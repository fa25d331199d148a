#include "routing/json_body.hpp"

#include <gtest/gtest.h>

#include <string>

namespace edgehub::routing::detail {
namespace {

BodyPath path(std::string_view text) {
  BodyPath p;
  std::string reason;
  EXPECT_TRUE(parse_body_path(text, p, reason)) << text << ": " << reason;
  return p;
}

TEST(RoutingJsonBody, AcceptsOnlyOneObject) {
  EXPECT_TRUE(json_is_object("{}"));
  EXPECT_TRUE(json_is_object(" {\"a\": [1, 2.5e3, -0, true, false, null, \"s\\u00e9\\n\"]} \n"));
  for (const char* bad :
       {"", "[]", "1", "\"s\"", "{", "{\"a\":}", "{\"a\" 1}", "{a: 1}", "{\"a\": 01}",
        "{\"a\": 1,}", "{\"a\": [1,]}", "{\"a\": .5}", "{\"a\": 1.}", "{\"a\": \"\x01\"}",
        "{\"a\": \"\\x\"}", "{} {}", "{\"a\": tru}", "{'a': 1}", "{\"a\": NaN}"}) {
    EXPECT_FALSE(json_is_object(bad)) << bad;
  }
}

TEST(RoutingJsonBody, NestingIsBounded) {
  std::string deep;
  for (int i = 0; i < 70; ++i)
    deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 70; ++i)
    deep += "}";
  EXPECT_FALSE(json_is_object(deep));
  std::string ok = "{\"a\":[[[[1]]]]}";
  EXPECT_TRUE(json_is_object(ok));
}

TEST(RoutingJsonBody, LookupFollowsMembersAndIndexes) {
  Arena arena;
  const std::string doc =
      R"({"a": {"b": [1, {"c": "x\"y"}, [2]]}, "k": "v", "e": {}, "n": null, "k": "last"})";
  ASSERT_TRUE(json_is_object(doc));
  EXPECT_EQ(json_lookup(doc, path("a.b[0]"), arena).n, 1.0);
  EXPECT_EQ(json_lookup(doc, path("a.b[1].c"), arena).s, "x\"y");
  EXPECT_EQ(json_lookup(doc, path("k"), arena).s, "last");
  EXPECT_EQ(json_lookup(doc, path("a.b[2]"), arena).kind, Kind::undefined);
  EXPECT_EQ(json_lookup(doc, path("e"), arena).kind, Kind::undefined);
  EXPECT_EQ(json_lookup(doc, path("n"), arena).kind, Kind::null);
  EXPECT_EQ(json_lookup(doc, path("zz"), arena).kind, Kind::null);
  EXPECT_EQ(json_lookup(doc, path("a.b[9]"), arena).kind, Kind::null);
  EXPECT_EQ(json_lookup(doc, path("k.x"), arena).kind, Kind::null);
  EXPECT_EQ(json_lookup(doc, path("e.x"), arena).kind, Kind::null);
  bool container = false;
  json_lookup(doc, path("a"), arena, &container);
  EXPECT_TRUE(container);
}

TEST(RoutingJsonBody, PathSyntax) {
  EXPECT_EQ(path("a.b[3].c").size(), 4u);
  BodyPath p;
  std::string reason;
  for (const char* bad : {"", ".a", "a.", "a..b", "a[", "a[]", "a[x]", "a[1]b", "a[1][2]", "[1]"}) {
    EXPECT_FALSE(parse_body_path(bad, p, reason)) << bad;
    EXPECT_FALSE(reason.empty());
  }
}

}  // namespace
}  // namespace edgehub::routing::detail
