// The store's round trips per forwarded message: reads of what was just committed answered from
// memory (and always equal to what the file holds), and checkpoints that join the next
// transaction instead of committing alone.

#include <random>

#include "component/store/store_fixture.hpp"

namespace edgehub::store::testing {
namespace {

using namespace std::chrono_literals;

const QueueId kUp{"iothub", kDefaultPriority};
const QueueId kHigh{"iothub", 0};

std::vector<std::string> texts(const std::vector<StoredEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries)
    out.push_back(std::to_string(e.seq) + ":" + std::string(e.message.body_text()));
  return out;
}

TEST_F(StoreFixture, ReadsRightBehindTheAppendsAreAnsweredFromMemory) {
  auto store = open_store();
  ASSERT_TRUE(store);
  AppendBatch batch;
  for (int i = 0; i < 10; ++i)
    batch.push_back(to_queue(make_message("m" + std::to_string(i)), "iothub"));
  auto seqs = append(*store, std::move(batch));
  ASSERT_TRUE(seqs);
  auto first = read(*store, kUp, 0, {4, 0});
  ASSERT_EQ(first.entries.size(), 4u);
  EXPECT_TRUE(first.more);
  auto rest = read(*store, kUp, first.entries.back().seq, {100, 0});
  ASSERT_EQ(rest.entries.size(), 6u);
  EXPECT_FALSE(rest.more);
  EXPECT_EQ(rest.entries.back().message.body_text(), "m9");
  auto s = stats(*store);
  EXPECT_EQ(s.reads_from_memory, 2u);
  EXPECT_EQ(s.reads_from_database, 0u);

  // After a restart the same entries come from the file, equal.
  store.reset();
  store = open_store();
  ASSERT_TRUE(store);
  auto again = read(*store, kUp, first.entries.back().seq, {100, 0});
  EXPECT_EQ(texts(again.entries), texts(rest.entries));
  s = stats(*store);
  EXPECT_EQ(s.reads_from_memory, 0u);
  EXPECT_EQ(s.reads_from_database, 1u);
  // What is appended from then on is answered from memory again.
  ASSERT_TRUE(append_one(*store, to_queue(make_message("new"), "iothub")));
  auto fresh = read(*store, kUp, (*seqs)[9][0], {100, 0});
  ASSERT_EQ(fresh.entries.size(), 1u);
  EXPECT_EQ(fresh.entries[0].message.body_text(), "new");
  EXPECT_EQ(stats(*store).reads_from_memory, 1u);
}

// Every read, from memory or not, returns what the file holds: random appends (fan-out, TTLs),
// checkpoints, purges, sweeps and drops to make room, checked against a separate read-only
// connection after every step.
TEST_F(StoreFixture, WhatMemoryAnswersIsWhatTheFileHolds) {
  options_.tail_max_entries = 40;  // small, so evictions and fallbacks happen too
  options_.max_disk_bytes = 512 * 1024;
  options_.when_full = config::WhenFull::drop_oldest;
  auto store = open_store();
  ASSERT_TRUE(store);
  std::mt19937 random(7);
  std::map<QueueId, SeqNo> read_after;
  const QueueId queues[] = {kUp, kHigh, QueueId{"gw/filter/in1", kDefaultPriority}};
  auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  int message = 0;
  for (int step = 0; step < 300; ++step) {
    const int what = pick(20);
    if (what < 12) {
      AppendBatch batch;
      const int n = 1 + pick(30);
      for (int i = 0; i < n; ++i) {
        AppendItem item;
        item.message = make_message("m" + std::to_string(message++) + std::string(pick(4000), 'x'));
        const auto ttl =
            pick(4) == 0 ? std::optional<std::chrono::seconds>(1 + pick(3)) : std::nullopt;
        item.targets.push_back(Target{queues[pick(3)], ttl});
        if (pick(5) == 0) item.targets.push_back(Target{queues[0], std::nullopt});
        if (item.targets.size() == 2 && item.targets[0].queue == item.targets[1].queue) {
          item.targets.pop_back();
        }
        batch.push_back(std::move(item));
      }
      ASSERT_TRUE(append(*store, std::move(batch)));
    } else if (what < 16) {
      const auto& q = queues[pick(3)];
      if (read_after[q] > 0) ack(*store, q, read_after[q] - static_cast<SeqNo>(pick(2)));
    } else if (what == 16) {
      clock_.advance(std::chrono::milliseconds(500 + pick(1500)));
      maintain(*store);
    } else if (what == 17) {
      auto r =
          wait_for<std::uint64_t>(ioc_, [&](auto h) { store->async_purge(queues[pick(3)], h); });
      ASSERT_TRUE(r);
    } else {
      // The reader restarts from further back now and then (a forwarder's restart).
      auto& after = read_after[queues[pick(3)]];
      after = after > 20 ? after - static_cast<SeqNo>(pick(20)) : 0;
    }
    std::string diagnostic;
    auto inspector = Inspector::open(options_.path, diagnostic);
    ASSERT_TRUE(inspector) << diagnostic;
    for (const auto& q : queues) {
      auto& after = read_after[q];
      const auto limit = static_cast<std::size_t>(1 + pick(60));
      auto got = read(*store, q, after, {limit, 0});
      auto all = inspector->peek(q, 100000);
      ASSERT_TRUE(all);
      std::vector<StoredEntry> want;
      bool more = false;
      for (auto& e : *all) {
        if (e.seq <= after || e.expires_at <= clock_.now()) continue;
        if (want.size() == limit) {
          more = true;
          break;
        }
        want.push_back(std::move(e));
      }
      ASSERT_EQ(texts(got.entries), texts(want)) << "step " << step << " queue " << q.to_string();
      ASSERT_EQ(got.more, more) << "step " << step;
      if (!got.entries.empty()) after = got.entries.back().seq;
    }
  }
  const auto s = stats(*store);
  EXPECT_GT(
      registry_
          .counter("edgehub_messages_dropped_total", "", {"reason", "from", "from_route_output"})
          .with({"store_full", "dev1", ""})
          .value(),
      0u)
      << "drop_oldest ran";
  EXPECT_GT(s.reads_from_memory, 0u);
  EXPECT_GT(s.reads_from_database, 0u);
}

TEST_F(StoreFixture, ACheckpointJoinsTheNextAppendsTransaction) {
  options_.commit_window = 0us;
  options_.checkpoint_delay = std::chrono::minutes(10);  // it cannot commit alone in this test
  auto store = open_store();
  ASSERT_TRUE(store);
  AppendBatch batch;
  for (int i = 0; i < 3; ++i)
    batch.push_back(to_queue(make_message("m" + std::to_string(i)), "iothub"));
  auto seqs = append(*store, std::move(batch));
  ASSERT_TRUE(seqs);
  const auto commits = stats(*store).commits;
  std::optional<Result<std::uint64_t>> acked;
  store->async_ack(kUp, (*seqs)[2][0], [&](Result<std::uint64_t> r) { acked.emplace(r); });
  ASSERT_TRUE(append_one(*store, to_queue(make_message("next"), "iothub")));
  ioc_.restart();
  while (!acked)
    ioc_.run_one();
  ASSERT_TRUE(*acked);
  EXPECT_EQ(**acked, 3u);
  EXPECT_EQ(stats(*store).commits - commits, 1u) << "the checkpoint rode in the append's commit";
  EXPECT_EQ(length(*store, kUp), 1u);
}

TEST_F(StoreFixture, ACheckpointWithNothingToJoinCommitsAlone) {
  options_.checkpoint_delay = 20ms;
  auto store = open_store();
  ASSERT_TRUE(store);
  auto seqs = append_one(*store, to_queue(make_message("m"), "iothub"));
  ASSERT_TRUE(seqs);
  const auto commits = stats(*store).commits;
  EXPECT_EQ(ack(*store, kUp, (*seqs)[0][0]), 1u);
  EXPECT_EQ(stats(*store).commits - commits, 1u);
  EXPECT_EQ(length(*store, kUp), 0u);
}

TEST_F(StoreFixture, ACheckpointStillWaitingWhenTheStoreClosesIsCommitted) {
  options_.checkpoint_delay = std::chrono::minutes(10);
  auto store = open_store();
  ASSERT_TRUE(store);
  auto seqs = append_one(*store, to_queue(make_message("m"), "iothub"));
  ASSERT_TRUE(seqs);
  bool acked = false;
  store->async_ack(kUp, (*seqs)[0][0], [&](Result<std::uint64_t> r) { acked = r && *r == 1; });
  store.reset();
  ioc_.restart();
  ioc_.run();
  EXPECT_TRUE(acked);
  store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(length(*store, kUp), 0u);
  EXPECT_TRUE(peek(*store, kUp).empty());
}

}  // namespace
}  // namespace edgehub::store::testing
