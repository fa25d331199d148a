// Operators, literals, precedence and edgeHub's three-valued logic (reference §3.2, §3.6).

#include "fixture.hpp"

namespace edgehub::routing::test {
namespace {

struct Case {
  const char* condition;
  const char* expected;
};

void check_all(std::initializer_list<Case> cases) {
  for (const auto& c : cases) {
    EXPECT_EQ(run(c.condition), c.expected) << c.condition;
  }
}

TEST(RoutingOperators, EmptyAndNonBooleanConditionsAreUndefined) {
  check_all({{"", "undefined"},
             {"   ", "undefined"},
             {"/* only a comment */", "undefined"},
             {"3", "undefined"},
             {"'a string'", "undefined"},
             {"\"a string\"", "undefined"},
             {"undefined", "undefined"},
             {"key1", "undefined"}});
}

TEST(RoutingOperators, BooleanLiterals) {
  check_all({{"true", "true"}, {"false", "false"}, {"not true", "false"}, {"NOT false", "true"}});
}

TEST(RoutingOperators, EqualityOnEveryType) {
  check_all({{"3 = 3", "true"},
             {"3 = 4", "false"},
             {"'3' = '3'", "true"},
             {"\"3\" = '4'", "false"},
             {"true = true", "true"},
             {"true = false", "false"},
             {"3 != 3", "false"},
             {"3 != 4", "true"},
             {"3 <> 4", "true"},
             {"'a' <> 'a'", "false"},
             {"false <> true", "true"},
             {"key2 = '3'", "true"},
             {"key2 != '3'", "false"},
             {"none = 'x'", "undefined"},
             {"none <> 'x'", "undefined"}});
}

TEST(RoutingOperators, OrderingNumbersStringsAndBooleans) {
  check_all({{"4 < 7", "true"},
             {"7 < 7", "false"},
             {"7 <= 7", "true"},
             {"8 <= 7", "false"},
             {"8 > 7", "true"},
             {"7 >= 7", "true"},
             {"'a' < 'b'", "true"},
             {"'b' < 'a'", "false"},
             {"'a' <= 'a'", "true"},
             {"'B' < 'a'", "true"},
             {"'abc' > 'ab'", "true"},
             {"false < true", "true"},
             {"true >= false", "true"},
             {"'a' < none", "undefined"}});
}

TEST(RoutingOperators, ArithmeticIsDoubleOnly) {
  check_all({{"3 + 4 = 7", "true"},
             {"3 - 4 = -1", "true"},
             {"3 * 4 = 12", "true"},
             {"3 / 4 = 0.75", "true"},
             {"4 % 3 = 1", "true"},
             {"-4 % 3 = -1", "true"},
             {"-(3 + 4) = -7", "true"},
             {"- - 3 = 3", "true"},
             {"2 + 3 * 4 = 14", "true"},
             {"(2 + 3) * 4 = 20", "true"},
             {"10 - 4 - 3 = 3", "true"},
             {"3 / 0 = 1 / 0", "true"},
             {"is_defined(3 % 0)", "false"},
             {"is_defined(0 / 0)", "false"},
             {"is_defined(3 / 0)", "true"},
             {"(3 + as_number(key2)) = 6", "true"},
             {"is_defined(3 + as_number(none))", "false"},
             {"is_defined(3 + as_number(key1))", "false"}});
}

TEST(RoutingOperators, NumberLiterals) {
  check_all({{"0x10 = 16", "true"},
             {"0XfF = 255", "true"},
             {"0xFFFFFFFFFFFFFFFF = -1", "true"},
             {"1.5e3 = 1500", "true"},
             {".5 = 0.5", "true"},
             {"10e1000 = 1 / 0", "true"},
             {"-1 < 0", "true"},
             {"1e-400 = 0", "true"}});
}

TEST(RoutingOperators, UnparsableLiteralsAreTheUndefinedConstant) {
  // Lexed as numbers but not numbers to .NET: edgeHub substitutes the undefined constant, whose
  // static type then rejects comparisons with numbers.
  EXPECT_EQ(run("is_defined(e5)"), "false");
  EXPECT_EQ(run("is_defined(0x1FFFFFFFFFFFFFFFF)"), "false");
  EXPECT_EQ(run("e5 = 1"),
            "compile_error: column 4: operator '=' cannot compare undefined with "
            "number (test for a missing value with is_defined(...))");
}

TEST(RoutingOperators, AndOrTruthTablesAreKleene) {
  check_all({{"true and true", "true"},           {"true AND false", "false"},
             {"false and undefined", "false"},    {"undefined and false", "false"},
             {"true and undefined", "undefined"}, {"undefined and undefined", "undefined"},
             {"true or false", "true"},           {"false OR false", "false"},
             {"undefined or true", "true"},       {"true or undefined", "true"},
             {"false or undefined", "undefined"}, {"undefined or undefined", "undefined"},
             {"true or none = 'x'", "true"},      {"none = 'x' or false", "undefined"},
             {"none = 'x' and false", "false"},   {"false and none = 'x'", "false"},
             {"not (none = 'x')", "undefined"},   {"true and true and false", "false"},
             {"false or false or true", "true"},  {"true aNd not false", "true"}});
}

TEST(RoutingOperators, NullLiteralSemantics) {
  check_all({{"null", "false"},
             {"not null", "true"},
             {"null and null", "false"},
             {"(null and null) = null", "true"},
             {"(null and true) = null", "true"},
             {"(null and false) = null", "true"},
             {"null or true", "true"},
             {"null or false", "false"},
             {"(null or null) = null", "true"},
             {"null = null", "true"},
             {"null != null", "false"},
             {"null < null", "false"},
             {"null <= null", "true"},
             {"null >= null", "true"},
             {"is_null(null)", "true"},
             {"is_defined(null)", "true"}});
}

TEST(RoutingOperators, CoalesceTakesTheFirstDefinedOperand) {
  check_all({{"undefined ?? undefined", "undefined"},
             {"(key1 ?? 'hello') = 'value1'", "true"},
             {"(none ?? 'hello') = 'hello'", "true"},
             {"(none ?? none ?? 'hello') = 'hello'", "true"},
             {"(as_number(key2) ?? 12.34) = 3", "true"},
             {"(as_number(key1) ?? 12.34) = 12.34", "true"},
             {"(3 % 0 ?? 12.34) = 12.34", "true"},
             {"(none ?? none) = 'value'", "undefined"},
             {"is_null(null_value ?? 'x')", "true"}});
  // The undefined literal only coalesces with itself (same static type rule).
  EXPECT_FALSE(compiles("(undefined ?? 'x') = 'x'"));
  EXPECT_FALSE(compiles("undefined ?? true"));
}

TEST(RoutingOperators, ConcatOperatorJoinsStringsAndTreatsNullAsEmpty) {
  check_all({{"'a' || 'b' || 'c' = 'abc'", "true"},
             {"'a' || key1 || 'd' = 'avalue1d'", "true"},
             {"'a' || null_value || 'd' = 'ad'", "true"},
             {"is_defined('a' || none)", "false"},
             {"is_string('a' || 'b')", "true"}});
}

TEST(RoutingOperators, PrecedenceFollowsEdgeHub) {
  // NOT binds tighter than comparisons, so NOT key1 = 'x' is (NOT key1) = 'x': a type error.
  EXPECT_EQ(run("NOT key1 = 'x'"),
            "compile_error: column 1: NOT needs a boolean operand, got string. NOT binds tighter "
            "than comparisons: write NOT (a = b)");
  EXPECT_EQ(run("NOT (key1 = 'x')"), "true");
  // Comparisons bind tighter than AND, AND tighter than OR, OR tighter than ??.
  EXPECT_EQ(run("key1 = 'value1' AND key2 = '3' OR false"), "true");
  EXPECT_EQ(run("false OR true AND false"), "false");
  EXPECT_EQ(run("1 < 2 = true"), "true");
  EXPECT_EQ(run("2 = 2 = true"), "true");
}

TEST(RoutingOperators, KeywordsAreCaseInsensitiveLiteralsAreNot) {
  EXPECT_EQ(run("is_defined(TRUE)"), "false");  // TRUE is a property name, not the literal
  EXPECT_FALSE(compiles("TRUE aNd True"));      // ... of type string, so AND rejects it
  EXPECT_EQ(run("true AnD true oR false"), "true");
  EXPECT_EQ(run("is_defined(NULL)"), "false");  // a property named NULL
  EXPECT_EQ(run("Not false"), "true");
}

TEST(RoutingOperators, TypeErrorsAreCompileErrors) {
  for (const char* c :
       {"3 + 'a'",     "'a' + 'b'",      "true + 3",     "3 + undefined",   "undefined + undefined",
        "3 + null",    "null_value + 3", "3 - true",     "3 * 'x'",         "3 / key1",
        "key1 % 2",    "3 = none",       "3 <> key1",    "3 < key1",        "key1 > 3",
        "3 = null",    "null = 3",       "key1 = null",  "'a' = undefined", "true = 1",
        "- key1",      "- true",         "not 3",        "not 'a'",         "not undefined",
        "3 and true",  "key1 or true",   "'a' || 3",     "'a' || null",     "'a' || undefined",
        "'a' || true", "key1 ?? 3",      "key1 ?? null", "key1 ?? true",    "3 ?? key1",
        "(true ?? 3)"}) {
    EXPECT_FALSE(compiles(c)) << c;
  }
}

TEST(RoutingOperators, MinusGluedToANameIsPartOfTheName) {
  // '-' is an identifier character: -key1 is a property named "-key1", not a negation.
  EXPECT_EQ(run("-key1 = 'x'"), "undefined");
  EXPECT_EQ(run("is_defined(-true)"), "false");
}

TEST(RoutingOperators, UndefinedLiteralIsOnlyUsableWithLogicAndItself) {
  check_all({{"undefined < undefined", "undefined"},
             {"undefined = undefined", "undefined"},
             {"undefined or false", "undefined"},
             {"is_defined(undefined)", "false"}});
}

}  // namespace
}  // namespace edgehub::routing::test
