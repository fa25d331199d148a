// $body queries (reference §3.8): preconditions, paths, value types, app-property precedence.

#include "fixture.hpp"

namespace edgehub::routing::test {
namespace {

constexpr std::string_view kBody =
    R"({"temp": 55.5, "name": "pump", "on": true, "nothing": null, "arr": [10, {"x": "y"}],
        "nested": {"deep": {"v": -1}}, "esc": "a\"b\u00e9", "dup": 1, "dup": 2})";

TEST(RoutingBodyQuery, ScalarsBecomeTypedValues) {
  const auto m = json_message(kBody);
  EXPECT_EQ(run("$body.temp > 50", m), "true");
  EXPECT_EQ(run("$body.temp = 55.5", m), "true");
  EXPECT_EQ(run("$body.name = 'pump'", m), "true");
  EXPECT_EQ(run("$body.on = true", m), "true");
  EXPECT_EQ(run("$body.on", m), "true");
  EXPECT_EQ(run("$body.arr[0] = 10", m), "true");
  EXPECT_EQ(run("$body.arr[1].x = 'y'", m), "true");
  EXPECT_EQ(run("$body.nested.deep.v < 0", m), "true");
  EXPECT_EQ(run("$body.esc = 'a\"b\\u00e9'", m), "true");
  EXPECT_EQ(run("$body.dup = 2", m), "true");  // last duplicate wins
  EXPECT_EQ(run("$BODY.temp > 50", m), "true");
  EXPECT_EQ(run("{$body.temp} > 50", m), "true");
  EXPECT_EQ(run("$body.temp * 2 = 111", m), "true");
  EXPECT_EQ(run("- $body.temp < 0", m), "true");
  EXPECT_FALSE(compiles("-$body.temp < 0"));  // one identifier: a string property
  EXPECT_EQ(run("as_number($body.temp) = 55.5", m), "true");
  EXPECT_EQ(run("upper($body.name) = 'PUMP'", m), "true");
  EXPECT_EQ(run("$body.name || '-1' = 'pump-1'", m), "true");
}

TEST(RoutingBodyQuery, MissingPathsAreNullObjectsAndArraysUndefined) {
  const auto m = json_message(kBody);
  EXPECT_EQ(run("is_null($body.missing)", m), "true");
  EXPECT_EQ(run("is_defined($body.missing)", m), "true");
  EXPECT_EQ(run("is_null($body.nothing)", m), "true");
  EXPECT_EQ(run("$body.missing > 1", m), "undefined");
  EXPECT_EQ(run("$body.missing = $body.nothing", m), "true");  // null = null
  EXPECT_EQ(run("is_defined($body.nested)", m), "false");
  EXPECT_EQ(run("is_defined($body.arr)", m), "false");
  EXPECT_EQ(run("is_null($body.arr[5])", m), "true");
  EXPECT_EQ(run("is_null($body.temp.x)", m), "true");
  EXPECT_EQ(run("is_null($body.name[0])", m), "true");
}

TEST(RoutingBodyQuery, RuntimeTypeMismatchIsUndefined) {
  const auto m = json_message(kBody);
  EXPECT_EQ(run("$body.name > 3", m), "undefined");
  EXPECT_EQ(run("$body.temp = 'x'", m), "undefined");
  EXPECT_EQ(run("$body.temp + 1 > 3", m), "true");
  EXPECT_EQ(run("is_defined($body.name + 1)", m), "false");
  EXPECT_EQ(run("$body.name AND true", m), "undefined");
  EXPECT_EQ(run("abs($body.name) = 1", m), "undefined");
  EXPECT_EQ(run("$body.temp = $body.temp", m), "true");
  EXPECT_EQ(run("$body.temp = null", m), "undefined");
  EXPECT_EQ(run("$body.nothing = null", m), "true");
}

TEST(RoutingBodyQuery, PreconditionsOnContentTypeAndEncoding) {
  EXPECT_EQ(run("$body.temp > 50", json_message(kBody, "text/plain")), "undefined");
  EXPECT_EQ(run("$body.temp > 50", json_message(kBody, "")), "undefined");
  EXPECT_EQ(run("$body.temp > 50", json_message(kBody, "application/json", "")), "undefined");
  EXPECT_EQ(run("$body.temp > 50", json_message(kBody, "application/json", "ascii")), "undefined");
  EXPECT_EQ(run("$body.temp > 50", json_message(kBody, "Application/JSON", "UTF-8")), "true");
  EXPECT_EQ(run("$body.temp > 50", json_message(kBody, "application/json; charset=utf-8")),
            "undefined");
  EXPECT_EQ(run("is_null($body.temp)", json_message("[1, 2]")), "false");
  EXPECT_EQ(run("is_defined($body.temp)", json_message("[1, 2]")), "false");
  EXPECT_EQ(run("is_defined($body.temp)", json_message("{\"temp\": 1")), "false");
  EXPECT_EQ(run("is_defined($body.temp)", json_message("{\"temp\": 1} x")), "false");
  EXPECT_EQ(run("is_defined($body.temp)", json_message("")), "false");
}

TEST(RoutingBodyQuery, Utf16AndUtf32Bodies) {
  const std::string json = R"({"t": 7, "s": "h\u00e9"})";
  std::string utf16, utf32;
  for (const char c : json) {
    utf16 += c;
    utf16 += '\0';
    utf32 += c;
    utf32.append(3, '\0');
  }
  EXPECT_EQ(run("$body.t = 7", json_message(utf16, "application/json", "utf-16")), "true");
  EXPECT_EQ(run("$body.s = 'h\\u00e9'", json_message(utf16, "application/json", "utf-16")), "true");
  EXPECT_EQ(run("$body.t = 7", json_message(utf32, "application/json", "utf-32")), "true");
  EXPECT_EQ(run("$body.t = 7", json_message(utf16, "application/json", "utf-8")), "undefined");
}

TEST(RoutingBodyQuery, AnApplicationPropertyNamedLikeTheQueryWins) {
  auto m = json_message(R"({"x": 1})");
  m.set_app("$body.x", "from-app");
  EXPECT_EQ(run("$body.x = 'from-app'", m), "true");
  EXPECT_EQ(run("{$body.x} = 1", m), "true");
  EXPECT_EQ(run("$body.x = 1", m), "undefined");
}

TEST(RoutingBodyQuery, BadPathsAreCompileErrors) {
  EXPECT_EQ(run("$body. = 1"), "compile_error: column 1: $body query cannot be empty");
  EXPECT_FALSE(compiles("$body.a..b = 1"));
  EXPECT_FALSE(compiles("$body.a[x] = 1"));
  EXPECT_FALSE(compiles("$body.a[-1] = 1"));
  EXPECT_FALSE(compiles("$body.[0] = 1"));
  EXPECT_FALSE(compiles("$body.a. = 1"));
  EXPECT_FALSE(compiles("$body.a[0][1] = 1"));  // one index per member
  EXPECT_TRUE(compiles("$body.a[0].b[1] = 1"));
}

TEST(RoutingBodyQuery, ContextCachesTheBodyAcrossConditions) {
  const auto m = json_message(kBody);
  auto a = Condition::compile("$body.temp > 50");
  auto b = Condition::compile("$body.name = 'pump'");
  ASSERT_TRUE(a && b);
  EvalContext context;
  context.bind(m);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(a->evaluate(context), Tri::true_);
    EXPECT_EQ(b->evaluate(context), Tri::true_);
  }
  const auto other = json_message(R"({"temp": 1, "name": "x"})");
  context.bind(other);
  EXPECT_EQ(a->evaluate(context), Tri::false_);
  EXPECT_EQ(b->evaluate(context), Tri::false_);
}

}  // namespace
}  // namespace edgehub::routing::test
