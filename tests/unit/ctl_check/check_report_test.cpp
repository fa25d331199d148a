#include "app/ctl/check_report.hpp"

#include <gtest/gtest.h>

namespace edgehub::app::ctl {
namespace {

TEST(CheckReport, EmptyReportPasses) {
  CheckReport r;
  EXPECT_EQ(r.exit_code(), kExitOk);
  EXPECT_EQ(r.render(), "\nAll checks passed.\n");
}

TEST(CheckReport, RendersSectionsMarksDetailAndFix) {
  CheckReport r;
  r.section("Configuration");
  r.add({FindingLevel::error, "/c.toml:3: gateway.metrics: bad", "", "write \"host:port\"",
         kExitConfig});
  r.add({FindingLevel::warning, "/c.toml:9: edge_ca.auto_renew: ignored", "", "nothing to do",
         kExitFailure});
  r.section("Certificates");
  r.add({FindingLevel::ok, "edge CA valid", "expires in 80 days\nchain ok", "unused", kExitOk});
  EXPECT_EQ(r.render(),
            "Configuration\n"
            "-------------\n"
            "\u2717 /c.toml:3: gateway.metrics: bad\n"
            "    fix: write \"host:port\"\n"
            "\u26a0 /c.toml:9: edge_ca.auto_renew: ignored\n"
            "    fix: nothing to do\n"
            "\n"
            "Certificates\n"
            "------------\n"
            "\u2713 edge CA valid\n"
            "    expires in 80 days\n"
            "    chain ok\n"
            "\n"
            "1 error, 1 warning.\n");
  EXPECT_EQ(r.count(FindingLevel::error), 1u);
  EXPECT_EQ(r.count(FindingLevel::warning), 1u);
  EXPECT_EQ(r.count(FindingLevel::ok), 1u);
}

TEST(CheckReport, ExitCodeIsTheLargestAmongErrorsOnly) {
  CheckReport r;
  r.add({FindingLevel::warning, "w", "", "", kExitConfig});
  EXPECT_EQ(r.exit_code(), kExitOk);  // warnings never fail the check
  r.add({FindingLevel::error, "port busy", "", "", kExitFailure});
  EXPECT_EQ(r.exit_code(), kExitFailure);
  r.add({FindingLevel::error, "bad key", "", "", kExitConfig});
  EXPECT_EQ(r.exit_code(), kExitConfig);
}

TEST(CheckReport, MultiLineFixIsIndentedUnderItsLabel) {
  CheckReport r;
  r.add({FindingLevel::error, "t", "", "first\nsecond", kExitFailure});
  EXPECT_EQ(r.render(), "\u2717 t\n    fix: first\n         second\n\n1 error, 0 warnings.\n");
}

}  // namespace
}  // namespace edgehub::app::ctl
