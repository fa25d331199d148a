#include <gtest/gtest.h>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/store/types.hpp"

namespace edgehub::store {
namespace {

TEST(QueueId, ParsesEndpointWithOptionalPriority) {
  QueueId q;
  ASSERT_TRUE(QueueId::parse("iothub", q));
  EXPECT_EQ(q.endpoint, "iothub");
  EXPECT_EQ(q.priority, kDefaultPriority);
  ASSERT_TRUE(QueueId::parse("gw/filter/input1@3", q));
  EXPECT_EQ(q.endpoint, "gw/filter/input1");
  EXPECT_EQ(q.priority, 3u);
  ASSERT_TRUE(QueueId::parse("iothub@4294967295", q));
  EXPECT_EQ(q.priority, 4294967295u);
  EXPECT_EQ(q.to_string(), "iothub@4294967295");
}

TEST(QueueId, RejectsMalformed) {
  QueueId q;
  EXPECT_FALSE(QueueId::parse("", q));
  EXPECT_FALSE(QueueId::parse("@1", q));
  EXPECT_FALSE(QueueId::parse("iothub@", q));
  EXPECT_FALSE(QueueId::parse("iothub@x", q));
  EXPECT_FALSE(QueueId::parse("iothub@-1", q));
  EXPECT_FALSE(QueueId::parse("iothub@4294967296", q));
  EXPECT_FALSE(QueueId::parse("iothub@1 ", q));
}

TEST(QueueId, OrdersByEndpointThenPriority) {
  EXPECT_LT((QueueId{"a", 5}), (QueueId{"b", 0}));
  EXPECT_LT((QueueId{"a", 0}), (QueueId{"a", 1}));
}

TEST(StoreOptions, FromConfig) {
  config::StoreConfig c;
  c.max_disk_mb = 3;
  c.when_full = config::WhenFull::drop_oldest;
  c.sync = config::StoreSync::normal;
  const auto o = Options::from_config(c, "/var/lib/edgehubd");
  EXPECT_EQ(o.path, std::filesystem::path("/var/lib/edgehubd/store.db"));
  EXPECT_EQ(o.max_disk_bytes, 3u * 1024 * 1024);
  EXPECT_EQ(o.when_full, config::WhenFull::drop_oldest);
  EXPECT_EQ(o.sync, config::StoreSync::normal);
}

}  // namespace
}  // namespace edgehub::store
