#include "edgehub/store/errors.hpp"

#include <gtest/gtest.h>

namespace edgehub::store {
namespace {

TEST(StoreErrors, CategoryAndMessages) {
  const boost::system::error_code ec = Errc::store_full;
  EXPECT_STREQ(ec.category().name(), "edgehub.store");
  EXPECT_NE(ec.message().find("quota"), std::string::npos);
  for (int e = static_cast<int>(Errc::store_full); e <= static_cast<int>(Errc::sqlite_error); ++e) {
    EXPECT_NE(make_error_code(static_cast<Errc>(e)).message(), "unknown store error");
  }
}

TEST(StoreErrors, OnlyFullAndBusyAreRetryable) {
  EXPECT_TRUE(is_retryable(Errc::store_full));
  EXPECT_TRUE(is_retryable(Errc::busy));
  EXPECT_FALSE(is_retryable(Errc::corrupt));
  EXPECT_FALSE(is_retryable(Errc::io_error));
  EXPECT_FALSE(is_retryable(Errc::closed));
  EXPECT_FALSE(is_retryable(boost::system::error_code{}));
}

}  // namespace
}  // namespace edgehub::store
