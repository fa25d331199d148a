#include "edgehub/core/result.hpp"

#include <gtest/gtest.h>

#include <boost/system/error_code.hpp>
#include <string>

namespace edgehub::core {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
  return v;
}

TEST(Result, CarriesValueOrError) {
  auto ok = parse_positive(3);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 3);
  EXPECT_FALSE(ok.error());
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), boost::system::errc::invalid_argument);
}

TEST(Result, VoidResult) {
  Result<void> ok;
  EXPECT_TRUE(ok);
  Result<void> bad = boost::system::errc::make_error_code(boost::system::errc::io_error);
  EXPECT_FALSE(bad);
  Result<std::string> moved = std::string("x");
  EXPECT_EQ(std::move(moved).value(), "x");
}

}  // namespace
}  // namespace edgehub::core
