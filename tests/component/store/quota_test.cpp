// max_disk_mb with both when_full policies, and page reclamation after a drain.

#include <algorithm>

#include "component/store/store_fixture.hpp"

namespace edgehub::store::testing {
namespace {

const QueueId kLow{"iothub", kDefaultPriority};
const QueueId kHigh{"iothub", 0};

core::Message kib_message(int i) {
  auto m = make_message(std::string(1024, static_cast<char>('a' + i % 26)));
  m.set_app("i", std::to_string(i));
  return m;
}

TEST_F(StoreFixture, RefusePolicyFailsAppendsWithStoreFullUntilSpaceIsFreed) {
  options_.max_disk_bytes = 256 * 1024;
  options_.when_full = config::WhenFull::refuse;
  auto store = open_store();
  ASSERT_TRUE(store);
  int accepted = 0;
  Result<AppendResult> r = AppendResult{};
  for (int i = 0; i < 1000; ++i) {
    r = append_one(*store, to_queue(kib_message(i), "iothub"));
    if (!r) break;
    ++accepted;
  }
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::store_full);
  EXPECT_TRUE(is_retryable(r.error()));
  EXPECT_GT(accepted, 50);
  EXPECT_LT(accepted, 256);
  // Nothing accepted was lost to make room.
  const auto entries = peek(*store, kLow, 1000);
  ASSERT_EQ(entries.size(), static_cast<std::size_t>(accepted));
  EXPECT_EQ(entries.front().message.find_app("i")->value, "0");
  const auto s = stats(*store);
  EXPECT_LE(s.file_bytes - s.free_bytes, options_.max_disk_bytes);
  EXPECT_EQ(registry_.counter("edgehubd_store_appends_refused_total", "", {"reason"})
                .with({"store_full"})
                .value(),
            1u);
  EXPECT_GE(registry_.gauge("edgehubd_store_quota_free_bytes", "")
                .with(std::vector<std::string>{})
                .value(),
            0.0);
  // Draining gives the space back.
  ack(*store, kLow, entries[static_cast<std::size_t>(accepted / 2)].seq);
  EXPECT_TRUE(append_one(*store, to_queue(kib_message(0), "iothub")));
}

TEST_F(StoreFixture, DropOldestDropsTheLowestPriorityOldestFirst) {
  options_.max_disk_bytes = 256 * 1024;
  options_.when_full = config::WhenFull::drop_oldest;
  auto store = open_store();
  ASSERT_TRUE(store);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(append_one(*store, to_queue(kib_message(i), "iothub", 0)));
  SeqNo first_low = 0;
  SeqNo last_low = 0;
  constexpr int kLowCount = 500;
  for (int i = 0; i < kLowCount; ++i) {
    auto r = append_one(*store, to_queue(kib_message(i), "iothub"));
    ASSERT_TRUE(r) << "append " << i << ": " << r.error().message();
    if (i == 0) first_low = (*r)[0][0];
    last_low = (*r)[0][0];
  }
  // The high-priority queue is untouched.
  EXPECT_EQ(peek(*store, kHigh).size(), 20u);
  const auto low = peek(*store, kLow, 1000);
  ASSERT_FALSE(low.empty());
  EXPECT_LT(low.size(), static_cast<std::size_t>(kLowCount));
  EXPECT_GT(low.front().seq, first_low);  // the oldest went first
  EXPECT_EQ(low.back().seq, last_low);    // the newest is kept
  for (std::size_t i = 1; i < low.size(); ++i)
    EXPECT_EQ(low[i].seq, low[i - 1].seq + 1);
  EXPECT_EQ(dropped("store_full", "dev1", ""), kLowCount - low.size());
  EXPECT_EQ(gauge("iothub", kDefaultPriority), static_cast<double>(low.size()));
  const auto s = stats(*store);
  EXPECT_LE(s.file_bytes - s.free_bytes, options_.max_disk_bytes);
}

TEST_F(StoreFixture, DropOldestOfLargeMessagesKeepsTheStoreNearItsQuota) {
  // 16 KiB messages into a 1 MiB quota: dropping only as many as the next one needs keeps the
  // newest ~60 of them, rather than emptying the queue for each new message.
  options_.max_disk_bytes = 1024 * 1024;
  options_.when_full = config::WhenFull::drop_oldest;
  auto store = open_store();
  ASSERT_TRUE(store);
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(append_one(*store, to_queue(make_message(std::string(16 * 1024, 'L')), "iothub")));
    if (i < 100) continue;
    const auto kept = gauge("iothub", kDefaultPriority);
    EXPECT_GE(kept * 16 * 1024, 0.6 * 1024 * 1024) << "after append " << i;
  }
  EXPECT_EQ(
      static_cast<double>(dropped("store_full", "dev1", "")) + gauge("iothub", kDefaultPriority),
      300.0);
}

TEST_F(StoreFixture, DropOldestEatsIntoHigherPrioritiesOnlyWhenLowerOnesAreEmpty) {
  options_.max_disk_bytes = 256 * 1024;
  options_.when_full = config::WhenFull::drop_oldest;
  auto store = open_store();
  ASSERT_TRUE(store);
  for (int i = 0; i < 400; ++i)
    ASSERT_TRUE(append_one(*store, to_queue(kib_message(i), "iothub", 0)));
  const auto high = peek(*store, kHigh, 1000);
  ASSERT_FALSE(high.empty());
  EXPECT_LT(high.size(), 400u);
  EXPECT_EQ(high.back().message.find_app("i")->value, "399");
}

TEST_F(StoreFixture, DropOldestStillRefusesABatchThatCannotFit) {
  options_.max_disk_bytes = 256 * 1024;
  options_.when_full = config::WhenFull::drop_oldest;
  auto store = open_store();
  ASSERT_TRUE(store);
  for (int i = 0; i < 120; ++i)
    ASSERT_TRUE(append_one(*store, to_queue(kib_message(i), "iothub")));
  // More than half the quota: it would only fit by dropping nearly everything.
  auto huge = make_message(std::string(150 * 1024, 'h'));
  EXPECT_EQ(append_one(*store, to_queue(huge, "iothub")).error(), Errc::store_full);
  EXPECT_EQ(peek(*store, kLow, 1000).size(), 120u);  // nothing dropped for it
}

TEST_F(StoreFixture, AFailingAppendFailsAloneNotItsWholeGroup) {
  // The disk fills up (SQLite's page ceiling stands in for it) inside a shared transaction:
  // the group is rolled back and rerun one by one, so only the append that cannot fit fails.
  options_.max_page_count = 64;
  GatedClock gated;
  auto store = open_store(&gated);
  ASSERT_TRUE(store);
  gated.close();
  std::vector<std::pair<int, boost::system::error_code>> results;
  std::vector<SeqNo> seqs;
  auto submit = [&](int id, std::size_t bytes) {
    AppendBatch batch;
    batch.push_back(to_queue(make_message(std::string(bytes, 'z')), "iothub"));
    store->async_append(std::move(batch), [&results, &seqs, id](Result<AppendResult> r) {
      results.emplace_back(id, r.error());
      // A rerun append still reports the sequence number of its one entry.
      if (r && r->size() == 1 && r->front().size() == 1) seqs.push_back(r->front().front());
    });
  };
  submit(0, 10);
  gated.wait_for_waiter();
  submit(1, 100);
  submit(2, 400 * 1024);  // larger than 64 pages
  submit(3, 100);
  gated.open();
  ioc_.restart();
  while (results.size() < 4)
    ioc_.run_one();
  std::sort(results.begin(), results.end());
  EXPECT_FALSE(results[0].second);
  EXPECT_FALSE(results[1].second);
  EXPECT_EQ(results[2].second, Errc::io_error);
  EXPECT_FALSE(results[3].second);
  const auto stored = peek(*store, kLow);
  ASSERT_EQ(stored.size(), 3u);
  std::sort(seqs.begin(), seqs.end());
  ASSERT_EQ(seqs.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_EQ(seqs[i], stored[i].seq);
  EXPECT_EQ(gauge("iothub", kDefaultPriority), 3.0);
  EXPECT_TRUE(append_one(*store, to_queue(make_message("after"), "iothub")));
}

TEST_F(StoreFixture, FileShrinksAfterADrain) {
  auto store = open_store();
  ASSERT_TRUE(store);
  for (int b = 0; b < 20; ++b) {
    AppendBatch batch;
    for (int i = 0; i < 100; ++i)
      batch.push_back(to_queue(kib_message(i), "iothub"));
    ASSERT_TRUE(append(*store, std::move(batch)));
  }
  const auto peak = stats(*store).file_bytes;
  EXPECT_GT(peak, 2000u * 1024);
  const auto all = peek(*store, kLow, 5000);
  ASSERT_EQ(all.size(), 2000u);
  EXPECT_EQ(ack(*store, kLow, all.back().seq), 2000u);
  EXPECT_GT(stats(*store).free_bytes, peak / 2);
  std::uint64_t vacuumed = 0;
  for (int step = 0; step < 100; ++step) {
    const auto r = maintain(*store);
    if (r.pages_vacuumed == 0) break;
    vacuumed += r.pages_vacuumed;
  }
  EXPECT_GT(vacuumed, 0u);
  const auto after = stats(*store);
  EXPECT_LT(after.file_bytes, peak / 4);
  EXPECT_LE(after.free_bytes, options_.vacuum_threshold_pages * 4096u);
  store.reset();  // the last connection checkpoints the WAL into the file
  EXPECT_LT(std::filesystem::file_size(options_.path), peak / 4);
}

}  // namespace
}  // namespace edgehub::store::testing
