// The committed tail on its own: what it answers, what it leaves to the database, its bounds.

#include "store/committed_tail.hpp"

#include <gtest/gtest.h>

#include "edgehub/store/errors.hpp"
#include "store/message_codec.hpp"
#include "support/store/store_test_support.hpp"

namespace edgehub::store::testing {
namespace {

using Kind = CommittedTail::Change::Kind;
constexpr std::int64_t kNeverMs = std::numeric_limits<std::int64_t>::max();

const QueueId kA{"a", 0};
const QueueId kB{"b", 0};

class CommittedTailTest : public ::testing::Test {
 protected:
  void track(CommittedTail& tail, const QueueId& q, SeqNo floor) {
    const CommittedTail::Change c{Kind::track, &q, floor};
    tail.apply(std::span(&c, 1));
  }
  void append(CommittedTail& tail, const QueueId& q, SeqNo seq, std::string body,
              std::int64_t expires_ms = kNeverMs) {
    auto data = encode_message(make_message(std::move(body)));
    const CommittedTail::Change c{Kind::append, &q, seq, expires_ms, &data};
    tail.apply(std::span(&c, 1));
  }
  std::vector<std::string> bodies(const std::optional<core::Result<ReadBatch>>& answer) {
    std::vector<std::string> out;
    if (!answer || !*answer) return out;
    for (const auto& e : (*answer)->entries)
      out.push_back(std::to_string(e.seq) + ":" + std::string(e.message.body_text()));
    return out;
  }

  FakeClock clock_;
};

TEST_F(CommittedTailTest, AnswersReadsAtOrAboveTheFloorAndLeavesTheRestToTheDatabase) {
  CommittedTail tail({100, 1 << 20});
  EXPECT_FALSE(tail.read(kA, 0, {10, 0}, clock_)) << "an untracked queue";
  track(tail, kA, 5);
  append(tail, kA, 6, "x");
  append(tail, kA, 9, "y");
  EXPECT_FALSE(tail.read(kA, 4, {10, 0}, clock_)) << "entries at or below 5 may be in the file";
  EXPECT_EQ(bodies(tail.read(kA, 5, {10, 0}, clock_)), (std::vector<std::string>{"6:x", "9:y"}));
  EXPECT_EQ(bodies(tail.read(kA, 6, {10, 0}, clock_)), (std::vector<std::string>{"9:y"}));
  auto end = tail.read(kA, 9, {10, 0}, clock_);
  ASSERT_TRUE(end && *end);
  EXPECT_TRUE((*end)->entries.empty());
  EXPECT_FALSE((*end)->more);
  EXPECT_FALSE(tail.read(kB, 0, {10, 0}, clock_));
}

TEST_F(CommittedTailTest, ReadsStopAtTheirLimitsSkipExpiredEntriesAndTellWhetherMoreFollow) {
  CommittedTail tail({100, 1 << 20});
  track(tail, kA, 0);
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch())
          .count();
  append(tail, kA, 1, "a");
  append(tail, kA, 2, "expired", now_ms);
  append(tail, kA, 3, "b" + std::string(100, 'b'));
  append(tail, kA, 4, "c");
  auto two = tail.read(kA, 0, {2, 0}, clock_);
  EXPECT_EQ(bodies(two), (std::vector<std::string>{"1:a", "3:b" + std::string(100, 'b')}));
  EXPECT_TRUE((*two)->more);
  auto by_bytes = tail.read(kA, 0, {10, 50}, clock_);
  EXPECT_EQ(bodies(by_bytes), (std::vector<std::string>{"1:a"}));
  EXPECT_TRUE((*by_bytes)->more);
  auto first_always_fits = tail.read(kA, 1, {10, 5}, clock_);
  EXPECT_EQ(bodies(first_always_fits).size(), 1u);
  EXPECT_TRUE((*first_always_fits)->more);
  auto all = tail.read(kA, 0, {3, 0}, clock_);
  EXPECT_EQ(bodies(all).size(), 3u);
  EXPECT_FALSE((*all)->more) << "the expired entry does not count as more";
}

TEST_F(CommittedTailTest, ForgettingRaisesTheFloorAndLaterEntriesBelowItAreIgnored) {
  CommittedTail tail({100, 1 << 20});
  track(tail, kA, 0);
  append(tail, kA, 1, "a");
  append(tail, kA, 2, "b");
  append(tail, kA, 3, "c");
  tail.forget(kA, 2);
  EXPECT_EQ(tail.entries(), 1u);
  EXPECT_FALSE(tail.read(kA, 1, {10, 0}, clock_));
  EXPECT_EQ(bodies(tail.read(kA, 2, {10, 0}, clock_)), (std::vector<std::string>{"3:c"}));
  // An ack past what was committed (its entries deleted before they were ever read).
  tail.forget(kA, 10);
  append(tail, kA, 7, "deleted by that ack");
  append(tail, kA, 11, "d");
  EXPECT_EQ(bodies(tail.read(kA, 10, {10, 0}, clock_)), (std::vector<std::string>{"11:d"}));
  // Tracking again starts over.
  track(tail, kA, 20);
  EXPECT_EQ(tail.entries(), 0u);
  EXPECT_FALSE(tail.read(kA, 11, {10, 0}, clock_));
}

TEST_F(CommittedTailTest, TheBoundsEvictTheOldestEntryOfAllQueues) {
  CommittedTail tail({3, 1 << 20});
  track(tail, kA, 0);
  track(tail, kB, 0);
  append(tail, kA, 1, "a1");  // a queue nobody reads
  append(tail, kB, 2, "b2");
  append(tail, kB, 3, "b3");
  append(tail, kB, 4, "b4");
  EXPECT_EQ(tail.entries(), 3u);
  EXPECT_FALSE(tail.read(kA, 0, {10, 0}, clock_)) << "a1 was evicted: ask the database";
  EXPECT_EQ(bodies(tail.read(kA, 1, {10, 0}, clock_)), std::vector<std::string>{});
  EXPECT_EQ(bodies(tail.read(kB, 0, {10, 0}, clock_)),
            (std::vector<std::string>{"2:b2", "3:b3", "4:b4"}));
  append(tail, kB, 5, "b5");
  EXPECT_FALSE(tail.read(kB, 0, {10, 0}, clock_));
  EXPECT_EQ(bodies(tail.read(kB, 2, {10, 0}, clock_)),
            (std::vector<std::string>{"3:b3", "4:b4", "5:b5"}));

  const auto one = encode_message(make_message("x")).size();
  CommittedTail small({100, 2 * one});
  track(small, kA, 0);
  append(small, kA, 1, "x");
  append(small, kA, 2, "y");
  append(small, kA, 3, "z");
  EXPECT_EQ(small.entries(), 2u);
  EXPECT_LE(small.bytes(), 2 * one);
  EXPECT_FALSE(small.read(kA, 0, {10, 0}, clock_));
}

TEST_F(CommittedTailTest, AFanOutCopiesTheBodyForEveryQueueButTheLast) {
  CommittedTail tail({100, 1 << 20});
  track(tail, kA, 0);
  track(tail, kB, 0);
  auto data = encode_message(make_message("both"));
  const CommittedTail::Change changes[] = {
      {Kind::append, &kA, 1, kNeverMs, &data, true},
      {Kind::append, &kB, 2, kNeverMs, &data, false},
  };
  tail.apply(changes);
  EXPECT_TRUE(data.empty()) << "the last queue took the buffer itself";
  EXPECT_EQ(bodies(tail.read(kA, 0, {10, 0}, clock_)), (std::vector<std::string>{"1:both"}));
  EXPECT_EQ(bodies(tail.read(kB, 0, {10, 0}, clock_)), (std::vector<std::string>{"2:both"}));
}

TEST_F(CommittedTailTest, AnEntryThatDoesNotDecodeIsReportedCorrupt) {
  CommittedTail tail({100, 1 << 20});
  track(tail, kA, 0);
  std::vector<std::byte> garbage{std::byte{0xff}, std::byte{1}};
  const CommittedTail::Change c{Kind::append, &kA, 1, kNeverMs, &garbage};
  tail.apply(std::span(&c, 1));
  auto answer = tail.read(kA, 0, {10, 0}, clock_);
  ASSERT_TRUE(answer);
  ASSERT_FALSE(*answer);
  EXPECT_EQ(answer->error(), make_error_code(Errc::corrupt));
}

TEST_F(CommittedTailTest, ZeroEntriesDisablesIt) {
  CommittedTail tail({0, 1 << 20});
  track(tail, kA, 0);
  append(tail, kA, 1, "a");
  EXPECT_FALSE(tail.read(kA, 0, {10, 0}, clock_));
  EXPECT_EQ(tail.entries(), 0u);
}

}  // namespace
}  // namespace edgehub::store::testing
