#include "edgehub/hub/errors.hpp"

#include <gtest/gtest.h>

#include "edgehub/store/errors.hpp"

namespace edgehub::hub {
namespace {

TEST(HubErrors, CategoryNamesAndMessages) {
  const auto ec = make_error_code(Errc::message_too_large);
  EXPECT_STREQ(ec.category().name(), "edgehub.hub");
  EXPECT_NE(ec.message(), make_error_code(Errc::store_refused).message());
  EXPECT_NE(ec.message().find("larger"), std::string::npos);
}

TEST(HubErrors, RetryableErrorsAreTheTransientOnes) {
  EXPECT_TRUE(is_retryable(Errc::store_refused));
  EXPECT_TRUE(is_retryable(Errc::storage_failure));
  EXPECT_TRUE(is_retryable(Errc::queue_full));
  EXPECT_FALSE(is_retryable(Errc::message_too_large));
  EXPECT_FALSE(is_retryable(Errc::invalid_twin_patch));
  EXPECT_FALSE(is_retryable(make_error_code(store::Errc::store_full)));  // mapped by the ingress
}

TEST(HubErrors, MethodStatusesFollowIotHub) {
  EXPECT_EQ(method_error_status(Errc::not_connected), 404);
  EXPECT_EQ(method_error_status(Errc::disconnected), 404);
  EXPECT_EQ(method_error_status(Errc::timeout), 504);
  EXPECT_EQ(method_error_status(Errc::too_many_pending), 429);
  EXPECT_EQ(method_error_status(Errc::invalid_request), 400);
  EXPECT_EQ(method_error_status(Errc::storage_failure), 500);
}

}  // namespace
}  // namespace edgehub::hub
