// Acceptance 2 of issue 4: `edgehubctl route test --batch` over route_cases.jsonl (expectations
// derived from edgehub-reference.md §3 by make_route_cases.py) in a single process.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "run_command.hpp"

namespace edgehub::routing::test {
namespace {

const std::string kCases = EDGEHUB_SOURCE_DIR "/tests/component/routing/route_cases.jsonl";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    out.push_back(line);
  return out;
}

TEST(RouteBatch, EveryCaseMatchesItsExpectation) {
  std::ifstream in(kCases);
  ASSERT_TRUE(in) << kCases;
  std::vector<nlohmann::json> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    cases.push_back(nlohmann::json::parse(line));
  }
  ASSERT_GE(cases.size(), 500u);

  const auto r = run_command(quote(EDGEHUBCTL_PATH) + " route test --batch < " + quote(kCases));
  EXPECT_EQ(r.exit_code, 0);
  const auto results = lines_of(r.out);
  ASSERT_EQ(results.size(), cases.size());
  std::size_t failures = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const std::string expected = c.at("expected");
    // "compile_error" stands for any compile error; the wording is pinned by the golden file.
    const bool ok = expected == "compile_error" ? results[i].rfind("compile_error: ", 0) == 0
                                                : results[i] == expected;
    if (!ok) {
      ++failures;
      ADD_FAILURE() << "case " << i + 1 << " (" << c.value("rule", "")
                    << "): " << c.value("condition", c.value("route", ""))
                    << "\n  expected: " << expected << "\n  got:      " << results[i];
    }
  }
  EXPECT_EQ(failures, 0u);
}

TEST(RouteBatch, UnreadableLinesAreReportedAndTheRestStillRuns) {
  const std::string input =
      "{\"condition\": \"true\"}\nnot json\n{\"message\": {}}\n"
      "{\"condition\": \"x = 'a'\", \"message\": {\"properties\": {\"x\": 1}}}\n"
      "\n{\"route\": \"FROM /* INTO $upstream\"}\n";
  const auto r = run_command("printf '%s' " + quote(input) + " | " + quote(EDGEHUBCTL_PATH) +
                             " route test --batch");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(lines_of(r.out),
            (std::vector<std::string>{
                "true", "error: line 2: not a JSON object",
                "error: line 3: needs a \"condition\" or \"route\" string",
                "error: line 4: property \"x\" must be a string or null (property values are "
                "strings)",
                "true iothub"}));
}

TEST(RouteBatch, SingleCaseModesAndUsage) {
  const std::string ctl = quote(EDGEHUBCTL_PATH);
  auto r =
      run_command(ctl + " route test --condition " + quote("NOT IS_DEFINED($connectionModuleId)"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "true\n");
  r = run_command("echo " + quote(R"({"properties": {"level": "9"}})") + " | " + ctl +
                  " route test --message - --route " +
                  quote("FROM /messages/* WHERE as_number(level) > 3 INTO "
                        "BrokeredEndpoint(\"/modules/m/inputs/i\")") +
                  " --edge-device-id gw1");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "true gw1/m/i\n");
  r = run_command(ctl + " route test --condition " + quote("temp > 30"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("compile_error: column 6: ", 0), 0u) << r.out;
  EXPECT_EQ(run_command(ctl + " route test 2>/dev/null").exit_code, 64);
  EXPECT_EQ(run_command(ctl + " route test --route a --condition b 2>/dev/null").exit_code, 64);
  EXPECT_EQ(run_command(ctl + " route frob 2>/dev/null").exit_code, 64);
  EXPECT_EQ(run_command(ctl + " route test --condition true --message /nonexistent 2>/dev/null")
                .exit_code,
            1);
}

}  // namespace
}  // namespace edgehub::routing::test
