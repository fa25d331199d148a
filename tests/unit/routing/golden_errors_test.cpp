// Golden compile-error messages: tests/golden/routing/compile_errors.txt holds pairs of lines,
// "condition: <text>" then "error: <expected message>", so message wording changes are reviewed.

#include <fstream>
#include <string>
#include <vector>

#include "fixture.hpp"

namespace edgehub::routing::test {
namespace {

TEST(RoutingGolden, CompileErrorMessages) {
  std::ifstream in(EDGEHUB_SOURCE_DIR "/tests/golden/routing/compile_errors.txt");
  ASSERT_TRUE(in) << "missing golden file";
  std::string line, condition;
  int checked = 0;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("condition: ", 0) == 0) {
      condition = line.substr(11);
      continue;
    }
    ASSERT_EQ(line.rfind("error: ", 0), 0u) << "line " << line_no;
    CompileError error;
    const auto c = Condition::compile(condition, {}, &error);
    EXPECT_FALSE(c.has_value()) << condition;
    EXPECT_EQ(error.to_string(), line.substr(7)) << "condition: " << condition;
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

}  // namespace
}  // namespace edgehub::routing::test
