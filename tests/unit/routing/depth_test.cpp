// Hostile nesting is a compile error, never a stack overflow; long AND/OR chains are fine.

#include <string>

#include "edgehub/routing/route_table.hpp"
#include "fixture.hpp"

namespace edgehub::routing::test {
namespace {

TEST(RoutingDepth, DeepParenthesesAreRejected) {
  for (std::size_t n : {kMaxExpressionDepth + 1, std::size_t{10000}, std::size_t{200000}}) {
    const std::string text = std::string(n, '(') + "true" + std::string(n, ')');
    CompileError error;
    EXPECT_FALSE(Condition::compile(text, {}, &error).has_value());
    EXPECT_EQ(error.code, RoutingErrc::too_deep);
  }
  const std::size_t ok = kMaxExpressionDepth - 2;
  EXPECT_EQ(run(std::string(ok, '(') + "true" + std::string(ok, ')')), "true");
}

TEST(RoutingDepth, DeepUnaryAndCallsAreRejected) {
  std::string nots;
  for (int i = 0; i < 100000; ++i)
    nots += "NOT ";
  EXPECT_FALSE(compiles(nots + "true"));
  std::string calls;
  for (int i = 0; i < 5000; ++i)
    calls += "abs(";
  calls += "1" + std::string(5000, ')') + " = 1";
  EXPECT_FALSE(compiles(calls));
}

TEST(RoutingDepth, LongArithmeticChainsAreBounded) {
  std::string sum = "1";
  for (int i = 0; i < 10000; ++i)
    sum += " + 1";
  CompileError error;
  EXPECT_FALSE(Condition::compile(sum + " = 10001", {}, &error).has_value());
  EXPECT_EQ(error.code, RoutingErrc::too_deep);
}

TEST(RoutingDepth, LongAndOrAndConcatChainsAreFlat) {
  std::string ors = "$connectionDeviceId = 'd0'";
  for (int i = 1; i < 2000; ++i)
    ors += " OR $connectionDeviceId = 'd" + std::to_string(i) + "'";
  core::Message m;
  m.sys_prop(core::SystemProperty::connection_device_id) = "d1999";
  EXPECT_EQ(run(ors, m), "true");
  m.sys_prop(core::SystemProperty::connection_device_id) = "other";
  EXPECT_EQ(run(ors, m), "false");
  std::string ands = "true";
  for (int i = 0; i < 2000; ++i)
    ands += " AND true";
  EXPECT_EQ(run(ands), "true");
  std::string cat = "'a'";
  for (int i = 0; i < 2000; ++i)
    cat += " || 'a'";
  EXPECT_EQ(run("length(" + cat + ") = 2001"), "true");
}

}  // namespace
}  // namespace edgehub::routing::test
