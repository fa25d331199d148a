// The C2D hold queue for HTTPS devices (iot-hub-protocol.md §9.1): lock, settle, lock expiry,
// delivery count, bounds. Time is a settable clock.

#include "edgehub/http/c2d_queue.hpp"

#include <gtest/gtest.h>

#include "edgehub/http/errors.hpp"

namespace edgehub::http {
namespace {

class SteppingClock final : public core::Clock {
 public:
  core::SystemTime now() const override { return core::SystemTime{offset_}; }
  core::SteadyTime steady_now() const override { return core::SteadyTime{offset_}; }
  void advance(std::chrono::seconds s) { offset_ += s; }

 private:
  std::chrono::seconds offset_{1000};
};

core::Message text(std::string_view body) {
  core::Message m;
  m.set_body(body);
  return m;
}

TEST(C2dQueue, LockThenComplete) {
  SteppingClock clock;
  std::vector<std::pair<std::string, C2dOutcome>> seen;
  C2dQueue q(clock, {}, [&](const std::string& d, const core::Message& m, C2dOutcome o) {
    seen.emplace_back(d + ":" + std::string(m.body_text()), o);
  });
  EXPECT_FALSE(q.receive("d"));
  ASSERT_TRUE(q.enqueue("d", text("one")));
  ASSERT_TRUE(q.enqueue("d", text("two")));
  auto first = q.receive("d");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->message.body_text(), "one");
  EXPECT_EQ(first->delivery_count, 1u);
  auto second = q.receive("d");  // the first is locked: the next one is delivered
  ASSERT_TRUE(second);
  EXPECT_EQ(second->message.body_text(), "two");
  EXPECT_FALSE(q.receive("d"));
  EXPECT_EQ(q.complete("other", first->lock_token).error(), Errc::lock_lost);
  ASSERT_TRUE(q.complete("d", first->lock_token));
  EXPECT_EQ(q.complete("d", first->lock_token).error(), Errc::lock_lost);
  ASSERT_TRUE(q.reject("d", second->lock_token));
  EXPECT_EQ(q.depth("d"), 0u);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::make_pair(std::string("d:one"), C2dOutcome::completed));
  EXPECT_EQ(seen[1], std::make_pair(std::string("d:two"), C2dOutcome::rejected));
}

TEST(C2dQueue, AbandonAndExpiryRedeliver) {
  SteppingClock clock;
  C2dQueue q(clock, C2dQueueOptions{.lock_timeout = std::chrono::seconds(60)});
  ASSERT_TRUE(q.enqueue("d", text("m")));
  auto a = q.receive("d");
  ASSERT_TRUE(a);
  ASSERT_TRUE(q.abandon("d", a->lock_token));
  auto b = q.receive("d");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->delivery_count, 2u);
  EXPECT_NE(b->lock_token, a->lock_token);
  clock.advance(std::chrono::seconds(61));
  EXPECT_EQ(q.complete("d", b->lock_token).error(), Errc::lock_lost);  // the lock expired
  auto c = q.receive("d");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->delivery_count, 3u);
  EXPECT_EQ(c->sequence_number, a->sequence_number);
  ASSERT_TRUE(q.complete("d", c->lock_token));
}

TEST(C2dQueue, BoundsAndDeadLetter) {
  SteppingClock clock;
  C2dQueue q(clock,
             C2dQueueOptions{.max_per_device = 2, .max_devices = 1, .max_delivery_count = 2});
  ASSERT_TRUE(q.enqueue("d", text("1")));
  ASSERT_TRUE(q.enqueue("d", text("2")));
  EXPECT_EQ(q.enqueue("d", text("3")).error(), Errc::queue_full);
  EXPECT_EQ(q.enqueue("e", text("x")).error(), Errc::queue_full);
  for (int i = 0; i < 2; ++i) {
    auto m = q.receive("d");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->message.body_text(), "1");
    ASSERT_TRUE(q.abandon("d", m->lock_token));
  }
  auto next = q.receive("d");  // "1" is dead-lettered after two deliveries
  ASSERT_TRUE(next);
  EXPECT_EQ(next->message.body_text(), "2");
  EXPECT_EQ(q.dead_lettered(), 1u);
}

TEST(C2dQueue, EachMessagesSettledCallbackHearsItsFinalOutcomeOnce) {
  SteppingClock clock;
  C2dQueue q(clock, C2dQueueOptions{.max_delivery_count = 2});
  std::vector<std::pair<std::string, C2dOutcome>> finals;
  const auto track = [&](std::string name) {
    return [&finals, name](C2dOutcome o) { finals.emplace_back(name, o); };
  };
  ASSERT_TRUE(q.enqueue("d", text("done"), track("done")));
  ASSERT_TRUE(q.enqueue("d", text("refused"), track("refused")));
  ASSERT_TRUE(q.enqueue("e", text("hopeless"), track("hopeless")));
  auto done = q.receive("d");
  ASSERT_TRUE(done);
  ASSERT_TRUE(q.abandon("d", done->lock_token));  // not final: delivered again
  EXPECT_TRUE(finals.empty());
  done = q.receive("d");
  ASSERT_TRUE(q.complete("d", done->lock_token));
  auto refused = q.receive("d");
  ASSERT_TRUE(q.reject("d", refused->lock_token));
  for (int i = 0; i < 2; ++i) {
    auto m = q.receive("e");
    ASSERT_TRUE(m);
    clock.advance(std::chrono::seconds(61));  // the lock expires: not final either
  }
  EXPECT_FALSE(q.receive("e"));  // dead-lettered after two deliveries
  EXPECT_EQ(finals, (std::vector<std::pair<std::string, C2dOutcome>>{
                        {"done", C2dOutcome::completed},
                        {"refused", C2dOutcome::rejected},
                        {"hopeless", C2dOutcome::dead_lettered}}));
}

}  // namespace
}  // namespace edgehub::http
