// Every builtin of reference §3.7: results, undefined rules, arity and type errors.

#include <cmath>

#include "fixture.hpp"

namespace edgehub::routing::test {
namespace {

struct Case {
  const char* condition;
  const char* expected;
};

void check_all(std::initializer_list<Case> cases) {
  for (const auto& c : cases)
    EXPECT_EQ(run(c.condition), c.expected) << c.condition;
}

TEST(RoutingBuiltins, MathFunctions) {
  check_all({{"abs(-12) = 12", "true"},
             {"ABS(as_number(key2)) = 3", "true"},
             {"is_defined(abs(as_number(key1)))", "false"},
             {"is_defined(abs(3 / 0))", "true"},
             {"exp(0) = 1", "true"},
             {"abs(exp(1) - 2.718281) < 1e-6", "true"},
             {"exp(4000) = 3 / 0", "true"},
             {"power(2, 3) = 8", "true"},
             {"POWER(10, 4000) = 1 / 0", "true"},
             {"is_defined(power(3 % 0, 2))", "false"},
             {"is_defined(power(2, 3 / 0))", "true"},
             {"square(3) = 9", "true"},
             {"is_defined(square(3 % 0))", "false"},
             {"ceiling(2.1) = 3", "true"},
             {"ceiling(-2.1) = -2", "true"},
             {"floor(2.9) = 2", "true"},
             {"floor(-2.1) = -3", "true"},
             {"sign(0) = 0", "true"},
             {"sign(-2.5) = -1", "true"},
             {"sign(3 / 0) = 1", "true"},
             {"sign(-3 / 0) = -1", "true"},
             {"is_defined(sign(3 % 0))", "false"},
             {"sqrt(16) = 4", "true"},
             {"is_defined(sqrt(-4))", "false"},
             {"sqrt(-4) = -2", "undefined"},
             {"is_defined(sqrt(3 / 0))", "true"}});
}

TEST(RoutingBuiltins, AsNumberParsesLikeDotNet) {
  check_all({{"as_number('3') = 3", "true"},
             {"AS_NUMBER(key2) = 3", "true"},
             {"as_number(key1) = 3", "undefined"},
             {"as_number(key3) * 3 = 9", "undefined"},
             {"as_number(none) = 3", "undefined"},
             {"as_number(null_value) = 3", "undefined"},
             {"as_number(as_number(4)) * 3 = 12", "true"},
             {"as_number('10e10') = 10e10", "true"},
             {"as_number('10e1000') = 1 / 0", "true"},
             {"as_number('10000000000000000000000000') = 1e25", "true"},
             {"as_number(' 42 ') = 42", "true"},
             {"as_number('-1.5') = -1.5", "true"},
             {"as_number('1,234') = 1234", "true"},
             {"as_number('(5)') = -5", "true"},
             {"as_number('5-') = -5", "true"},
             {"as_number('Infinity') = 1 / 0", "true"},
             {"is_defined(as_number('NaN'))", "false"},
             {"is_defined(as_number('0x10'))", "false"},
             {"is_defined(as_number(''))", "false"},
             {"is_defined(as_number('1 2'))", "false"},
             {"as_number('.5') = 0.5", "true"}});
}

TEST(RoutingBuiltins, TypeChecks) {
  check_all({{"is_bool(true)", "true"},
             {"IS_BOOL(1 = 1)", "true"},
             {"is_bool(12.34)", "false"},
             {"is_bool(key1)", "false"},
             {"is_bool(none)", "false"},
             {"is_number(12.34)", "true"},
             {"is_number(3 / 0)", "false"},
             {"is_number(as_number(key1))", "false"},
             {"is_number(as_number(key2))", "true"},
             {"is_number('1')", "false"},
             {"is_string('x')", "true"},
             {"is_string(key1)", "true"},
             {"is_string(null_value)", "false"},
             {"is_string(none)", "false"},
             {"is_string(1)", "false"},
             {"is_defined(key1)", "true"},
             {"is_defined(key4)", "false"},
             {"is_defined(null_value)", "true"},
             {"is_defined(undefined and true)", "false"},
             {"is_defined(10e1000)", "true"},
             {"is_null(null)", "true"},
             {"is_null(null_value)", "true"},
             {"is_null(none)", "false"},
             {"is_null(3 / 0)", "false"},
             {"is_null(key1)", "false"},
             {"is_null(true)", "false"}});
}

TEST(RoutingBuiltins, StringFunctions) {
  check_all({{"concat('a', 'b', 'c', 'd') = 'abcd'", "true"},
             {"CONCAT('a', key1, 'd') = 'avalue1d'", "true"},
             {"concat('a', null_value, 'd') = 'ad'", "true"},
             {"is_defined(concat('a', none))", "false"},
             {"length('HELLO') = 5", "true"},
             {"LENGTH('') = 0", "true"},
             {"length(key3) = 6", "true"},
             {"length('\\u00e9t\\u00e9') = 3", "true"},
             {"length('\\ud83d\\ude00') = 2", "true"},
             {"is_defined(length(null_value))", "false"},
             {"lower('HeLLo') = 'hello'", "true"},
             {"lower(key3) = 'value3'", "true"},
             {"upper(key1) = 'VALUE1'", "true"},
             {"is_defined(upper(none))", "false"},
             {"is_defined(lower(null_value))", "false"},
             {"index_of('abcdef', 'cd') = 2", "true"},
             {"index_of('abc', 'xz') = -1", "true"},
             {"index_of('abc', '') = 0", "true"},
             {"index_of('\\u00e9abc', 'b') = 2", "true"},
             {"INDEX_OF(key1, 'val') = 0", "true"},
             {"index_of(null_value, '1') = 0", "undefined"},
             {"starts_with('abc', 'ab')", "true"},
             {"starts_with('abc', 'AB')", "false"},
             {"starts_with(none, 'a')", "undefined"},
             {"ends_with('abc', 'bc')", "true"},
             {"ENDS_WITH(key1, 'e1')", "true"},
             {"ends_with('abc', 'abcd')", "false"},
             {"contains('abc', 'b')", "true"},
             {"contains('abc', 'x')", "false"},
             {"contains(null_value, 'x')", "undefined"}});
}

TEST(RoutingBuiltins, SubstringRanges) {
  check_all({{"substring('abc', 1) = 'bc'", "true"},
             {"substring('abc', 3) = ''", "true"},
             {"substring('abc', 4) = ''", "undefined"},
             {"substring('abc', -1) = ''", "undefined"},
             {"substring('abc', 1 % 0) = ''", "undefined"},
             {"substring('abc', 1.9) = 'bc'", "true"},
             {"substring('abc', 1, 1) = 'b'", "true"},
             {"substring('abc', 1, 0) = ''", "true"},
             {"substring('hello', 0, 5) = 'hello'", "true"},
             {"substring('hello', 4, 1) = 'o'", "true"},
             {"substring('hello', 4, 2) = 'o'", "undefined"},
             {"substring('abc', 3, 0) = ''", "undefined"},
             {"substring('abc', -1, 0) = ''", "undefined"},
             {"substring('abc', 1, -2) = ''", "undefined"},
             {"substring('abc', 1, 1 % 0) = ''", "undefined"},
             {"substring(null_value, 1) = 'a'", "undefined"},
             {"substring('\\u00e9t\\u00e9', 1, 1) = 't'", "true"}});
  // Never throws or crashes on any range.
  for (int i = -10; i <= 10; ++i) {
    for (int j = -10; j <= 10; ++j) {
      const std::string c =
          "is_string(substring('hello', " + std::to_string(i) + ", " + std::to_string(j) + "))";
      const bool valid = i >= 0 && j >= 0 && i < 5 && i + j <= 5;
      EXPECT_EQ(run(c), valid ? "true" : "false") << c;
    }
  }
}

TEST(RoutingBuiltins, NamesAreCaseInsensitive) {
  check_all({{"Is_Defined(key1)", "true"}, {"SuBsTrInG('abc', 2) = 'c'", "true"}});
}

TEST(RoutingBuiltins, ArityAndTypeErrorsAtCompileTime) {
  for (const char* c : {"abs()",
                        "abs(1, 2)",
                        "abs('x')",
                        "abs(key1)",
                        "abs(null)",
                        "abs(undefined)",
                        "abs(true)",
                        "exp('1')",
                        "ceiling(null)",
                        "floor(true)",
                        "sign(key1)",
                        "sqrt(3, 3)",
                        "square()",
                        "power(2)",
                        "power(2, 'x')",
                        "power(null, 2)",
                        "as_number()",
                        "as_number(true)",
                        "as_number(null)",
                        "as_number(undefined)",
                        "is_defined()",
                        "is_defined(1, 2)",
                        "is_null()",
                        "concat()",
                        "concat('a')",
                        "concat(3, 'a')",
                        "concat('a', null)",
                        "concat('a', undefined)",
                        "concat('a', true)",
                        "length(12)",
                        "length(null)",
                        "length(undefined)",
                        "lower(true)",
                        "upper(1)",
                        "substring()",
                        "substring('a')",
                        "substring('a', 'b')",
                        "substring('a', 1, 'b')",
                        "substring(1, 1)",
                        "substring('a', 1, 2, 3)",
                        "index_of('a')",
                        "index_of('a', 1)",
                        "index_of(null, 'a')",
                        "starts_with('a')",
                        "starts_with('a', 'b', 'c')",
                        "ends_with(1, 'a')",
                        "contains('a', undefined)",
                        "nosuchfunction(1)",
                        "twin_change_includes(tags.x)"}) {
    EXPECT_FALSE(compiles(c)) << c;
  }
}

TEST(RoutingBuiltins, ErrorMessagesNameTheFunction) {
  EXPECT_EQ(run("abs(1, 2) = 1"),
            "compile_error: column 1: function 'abs' takes 1 argument, got 2");
  EXPECT_EQ(run("concat('a') = 'a'"),
            "compile_error: column 1: function 'concat' takes at least 2 arguments, got 1");
  EXPECT_EQ(run("foo(1)"), "compile_error: column 1: unknown function 'foo'");
  EXPECT_EQ(run("x = 1 AND Lower(3) = 'a'"),
            "compile_error: column 3: operator '=' cannot compare string with number (property "
            "values are strings: convert with as_number(...) to use them as numbers)");
}

TEST(RoutingBuiltins, TwinChangeIncludesOnlyFromTwinNotifications) {
  CompileOptions twin;
  twin.twin_change_source = true;
  core::Message m = json_message(R"({"properties":{"reported":{"a":1,"n":null,"o":{"x":1}}}})");
  m.kind = core::MessageKind::twin_change_notification;
  EXPECT_EQ(run("twin_change_includes(properties.reported.a)", m, twin), "true");
  EXPECT_EQ(run("twin_change_includes(properties.reported.o)", m, twin), "true");
  EXPECT_EQ(run("twin_change_includes(properties.reported.n)", m, twin), "false");
  EXPECT_EQ(run("twin_change_includes(properties.reported.missing)", m, twin), "false");
  EXPECT_EQ(run("TWIN_CHANGE_INCLUDES(properties.reported.a)", m, twin), "true");
  // No JSON content type (how edgeHub emits twin notifications): undefined.
  core::Message raw;
  raw.kind = core::MessageKind::twin_change_notification;
  raw.set_body(R"({"properties":{"reported":{"a":1}}})");
  EXPECT_EQ(run("twin_change_includes(properties.reported.a)", raw, twin), "undefined");
  EXPECT_FALSE(Condition::compile("twin_change_includes(properties.reported.a)").has_value());
  EXPECT_FALSE(Condition::compile("twin_change_includes(foo.bar)", twin).has_value());
  EXPECT_FALSE(Condition::compile("twin_change_includes()", twin).has_value());
}

}  // namespace
}  // namespace edgehub::routing::test
