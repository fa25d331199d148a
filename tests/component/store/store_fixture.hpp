#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "edgehub/ops/metrics.hpp"
#include "edgehub/store/sqlite_store.hpp"
#include "support/store/store_test_support.hpp"

namespace edgehub::store::testing {

using core::Result;

class StoreFixture : public ::testing::Test {
 protected:
  StoreFixture() {
    options_.path = dir_.path() / kDatabaseFileName;
    options_.maintenance_interval = std::chrono::milliseconds(0);  // tests sweep by hand
  }

  std::unique_ptr<MessageStore> open_store(const core::Clock* clock = nullptr) {
    std::string diagnostic;
    auto store = open_sqlite_store(options_, registry_, clock ? *clock : clock_,
                                   ioc_.get_executor(), diagnostic);
    EXPECT_TRUE(store) << diagnostic;
    return store ? std::move(*store) : nullptr;
  }

  Result<AppendResult> append(MessageStore& s, AppendBatch batch) {
    return wait_for<AppendResult>(ioc_,
                                  [&](auto h) { s.async_append(std::move(batch), std::move(h)); });
  }
  Result<AppendResult> append_one(MessageStore& s, AppendItem item) {
    AppendBatch batch;
    batch.push_back(std::move(item));
    return append(s, std::move(batch));
  }
  std::vector<StoredEntry> peek(MessageStore& s, const QueueId& q, std::size_t max = 1000,
                                SeqNo after = 0) {
    auto r = wait_for<std::vector<StoredEntry>>(
        ioc_, [&](auto h) { s.async_peek_after(q, after, max, std::move(h)); });
    EXPECT_TRUE(r) << r.error().message();
    return r ? std::move(*r) : std::vector<StoredEntry>{};
  }
  ReadBatch read(MessageStore& s, const QueueId& q, SeqNo after, ReadLimits limits) {
    auto r =
        wait_for<ReadBatch>(ioc_, [&](auto h) { s.async_read(q, after, limits, std::move(h)); });
    EXPECT_TRUE(r) << r.error().message();
    return r ? std::move(*r) : ReadBatch{};
  }
  std::uint64_t ack(MessageStore& s, const QueueId& q, SeqNo up_to) {
    auto r = wait_for<std::uint64_t>(ioc_, [&](auto h) { s.async_ack(q, up_to, std::move(h)); });
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : 0;
  }
  StoreStats stats(MessageStore& s) {
    auto r = wait_for<StoreStats>(ioc_, [&](auto h) { s.async_stats(std::move(h)); });
    EXPECT_TRUE(r) << r.error().message();
    return r ? std::move(*r) : StoreStats{};
  }
  SweepResult maintain(MessageStore& s) {
    auto r = wait_for<SweepResult>(ioc_, [&](auto h) { s.async_maintain(std::move(h)); });
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : SweepResult{};
  }
  std::uint64_t length(MessageStore& s, const QueueId& q) {
    for (const auto& qs : stats(s).queues) {
      if (qs.queue == q) return qs.length;
    }
    return 0;
  }
  std::uint64_t bodies() {
    std::string diagnostic;
    auto inspector = Inspector::open(options_.path, diagnostic);
    EXPECT_TRUE(inspector) << diagnostic;
    if (!inspector) return 0;
    auto info = inspector->file_info();
    EXPECT_TRUE(info);
    return info ? info->bodies : 0;
  }
  double gauge(const std::string& endpoint, std::uint32_t priority) {
    return registry_.gauge("edgehub_queue_length", "", {"endpoint", "priority"})
        .with({endpoint, std::to_string(priority)})
        .value();
  }
  std::uint64_t dropped(const std::string& reason, const std::string& from,
                        const std::string& output) {
    return registry_
        .counter("edgehub_messages_dropped_total", "", {"reason", "from", "from_route_output"})
        .with({reason, from, output})
        .value();
  }

  TempDir dir_;
  boost::asio::io_context ioc_;
  FakeClock clock_;
  ops::Registry registry_;
  Options options_;
};

}  // namespace edgehub::store::testing
