// Property lookup rules of reference §3.5: bare names, $name, {$name}, case rules, null values.

#include "fixture.hpp"

namespace edgehub::routing::test {
namespace {

TEST(RoutingProperties, BareNamesAreApplicationPropertiesCaseInsensitively) {
  EXPECT_EQ(run("key1 = 'value1'"), "true");
  EXPECT_EQ(run("KEY1 = 'value1'"), "true");
  EXPECT_EQ(run("key1 = 'VALUE1'"), "false");  // values are case-sensitive
  EXPECT_EQ(run("none = 'value1'"), "undefined");
  EXPECT_EQ(run("messageId = 'mid-1'"), "undefined");  // not a system property lookup
}

TEST(RoutingProperties, DollarNamesPreferAnApplicationPropertyOfThatName) {
  EXPECT_EQ(run("$messageId = 'app-wins'"), "true");
  EXPECT_EQ(run("{$messageId} = 'mid-1'"), "true");
  EXPECT_EQ(run("{ $messageId } = 'mid-1'"), "true");
  EXPECT_EQ(run("$MESSAGEID = 'app-wins'"), "true");
  EXPECT_EQ(run("$connectionDeviceId = 'dev1'"), "true");
  EXPECT_EQ(run("$ConnectionDeviceID = 'dev1'"), "true");
  EXPECT_EQ(run("$connectionDeviceId = 'DEV1'"), "false");
}

TEST(RoutingProperties, SystemPropertiesAreStrings) {
  EXPECT_EQ(run("as_number($userId) = 4"), "true");
  EXPECT_EQ(run("$userId = '4'"), "true");
  EXPECT_FALSE(compiles("$userId = 4"));
  EXPECT_FALSE(compiles("$contentType = 1"));
}

TEST(RoutingProperties, CorrelationIdIsReachableAsCidAndCorrelationId) {
  EXPECT_EQ(run("$cid = 'corr-1'"), "true");
  EXPECT_EQ(run("$correlationId = 'corr-1'"), "true");
}

TEST(RoutingProperties, MissingAndUnknownSystemPropertiesAreUndefined) {
  EXPECT_EQ(run("is_defined($connectionModuleId)"), "false");
  EXPECT_EQ(run("NOT IS_DEFINED($connectionModuleId)"), "true");
  EXPECT_EQ(run("is_defined($connectionAuthMethod)"), "false");
  EXPECT_EQ(run("is_defined($noSuchProperty)"), "false");
  EXPECT_EQ(run("is_defined($body)"), "false");
  // Brackets outside a $body query make the undefined constant (it is not a property name).
  EXPECT_EQ(run("is_defined($foo[0])"), "false");
  EXPECT_FALSE(compiles("$foo[0] = 'a'"));
}

TEST(RoutingProperties, NullValuedApplicationProperty) {
  EXPECT_EQ(run("is_defined(null_value)"), "true");
  EXPECT_EQ(run("is_null(null_value)"), "true");
  EXPECT_EQ(run("null_value = 'x'"), "undefined");
  EXPECT_EQ(run("null_value <> 'x'"), "undefined");
  EXPECT_EQ(run("null_value = null_value"), "undefined");
  EXPECT_EQ(run("3 < as_number(null_value)"), "undefined");
}

TEST(RoutingProperties, HyphenatedAndDottedNamesAreSingleIdentifiers) {
  core::Message m;
  m.set_app("temp-sensor", "on");
  m.set_app("a.b", "dotted");
  m.sys_prop(core::SystemProperty::absolute_expiry_time) = "2030-01-01T00:00:00Z";
  m.sys_prop(core::SystemProperty::interface_id) = "urn:x";
  EXPECT_EQ(run("temp-sensor = 'on'", m), "true");
  EXPECT_EQ(run("a.b = 'dotted'", m), "true");
  EXPECT_EQ(run("$absolute-expiry-time = '2030-01-01T00:00:00Z'", m), "true");
  EXPECT_EQ(run("$iothub-interface-id = 'urn:x'", m), "true");
}

TEST(RoutingProperties, EdgeHubLexerQuirksAreKept) {
  core::Message m;
  m.set_app("a", "1");
  // '!' is an identifier character, so a!='1' is the property "a!" compared with '1'.
  EXPECT_EQ(run("a!='1'", m), "undefined");
  EXPECT_EQ(run("a != '2'", m), "true");
  // Without spaces, 'x'||'y' is a single identifier.
  EXPECT_EQ(run("'x'||'y' = 'xy'", m), "undefined");
  // 3+4 is one identifier; with spaces it is arithmetic.
  EXPECT_FALSE(compiles("3+4 = 7"));
  EXPECT_EQ(run("3 + 4 = 7", m), "true");
  // '-4' right after a number is a negative literal, not a subtraction.
  EXPECT_FALSE(compiles("3 -4 = -1"));
  EXPECT_FALSE(compiles("a == '1'"));
  EXPECT_FALSE(compiles("a = '1' && true"));
}

TEST(RoutingProperties, StringLiteralEscapes) {
  core::Message m;
  m.set_app("q", "it's \"quoted\" \\ A");
  EXPECT_EQ(run(R"(q = 'it\'s "quoted" \\ \u0041')", m), "true");
  EXPECT_EQ(run(R"(q = "it's \"quoted\" \\ A")", m), "true");
  EXPECT_EQ(run(R"(length('\\u0041') = 2)"), "true");  // edgeHub unescapes \uXXXX first
  EXPECT_FALSE(compiles(R"(q = 'a\nb')"));
  EXPECT_FALSE(compiles("q = 'unterminated"));
}

}  // namespace
}  // namespace edgehub::routing::test
