// The store's behaviour through its public API, on real SQLite files.

// clang-format off
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange unincluded
// clang-format on
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>

#include "component/store/store_fixture.hpp"

namespace edgehub::store::testing {
namespace {

const QueueId kUp{"iothub", kDefaultPriority};

TEST_F(StoreFixture, AppendsAreReturnedInFifoOrderPerQueue) {
  auto store = open_store();
  ASSERT_TRUE(store);
  std::vector<SeqNo> seqs;
  for (int i = 0; i < 5; ++i) {
    AppendBatch batch;
    batch.push_back(to_queue(make_message("m" + std::to_string(2 * i)), "iothub"));
    batch.push_back(to_queue(make_message("m" + std::to_string(2 * i + 1)), "iothub"));
    auto r = append(*store, std::move(batch));
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->size(), 2u);
    seqs.push_back((*r)[0][0]);
    seqs.push_back((*r)[1][0]);
  }
  EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
  const auto entries = peek(*store, kUp);
  ASSERT_EQ(entries.size(), 10u);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].message.body_text(), "m" + std::to_string(i));
    EXPECT_EQ(entries[i].seq, seqs[i]);
    EXPECT_EQ(entries[i].message.origin.device, "dev1");
  }
  EXPECT_EQ(peek(*store, kUp, 3).size(), 3u);
  // peek_after skips what the caller already has in flight.
  const auto rest = peek(*store, kUp, 100, entries[6].seq);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].message.body_text(), "m7");
}

TEST_F(StoreFixture, AReadStopsAtItsLimitsAndTellsWhetherTheQueueHoldsMore) {
  auto store = open_store();
  ASSERT_TRUE(store);
  AppendBatch batch;
  for (int i = 0; i < 5; ++i)
    batch.push_back(
        to_queue(make_message("m" + std::to_string(i) + std::string(100, 'x')), "iothub"));
  ASSERT_TRUE(append(*store, std::move(batch)));
  auto bodies_of = [](const ReadBatch& b) {
    std::vector<std::string> out;
    for (const auto& e : b.entries)
      out.emplace_back(e.message.body_text().substr(0, 2));
    return out;
  };

  const auto first = read(*store, kUp, 0, ReadLimits{3, 0});
  EXPECT_EQ(bodies_of(first), (std::vector<std::string>{"m0", "m1", "m2"}));
  EXPECT_TRUE(first.more);
  const auto rest = read(*store, kUp, first.entries.back().seq, ReadLimits{3, 0});
  EXPECT_EQ(bodies_of(rest), (std::vector<std::string>{"m3", "m4"}));
  EXPECT_FALSE(rest.more);
  // Exactly as many as are left: the end is known without another read.
  EXPECT_FALSE(read(*store, kUp, first.entries.back().seq, ReadLimits{2, 0}).more);

  // A byte bound below two entries returns one, and says more follow.
  const auto one = read(*store, kUp, 0, ReadLimits{10, 150});
  EXPECT_EQ(bodies_of(one), std::vector<std::string>{"m0"});
  EXPECT_TRUE(one.more);
  // The first entry goes whatever its size, so a reader always makes progress.
  const auto tiny = read(*store, kUp, 0, ReadLimits{10, 1});
  EXPECT_EQ(tiny.entries.size(), 1u);
  EXPECT_TRUE(tiny.more);
  const auto all = read(*store, kUp, 0, ReadLimits{10, 1u << 20});
  EXPECT_EQ(all.entries.size(), 5u);
  EXPECT_FALSE(all.more);

  // Expired entries are neither returned nor counted as more.
  ASSERT_TRUE(append_one(
      *store, to_queue(make_message("old"), "iothub", kDefaultPriority, std::chrono::seconds(1))));
  clock_.advance(std::chrono::seconds(2));
  EXPECT_FALSE(read(*store, kUp, 0, ReadLimits{5, 0}).more);
  EXPECT_TRUE(read(*store, QueueId{"nowhere", 0}, 0, ReadLimits{5, 0}).entries.empty());
}

TEST_F(StoreFixture, PrioritiesAreSeparateQueues) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(append_one(*store, to_queue(make_message("low"), "iothub")));
  ASSERT_TRUE(append_one(*store, to_queue(make_message("high"), "iothub", 0)));
  ASSERT_TRUE(append_one(*store, to_queue(make_message("mid"), "iothub", 5)));
  const auto high = peek(*store, QueueId{"iothub", 0});
  ASSERT_EQ(high.size(), 1u);
  EXPECT_EQ(high[0].message.body_text(), "high");
  const auto low = peek(*store, kUp);
  ASSERT_EQ(low.size(), 1u);
  EXPECT_EQ(low[0].message.body_text(), "low");
  EXPECT_EQ(ack(*store, QueueId{"iothub", 0}, high[0].seq), 1u);
  EXPECT_EQ(peek(*store, kUp).size(), 1u);
  const auto s = stats(*store);
  ASSERT_EQ(s.queues.size(), 3u);
  EXPECT_EQ(s.queues[0].queue, (QueueId{"iothub", 0}));
  EXPECT_EQ(s.queues[0].length, 0u);
  EXPECT_EQ(s.queues[1].queue, (QueueId{"iothub", 5}));
  EXPECT_EQ(s.queues[1].length, 1u);
  EXPECT_EQ(s.queues[2].length, 1u);
  EXPECT_EQ(gauge("iothub", 0), 0.0);
  EXPECT_EQ(gauge("iothub", 5), 1.0);
}

TEST_F(StoreFixture, FanOutSharesOneBodyUntilTheLastAck) {
  auto store = open_store();
  ASSERT_TRUE(store);
  AppendItem item;
  item.message = make_message("shared");
  item.message.set_app("k", std::nullopt);
  for (const char* ep : {"iothub", "gw/filter/in1", "gw/alerts/in"}) {
    item.targets.push_back(Target{QueueId{ep, kDefaultPriority}, std::nullopt});
  }
  AppendBatch batch;
  batch.push_back(std::move(item));
  auto r = append(*store, std::move(batch));
  ASSERT_TRUE(r);
  ASSERT_EQ((*r)[0].size(), 3u);
  EXPECT_EQ(bodies(), 1u);
  for (const char* ep : {"iothub", "gw/filter/in1", "gw/alerts/in"}) {
    const auto e = peek(*store, QueueId{ep, kDefaultPriority});
    ASSERT_EQ(e.size(), 1u) << ep;
    EXPECT_EQ(e[0].message.body_text(), "shared");
    ASSERT_NE(e[0].message.find_app("k"), nullptr);
    EXPECT_FALSE(e[0].message.find_app("k")->value.has_value());
  }
  EXPECT_EQ(ack(*store, kUp, (*r)[0][0]), 1u);
  EXPECT_EQ(bodies(), 1u);
  EXPECT_EQ(ack(*store, QueueId{"gw/filter/in1", kDefaultPriority}, (*r)[0][1]), 1u);
  EXPECT_EQ(bodies(), 1u);
  EXPECT_EQ(ack(*store, QueueId{"gw/alerts/in", kDefaultPriority}, (*r)[0][2]), 1u);
  EXPECT_EQ(bodies(), 0u);
}

TEST_F(StoreFixture, AckIsACheckpointAndNeverTouchesNewerEntries) {
  auto store = open_store();
  ASSERT_TRUE(store);
  std::vector<SeqNo> seqs;
  for (int i = 0; i < 4; ++i) {
    auto r = append_one(*store, to_queue(make_message(std::to_string(i)), "iothub"));
    ASSERT_TRUE(r);
    seqs.push_back((*r)[0][0]);
  }
  EXPECT_EQ(ack(*store, kUp, seqs[1]), 2u);
  EXPECT_EQ(ack(*store, kUp, seqs[1]), 0u);  // repeated checkpoint is a no-op
  const auto left = peek(*store, kUp);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].message.body_text(), "2");
  EXPECT_EQ(ack(*store, QueueId{"nowhere", 1}, 100), 0u);
  EXPECT_EQ(gauge("iothub", kDefaultPriority), 2.0);
}

TEST_F(StoreFixture, SequenceNumbersAreNotReusedAfterDrainAndReopen) {
  SeqNo last = 0;
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    auto r = append_one(*store, to_queue(make_message("a"), "iothub"));
    ASSERT_TRUE(r);
    last = (*r)[0][0];
    EXPECT_EQ(ack(*store, kUp, last), 1u);
  }
  auto store = open_store();
  ASSERT_TRUE(store);
  auto r = append_one(*store, to_queue(make_message("b"), "iothub"));
  ASSERT_TRUE(r);
  EXPECT_GT((*r)[0][0], last);
  // A stale checkpoint from before the restart must not remove the new entry.
  EXPECT_EQ(ack(*store, kUp, last), 0u);
  EXPECT_EQ(peek(*store, kUp).size(), 1u);
}

TEST_F(StoreFixture, ReopenKeepsMessagesAndSeedsQueueGauges) {
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(append_one(*store, to_queue(make_message("x" + std::to_string(i)), "iothub", 1)));
    }
  }
  ops::Registry fresh;
  std::string diagnostic;
  auto store = open_sqlite_store(options_, fresh, clock_, ioc_.get_executor(), diagnostic);
  ASSERT_TRUE(store) << diagnostic;
  EXPECT_EQ(fresh.gauge("edgehub_queue_length", "", {"endpoint", "priority"})
                .with({"iothub", "1"})
                .value(),
            3.0);
  EXPECT_GT(fresh.gauge("edgehubd_store_size_bytes", "").with(std::vector<std::string>{}).value(),
            0.0);
  const auto e = peek(**store, QueueId{"iothub", 1});
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[2].message.body_text(), "x2");
}

TEST_F(StoreFixture, ExpiredEntriesAreSkippedThenSweptAndCounted) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto m = make_message("short", "dev1", "mod1");
  m.sys_prop(core::SystemProperty::output_name) = "out1";
  ASSERT_TRUE(
      append_one(*store, to_queue(m, "iothub", kDefaultPriority, std::chrono::seconds(10))));
  ASSERT_TRUE(append_one(*store, to_queue(make_message("forever"), "iothub")));
  ASSERT_TRUE(append_one(*store, to_queue(make_message("long"), "iothub", kDefaultPriority,
                                          std::chrono::seconds(100))));
  EXPECT_EQ(peek(*store, kUp).size(), 3u);
  clock_.advance(std::chrono::seconds(11));
  const auto visible = peek(*store, kUp);
  ASSERT_EQ(visible.size(), 2u);
  EXPECT_EQ(visible[0].message.body_text(), "forever");
  EXPECT_EQ(visible[1].message.body_text(), "long");
  EXPECT_EQ(visible[0].expires_at, core::SystemTime::max());
  EXPECT_EQ(length(*store, kUp), 3u);  // still on disk until the sweep
  EXPECT_EQ(maintain(*store).expired_removed, 1u);
  EXPECT_EQ(length(*store, kUp), 2u);
  EXPECT_EQ(gauge("iothub", kDefaultPriority), 2.0);
  EXPECT_EQ(dropped("ttl_expiry", "dev1/mod1", "out1"), 1u);
  EXPECT_EQ(maintain(*store).expired_removed, 0u);
  clock_.advance(std::chrono::seconds(100));
  EXPECT_EQ(maintain(*store).expired_removed, 1u);
  EXPECT_EQ(dropped("ttl_expiry", "dev1", ""), 1u);
  EXPECT_EQ(peek(*store, kUp).size(), 1u);
}

TEST_F(StoreFixture, EntriesExpiringOutOfQueueOrderAreSweptOldestFirst) {
  // Routes with different TTLs feed one queue: some entries expire before earlier ones.
  options_.sweep_batch = 2;
  const auto ttl = [](int s) { return std::optional<std::chrono::seconds>(s); };
  std::vector<std::pair<std::string, std::optional<std::chrono::seconds>>> appends{
      {"a100", ttl(100)}, {"b10", ttl(10)},   {"forever", std::nullopt},
      {"d5", ttl(5)},     {"e200", ttl(200)}, {"f20", ttl(20)}};
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    for (const auto& [body, t] : appends) {
      ASSERT_TRUE(append_one(*store, to_queue(make_message(body), "iothub", 0, t)));
    }
  }
  // Reopened: what the store knows about expiry order comes from the file.
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(append_one(*store, to_queue(make_message("g1"), "iothub", 0, ttl(1))));
  const QueueId q{"iothub", 0};
  clock_.advance(std::chrono::seconds(15));
  // Expired: d5, b10, g1. Two per step, oldest expiry first.
  EXPECT_EQ(maintain(*store).expired_removed, 2u);
  std::vector<std::string> bodies_left;
  EXPECT_EQ(length(*store, q), 5u);
  EXPECT_EQ(maintain(*store).expired_removed, 1u);
  EXPECT_EQ(maintain(*store).expired_removed, 0u);
  clock_.advance(std::chrono::seconds(90));  // t = 105: a100 and f20 too
  EXPECT_EQ(maintain(*store).expired_removed, 2u);
  for (const auto& e : peek(*store, q))
    bodies_left.emplace_back(e.message.body_text());
  EXPECT_EQ(bodies_left, (std::vector<std::string>{"forever", "e200"}));
  EXPECT_EQ(length(*store, q), 2u);
  EXPECT_EQ(dropped("ttl_expiry", "dev1", ""), 5u);
  clock_.advance(std::chrono::seconds(100));
  EXPECT_EQ(maintain(*store).expired_removed, 1u);
  ASSERT_EQ(peek(*store, q).size(), 1u);
}

TEST_F(StoreFixture, AckPastAnExpiredEntryCountsItAsTtlDrop) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(append_one(
      *store, to_queue(make_message("a"), "iothub", kDefaultPriority, std::chrono::seconds(1))));
  auto r = append_one(*store, to_queue(make_message("b"), "iothub"));
  ASSERT_TRUE(r);
  clock_.advance(std::chrono::seconds(2));
  EXPECT_EQ(ack(*store, kUp, (*r)[0][0]), 2u);
  EXPECT_EQ(dropped("ttl_expiry", "dev1", ""), 1u);
}

TEST_F(StoreFixture, SweepWorkIsBoundedPerStep) {
  options_.sweep_batch = 10;
  auto store = open_store();
  ASSERT_TRUE(store);
  AppendBatch batch;
  for (int i = 0; i < 25; ++i) {
    batch.push_back(to_queue(make_message("e"), "iothub", 3, std::chrono::seconds(5)));
  }
  ASSERT_TRUE(append(*store, std::move(batch)));
  clock_.advance(std::chrono::seconds(6));
  EXPECT_EQ(maintain(*store).expired_removed, 10u);
  EXPECT_EQ(maintain(*store).expired_removed, 10u);
  EXPECT_EQ(maintain(*store).expired_removed, 5u);
  EXPECT_EQ(length(*store, QueueId{"iothub", 3}), 0u);
  EXPECT_EQ(dropped("ttl_expiry", "dev1", ""), 25u);
  EXPECT_EQ(bodies(), 0u);
}

TEST_F(StoreFixture, ConcurrentAppendsShareTransactions) {
  GatedClock gated;
  auto store = open_store(&gated);
  ASSERT_TRUE(store);
  const auto commits_before = stats(*store).commits;
  // Hold the store thread at the start of its next transaction, queue 200 appends behind it,
  // then let it go: the 199 waiting appends must share one transaction.
  gated.close();
  constexpr int kAppends = 200;
  int completed = 0;
  std::vector<SeqNo> order;
  for (int i = 0; i < kAppends; ++i) {
    AppendBatch batch;
    batch.push_back(to_queue(make_message(std::to_string(i)), "iothub"));
    store->async_append(std::move(batch), [&](Result<AppendResult> r) {
      ASSERT_TRUE(r) << r.error().message();
      order.push_back((*r)[0][0]);
      ++completed;
    });
    if (i == 0) gated.wait_for_waiter();
  }
  gated.open();
  ioc_.restart();
  while (completed < kAppends)
    ioc_.run_one();
  EXPECT_EQ(stats(*store).commits - commits_before, 2u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  const auto entries = peek(*store, kUp);
  ASSERT_EQ(entries.size(), static_cast<std::size_t>(kAppends));
  for (int i = 0; i < kAppends; ++i)
    EXPECT_EQ(entries[i].message.body_text(), std::to_string(i));
  EXPECT_EQ(registry_.counter("edgehubd_store_commits_total", "")
                .with(std::vector<std::string>{})
                .value(),
            stats(*store).commits);
}

TEST_F(StoreFixture, AGroupThatHasGrownEnoughDoesNotWaitForItsCommitWindow) {
  // A commit window far longer than the test may take: only the group's size can end the wait.
  options_.commit_window = std::chrono::minutes(10);
  options_.commit_when_queued = 8;
  auto store = open_store();
  ASSERT_TRUE(store);
  // The first append finds the store idle and commits at once; the store is busy after it.
  ASSERT_TRUE(append_one(*store, to_queue(make_message("first"), "iothub")));
  int completed = 0;
  for (int i = 0; i < 8; ++i) {
    AppendBatch batch;
    batch.push_back(to_queue(make_message(std::to_string(i)), "iothub"));
    store->async_append(std::move(batch), [&](Result<AppendResult> r) {
      EXPECT_TRUE(r) << r.error().message();
      ++completed;
    });
  }
  ioc_.restart();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (completed < 8 && std::chrono::steady_clock::now() < give_up)
    ioc_.run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(completed, 8) << "the group waited for its commit window";
  EXPECT_EQ(peek(*store, kUp).size(), 9u);
}

TEST_F(StoreFixture, TooManyWaitingAppendsFailFastWithBusy) {
  options_.max_pending_appends = 5;
  GatedClock gated;
  auto store = open_store(&gated);
  ASSERT_TRUE(store);
  gated.close();
  std::vector<boost::system::error_code> results;
  auto submit = [&] {
    AppendBatch batch;
    batch.push_back(to_queue(make_message("b"), "iothub"));
    store->async_append(std::move(batch),
                        [&](Result<AppendResult> r) { results.push_back(r.error()); });
  };
  submit();
  gated.wait_for_waiter();  // the first is being processed; five more may wait
  for (int i = 0; i < 6; ++i)
    submit();
  ioc_.restart();
  while (results.empty())
    ioc_.run_one();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0], Errc::busy);
  EXPECT_TRUE(is_retryable(results[0]));
  gated.open();
  while (results.size() < 7)
    ioc_.run_one();
  EXPECT_EQ(std::count(results.begin(), results.end(), boost::system::error_code{}), 6);
  EXPECT_EQ(registry_.counter("edgehubd_store_appends_refused_total", "", {"reason"})
                .with({"busy"})
                .value(),
            1u);
}

TEST_F(StoreFixture, CompletionsRunOnTheCallersExecutorNotTheStoreThread) {
  auto store = open_store();
  ASSERT_TRUE(store);
  std::thread::id where;
  auto r = wait_for<AppendResult>(ioc_, [&](auto h) {
    AppendBatch batch;
    batch.push_back(to_queue(make_message("t"), "iothub"));
    store->async_append(std::move(batch),
                        [&where, h = std::move(h)](Result<AppendResult> res) mutable {
                          where = std::this_thread::get_id();
                          h(std::move(res));
                        });
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(where, std::this_thread::get_id());
}

TEST_F(StoreFixture, WorksWithCoroutines) {
  auto store = open_store();
  ASSERT_TRUE(store);
  // Outcomes are checked outside the coroutine: GCC 12 mis-compiles gtest macros inside one.
  bool done = false;
  boost::system::error_code append_error, bad_error;
  std::size_t peeked = 0;
  boost::asio::co_spawn(
      ioc_,
      [&]() -> boost::asio::awaitable<void> {
        AppendBatch batch;
        batch.push_back(to_queue(make_message("co"), "iothub"));
        auto r = co_await store->async_append(std::move(batch), boost::asio::use_awaitable);
        append_error = r.error();
        auto entries = co_await store->async_peek(kUp, 10, boost::asio::use_awaitable);
        peeked = entries ? entries->size() : 0;
        AppendBatch invalid(1);
        invalid[0].message = make_message("x");
        auto bad = co_await store->async_append(std::move(invalid), boost::asio::use_awaitable);
        bad_error = bad.error();
        done = true;
      },
      boost::asio::detached);
  ioc_.restart();
  ioc_.run();
  EXPECT_TRUE(done);
  EXPECT_FALSE(append_error);
  EXPECT_EQ(peeked, 1u);
  EXPECT_EQ(bad_error, Errc::invalid_argument);  // an error value, no exception
}

TEST_F(StoreFixture, InvalidAppendsAreRejectedWithoutSideEffects) {
  auto store = open_store();
  ASSERT_TRUE(store);
  AppendBatch batch;
  batch.push_back(to_queue(make_message("ok"), "iothub"));
  batch.push_back(AppendItem{make_message("no targets"), {}});
  EXPECT_EQ(append(*store, std::move(batch)).error(), Errc::invalid_argument);
  EXPECT_EQ(append_one(*store, to_queue(make_message("x"), "")).error(), Errc::invalid_argument);
  EXPECT_TRUE(peek(*store, kUp).empty());
  auto empty = append(*store, AppendBatch{});
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST_F(StoreFixture, PurgeEmptiesOneQueueAndCountsDrops) {
  auto store = open_store();
  ASSERT_TRUE(store);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(append_one(*store, to_queue(make_message("p"), "iothub")));
  ASSERT_TRUE(append_one(*store, to_queue(make_message("keep"), "other")));
  auto r = wait_for<std::uint64_t>(ioc_, [&](auto h) { store->async_purge(kUp, std::move(h)); });
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 3u);
  EXPECT_TRUE(peek(*store, kUp).empty());
  EXPECT_EQ(peek(*store, QueueId{"other", kDefaultPriority}).size(), 1u);
  EXPECT_EQ(dropped("purged", "dev1", ""), 3u);
  EXPECT_EQ(bodies(), 1u);
}

TEST_F(StoreFixture, KeyValueStateIsDurable) {
  auto bytes = [](std::string_view s) {
    std::vector<std::byte> v(s.size());
    std::memcpy(v.data(), s.data(), s.size());
    return v;
  };
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    struct Put {
      std::string ns, key, value;
    };
    const std::vector<Put> puts = {
        {"twin", "dev1", "{\"a\":1}"}, {"twin", "dev2", "{}"}, {"mqtt", "dev1", "subs"}};
    for (const auto& [ns, key, value] : puts) {
      auto r = wait_for<void>(
          ioc_, [&](auto h) { store->async_put_state(ns, key, bytes(value), std::move(h)); });
      ASSERT_TRUE(r);
    }
    auto r = wait_for<void>(ioc_, [&](auto h) {
      store->async_put_state("twin", "dev1", bytes("{\"a\":2}"), std::move(h));
    });
    ASSERT_TRUE(r);
    auto erased = wait_for<bool>(
        ioc_, [&](auto h) { store->async_erase_state("twin", "dev2", std::move(h)); });
    ASSERT_TRUE(erased);
    EXPECT_TRUE(*erased);
    erased = wait_for<bool>(
        ioc_, [&](auto h) { store->async_erase_state("twin", "dev2", std::move(h)); });
    ASSERT_TRUE(erased);
    EXPECT_FALSE(*erased);
  }
  auto store = open_store();
  ASSERT_TRUE(store);
  using Value = std::optional<std::vector<std::byte>>;
  auto got =
      wait_for<Value>(ioc_, [&](auto h) { store->async_get_state("twin", "dev1", std::move(h)); });
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, bytes("{\"a\":2}"));
  got =
      wait_for<Value>(ioc_, [&](auto h) { store->async_get_state("twin", "dev2", std::move(h)); });
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->has_value());
  auto list = wait_for<std::vector<StateEntry>>(
      ioc_, [&](auto h) { store->async_list_state("twin", std::move(h)); });
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].key, "dev1");
  list = wait_for<std::vector<StateEntry>>(
      ioc_, [&](auto h) { store->async_list_state("mqtt", std::move(h)); });
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].value, bytes("subs"));
}

TEST_F(StoreFixture, DestroyingTheStoreFinishesQueuedWork) {
  // Destruction flushes queued work before the thread stops: nothing accepted is abandoned.
  auto store = open_store();
  ASSERT_TRUE(store);
  int completed = 0;
  for (int i = 0; i < 50; ++i) {
    AppendBatch batch;
    batch.push_back(to_queue(make_message("f"), "iothub"));
    store->async_append(std::move(batch), [&](Result<AppendResult> r) {
      EXPECT_TRUE(r);
      ++completed;
    });
  }
  store.reset();
  ioc_.restart();
  ioc_.run();
  EXPECT_EQ(completed, 50);
  auto reopened = open_store();
  ASSERT_TRUE(reopened);
  EXPECT_EQ(peek(*reopened, kUp).size(), 50u);
}

TEST_F(StoreFixture, InspectorReadsWhileTheStoreIsOpen) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(append_one(*store, to_queue(make_message("one"), "iothub", 0)));
  ASSERT_TRUE(
      append_one(*store, to_queue(make_message("two"), "iothub", 0, std::chrono::seconds(1))));
  std::string diagnostic;
  auto inspector = Inspector::open(options_.path, diagnostic);
  ASSERT_TRUE(inspector) << diagnostic;
  auto queues = inspector->queues(clock_.now() + std::chrono::seconds(5));
  ASSERT_TRUE(queues);
  ASSERT_EQ(queues->size(), 1u);
  EXPECT_EQ((*queues)[0].length, 2u);
  EXPECT_EQ((*queues)[0].expired, 1u);
  auto entries = inspector->peek(QueueId{"iothub", 0}, 10);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[1].message.body_text(), "two");
  // The writer is not blocked by the open reader.
  ASSERT_TRUE(append_one(*store, to_queue(make_message("three"), "iothub", 0)));
  EXPECT_EQ(inspector->peek(QueueId{"iothub", 0}, 10)->size(), 3u);
}

TEST_F(StoreFixture, OfflinePurgeNeedsTheDaemonStopped) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(append_one(*store, to_queue(make_message("x"), "iothub")));
  std::string diagnostic;
  auto r = purge_offline(options_.path, kUp, diagnostic);
  EXPECT_EQ(r.error(), Errc::locked);
  EXPECT_NE(diagnostic.find("running"), std::string::npos);
  store.reset();
  r = purge_offline(options_.path, kUp, diagnostic);
  ASSERT_TRUE(r) << diagnostic;
  EXPECT_EQ(*r, 1u);
  EXPECT_EQ(bodies(), 0u);
}

TEST_F(StoreFixture, SecondOpenOfTheSameStoreIsRefused) {
  auto store = open_store();
  ASSERT_TRUE(store);
  std::string diagnostic;
  auto second = open_sqlite_store(options_, registry_, clock_, ioc_.get_executor(), diagnostic);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), Errc::locked);
}

}  // namespace
}  // namespace edgehub::store::testing
