// Module-input forwarding on a real SQLite store: FIFO per queue, strict priority, the ack
// window, contiguous checkpoints, retry after the ack timeout and on reconnect, modules that are
// away or unsubscribed, TTL, and queues recovered from the store at start.

#include "component/hub/hub_fixture.hpp"
#include "edgehub/hub/errors.hpp"

namespace edgehub::hub::testing {
namespace {

using namespace std::chrono_literals;

const core::ClientId kFilter{kGateway, "filter"};
const store::QueueId kIn{"gw/filter/in1", routing::kDefaultPriority};

/// The SQLite store, counting the reads the hub makes of it.
class CountingStore final : public store::MessageStore {
 public:
  CountingStore(std::unique_ptr<store::MessageStore> inner, boost::asio::any_io_executor executor)
      : inner_(std::move(inner)), executor_(std::move(executor)) {}
  std::size_t reads = 0;

 protected:
  boost::asio::any_io_executor fallback_executor() const override { return executor_; }
  void do_append(store::AppendBatch batch, store::Completion<store::AppendResult> done) override {
    inner_->async_append(std::move(batch), std::move(done));
  }
  void do_read(store::QueueId queue, store::SeqNo after, store::ReadLimits limits,
               store::Completion<store::ReadBatch> done) override {
    ++reads;
    inner_->async_read(std::move(queue), after, limits, std::move(done));
  }
  void do_ack(store::QueueId queue, store::SeqNo up_to,
              store::Completion<std::uint64_t> done) override {
    inner_->async_ack(std::move(queue), up_to, std::move(done));
  }
  void do_purge(store::QueueId queue, store::Completion<std::uint64_t> done) override {
    inner_->async_purge(std::move(queue), std::move(done));
  }
  void do_stats(store::Completion<store::StoreStats> done) override {
    inner_->async_stats(std::move(done));
  }
  void do_maintain(store::Completion<store::SweepResult> done) override {
    inner_->async_maintain(std::move(done));
  }
  void do_put_state(std::string ns, std::string key, std::vector<std::byte> value,
                    store::Completion<void> done) override {
    inner_->async_put_state(std::move(ns), std::move(key), std::move(value), std::move(done));
  }
  void do_get_state(std::string ns, std::string key,
                    store::Completion<std::optional<std::vector<std::byte>>> done) override {
    inner_->async_get_state(std::move(ns), std::move(key), std::move(done));
  }
  void do_erase_state(std::string ns, std::string key, store::Completion<bool> done) override {
    inner_->async_erase_state(std::move(ns), std::move(key), std::move(done));
  }
  void do_list_state(std::string ns,
                     store::Completion<std::vector<store::StateEntry>> done) override {
    inner_->async_list_state(std::move(ns), std::move(done));
  }

 private:
  std::unique_ptr<store::MessageStore> inner_;
  boost::asio::any_io_executor executor_;
};

class ForwarderTest : public HubFixture {
 protected:
  void start_simple(ForwarderOptions fo = {}) {
    start({route("r",
                 "FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO "
                 "BrokeredEndpoint(\"/modules/filter/inputs/in1\")")},
          fo);
  }
  void send(const std::vector<std::string>& bodies) {
    for (const auto& b : bodies)
      ASSERT_TRUE(accept(telemetry(b)));
  }
  std::uint64_t sent(std::uint32_t priority = routing::kDefaultPriority) {
    return counter("edgehub_messages_sent_total",
                   {"from", "to", "from_route_output", "to_route_input", "priority"},
                   {"dev1", "gw/filter", "", "in1", std::to_string(priority)});
  }
};

TEST_F(ForwarderTest, DeliversInOrderToTheSubscribedModuleAndCheckpointsOnAck) {
  start_simple();
  auto ch = channel();
  auto reg = channels_.attach(kFilter, ch, Subscription::module_inputs);
  send({"m1", "m2", "m3"});
  settle();
  EXPECT_EQ(ch->received_bodies(), (std::vector<std::string>{"m1", "m2", "m3"}));
  ASSERT_EQ(ch->pending.size(), 3u);
  EXPECT_EQ(ch->pending[0].input, "in1");
  EXPECT_EQ(ch->pending[0].message.sys_prop(core::SystemProperty::input_name), "in1");
  EXPECT_EQ(ch->pending[0].message.sys_prop(core::SystemProperty::connection_device_id), "dev1");
  ch->ack_all();
  settle();
  EXPECT_TRUE(peek(kIn).empty());
  EXPECT_EQ(sent(), 3u);
  // edgeHub's timing summaries: hand-over to acknowledgement, and arrival to acknowledgement.
  const auto sending = registry_
                           .summary("edgehub_message_send_duration_seconds", "",
                                    {"from", "to", "from_route_output", "to_route_input"})
                           .with({"dev1", "gw/filter", "", "in1"})
                           .snapshot();
  EXPECT_EQ(sending.count, 3u);
  EXPECT_GE(sending.sum, 0.0);
  const auto processing =
      registry_.summary("edgehub_message_process_duration_seconds", "", {"from", "to", "priority"})
          .with({"dev1", "gw/filter", std::to_string(routing::kDefaultPriority)})
          .snapshot();
  EXPECT_EQ(processing.count, 3u);
  EXPECT_GE(processing.sum, sending.sum) << "arrival comes before hand-over";
}

TEST_F(ForwarderTest, AReadTakesAWholeBatchAndWhatTheWindowHasNoRoomForWaitsInOrder) {
  CountingStore* counting = nullptr;
  wrap_store_ = [&](std::unique_ptr<store::MessageStore> s) {
    auto c = std::make_unique<CountingStore>(std::move(s), ioc_.get_executor());
    counting = c.get();
    return c;
  };
  start_simple(ForwarderOptions{.window = 2, .batch = 10});
  ASSERT_NE(counting, nullptr);
  send({"m1", "m2", "m3", "m4", "m5", "m6"});
  auto ch = channel();
  auto reg = channels_.attach(kFilter, ch, Subscription::module_inputs);
  settle();
  ASSERT_EQ(ch->received_bodies(), (std::vector<std::string>{"m1", "m2"}));
  for (int i = 0; i < 4; ++i) {
    ch->ack(0);  // one at a time: each frees room for one more
    settle();
  }
  ch->ack_all();
  settle();
  EXPECT_EQ(ch->received_bodies(), (std::vector<std::string>{"m1", "m2", "m3", "m4", "m5", "m6"}));
  // One read found all six and the end of the queue: freeing room in the window costs no read.
  EXPECT_EQ(counting->reads, 1u);
  EXPECT_TRUE(bodies(kIn).empty());
}

TEST_F(ForwarderTest, ForwardingRightBehindTheAppendsReadsFromMemoryNotTheStoreThread) {
  start_simple();
  auto ch = channel();
  auto reg = channels_.attach(kFilter, ch, Subscription::module_inputs);
  send({"first"});  // creates the queue; the forwarder's first read may predate it
  settle();
  ch->ack_all();
  settle();
  auto stats = [&] {
    return store::testing::wait_for<store::StoreStats>(
               ioc_, [&](auto h) { store_->async_stats(std::move(h)); })
        .value();
  };
  const auto before = stats();
  for (int i = 0; i < 5; ++i) {
    send({"m" + std::to_string(i)});
    settle();
    ch->ack_all();
    settle();
  }
  EXPECT_EQ(ch->received_bodies(),
            (std::vector<std::string>{"first", "m0", "m1", "m2", "m3", "m4"}));
  const auto after = stats();
  EXPECT_EQ(after.reads_from_database, before.reads_from_database);
  EXPECT_GE(after.reads_from_memory - before.reads_from_memory, 5u);
  EXPECT_TRUE(peek(kIn).empty());
}

TEST_F(ForwarderTest, AReadCutShortByItsByteBoundIsFollowedByTheNextOne) {
  CountingStore* counting = nullptr;
  wrap_store_ = [&](std::unique_ptr<store::MessageStore> s) {
    auto c = std::make_unique<CountingStore>(std::move(s), ioc_.get_executor());
    counting = c.get();
    return c;
  };
  start_simple(ForwarderOptions{.window = 10, .batch = 10, .batch_bytes = 1});
  ASSERT_NE(counting, nullptr);
  send({"m1", "m2", "m3"});
  auto ch = channel();
  auto reg = channels_.attach(kFilter, ch, Subscription::module_inputs);
  settle();
  EXPECT_EQ(ch->received_bodies(), (std::vector<std::string>{"m1", "m2", "m3"}));
  // One entry per read, and the third read reached the end of the queue.
  EXPECT_EQ(counting->reads, 3u);
  ch->ack_all();
  settle();
  EXPECT_TRUE(bodies(kIn).empty());
}

TEST_F(ForwarderTest, ModuleAwayThenBackReceivesEverythingQueued) {
  start_simple();
  send({"a", "b", "c", "d"});
  settle();
  EXPECT_EQ(bodies(kIn).size(), 4u);  // waiting in the store
  auto ch = channel();
  auto reg = channels_.attach(kFilter, ch, Subscription::module_inputs);
  settle();
  EXPECT_EQ(ch->received_bodies(), (std::vector<std::string>{"a", "b", "c", "d"}));
  ch->ack_all();
  settle();
  EXPECT_TRUE(peek(kIn).empty());
}

TEST_F(ForwarderTest, NothingIsSentUntilTheModuleSubscribesToInputs) {
  start_simple();
  auto ch = channel();
  auto reg = channels_.attach(kFilter, ch, Subscription::methods);
  send({"a"});
  settle();
  EXPECT_TRUE(ch->all_inputs.empty());
  reg.subscribe(Subscription::module_inputs);
  settle();
  EXPECT_EQ(ch->received_bodies(), std::vector<std::string>{"a"});
}

TEST_F(ForwarderTest, ModuleDisconnectingKeepsMessagesForItsReturn) {
  start_simple();
  auto first = channel();
  auto reg = channels_.attach(kFilter, first, Subscription::module_inputs);
  send({"a", "b"});
  settle();
  ASSERT_EQ(first->pending.size(), 2u);
  first->ack(0);  // "a" taken; "b" never acknowledged
  reg.detach();
  first->fail_all(make_error_code(Errc::disconnected));
  settle();
  EXPECT_EQ(bodies(kIn), std::vector<std::string>{"b"});
  send({"c"});
  auto second = channel();
  auto reg2 = channels_.attach(kFilter, second, Subscription::module_inputs);
  scheduler_.advance(1s);  // the back-off after the failed delivery
  settle();
  EXPECT_EQ(second->received_bodies(), (std::vector<std::string>{"b", "c"}));
}

TEST_F(ForwarderTest, AWindowBoundsUnacknowledgedMessagesAndTheCheckpointOnlyAdvancesContiguously) {
  start_simple(ForwarderOptions{.window = 3, .batch = 10});
  auto ch = channel();
  auto reg = channels_.attach(kFilter, ch, Subscription::module_inputs);
  send({"m1", "m2", "m3", "m4", "m5"});
  settle();
  ASSERT_EQ(ch->received_bodies(), (std::vector<std::string>{"m1", "m2", "m3"}));
  // m2 and m3 acknowledged before m1: nothing may be removed from the store yet.
  ch->ack(2);
  ch->ack(1);
  settle();
  EXPECT_EQ(bodies(kIn).size(), 5u);
  EXPECT_EQ(ch->all_inputs.size(), 3u);  // window still full
  ch->ack(0);
  settle();
  EXPECT_EQ(bodies(kIn), (std::vector<std::string>{"m4", "m5"}));
  EXPECT_EQ(ch->received_bodies(), (std::vector<std::string>{"m1", "m2", "m3", "m4", "m5"}));
  ch->ack_all();
  settle();
  EXPECT_TRUE(peek(kIn).empty());
  EXPECT_EQ(sent(), 5u);
}

TEST_F(ForwarderTest, UnacknowledgedMessagesAreSentAgainAfterTheAckTimeout) {
  start_simple(ForwarderOptions{.ack_timeout = 30s});
  auto ch = channel();
  auto reg = channels_.attach(kFilter, ch, Subscription::module_inputs);
  send({"m1", "m2"});
  settle();
  ASSERT_EQ(ch->all_inputs.size(), 2u);
  scheduler_.advance(29s);
  settle();
  EXPECT_EQ(ch->all_inputs.size(), 2u);
  scheduler_.advance(1s);
  settle();
  EXPECT_EQ(ch->received_bodies(), (std::vector<std::string>{"m1", "m2", "m1", "m2"}));
  // Late acks of the first attempt are ignored; the resent copies count.
  ch->ack(0);
  ch->ack(0);
  settle();
  EXPECT_EQ(bodies(kIn).size(), 2u);
  ch->ack_all();
  settle();
  EXPECT_TRUE(peek(kIn).empty());
}

TEST_F(ForwarderTest, AReconnectResendsWhatWasInFlight) {
  start_simple();
  auto first = channel();
  auto reg1 = channels_.attach(kFilter, first, Subscription::module_inputs);
  send({"m1", "m2"});
  settle();
  ASSERT_EQ(first->pending.size(), 2u);
  auto second = channel();
  auto reg2 = channels_.attach(kFilter, second, Subscription::module_inputs);
  settle();
  EXPECT_EQ(first->closed, make_error_code(Errc::superseded));
  EXPECT_EQ(second->received_bodies(), (std::vector<std::string>{"m1", "m2"}));
  first->fail_all(make_error_code(Errc::disconnected));  // the old session ends
  second->ack_all();
  settle();
  EXPECT_TRUE(peek(kIn).empty());
  EXPECT_EQ(counter("edgehub_operation_retry_total", {"id", "operation"}, {"dev1", "send_message"}),
            2u);
}

TEST_F(ForwarderTest, QueueFullFromTheSessionIsRetriedAfterTheBackOffOrOnReconnect) {
  start_simple(ForwarderOptions{.retry_delay = 1s});
  auto ch = channel(/*capacity=*/0);
  auto reg = channels_.attach(kFilter, ch, Subscription::module_inputs);
  send({"m1"});
  settle();
  EXPECT_EQ(ch->refused, 1u);
  scheduler_.advance(999ms);
  settle();
  EXPECT_EQ(ch->refused, 1u);  // no busy loop while backing off
  scheduler_.advance(1ms);
  settle();
  EXPECT_EQ(ch->refused, 2u);
  EXPECT_EQ(bodies(kIn).size(), 1u);
  // A new connection is retried at once.
  auto ok = channel();
  reg = channels_.attach(kFilter, ok, Subscription::module_inputs);
  settle();
  EXPECT_EQ(ok->received_bodies(), std::vector<std::string>{"m1"});
}

TEST_F(ForwarderTest, HigherPriorityQueuesDrainFirstAndAreRecheckedAfterEveryBatch) {
  start({route("low",
               "FROM /messages/* WHERE level = 'low' INTO "
               "BrokeredEndpoint(\"/modules/filter/inputs/in1\")",
               5),
         route("high",
               "FROM /messages/* WHERE level = 'high' INTO "
               "BrokeredEndpoint(\"/modules/filter/inputs/in1\")",
               0)},
        ForwarderOptions{.window = 2, .batch = 2});
  auto put = [&](const std::string& body, const std::string& level) {
    auto m = telemetry(body);
    m.set_app("level", level);
    ASSERT_TRUE(accept(std::move(m)));
  };
  put("L1", "low");
  put("L2", "low");
  put("L3", "low");
  put("H1", "high");
  auto ch = channel();
  auto reg = channels_.attach(kFilter, ch, Subscription::module_inputs);
  settle();
  // The high-priority queue goes first even though its message is the newest.
  EXPECT_EQ(ch->received_bodies(), (std::vector<std::string>{"H1", "L1"}));
  put("H2", "high");
  ch->ack_all();
  settle();
  EXPECT_EQ(ch->received_bodies(), (std::vector<std::string>{"H1", "L1", "H2", "L2"}));
  ch->ack_all();
  settle();
  ch->ack_all();
  settle();
  EXPECT_EQ(ch->received_bodies(), (std::vector<std::string>{"H1", "L1", "H2", "L2", "L3"}));
  EXPECT_TRUE(peek({"gw/filter/in1", 0}).empty());
  EXPECT_TRUE(peek({"gw/filter/in1", 5}).empty());
  EXPECT_EQ(sent(0), 2u);
  EXPECT_EQ(sent(5), 3u);
}

TEST_F(ForwarderTest, ExpiredMessagesAreSkipped) {
  start({route("r", "FROM /messages/* INTO BrokeredEndpoint(\"/modules/filter/inputs/in1\")",
               std::nullopt, 10)});
  send({"old"});
  clock_.advance(11s);
  send({"new"});
  auto ch = channel();
  auto reg = channels_.attach(kFilter, ch, Subscription::module_inputs);
  settle();
  EXPECT_EQ(ch->received_bodies(), std::vector<std::string>{"new"});
}

TEST_F(ForwarderTest, QueuesFoundInTheStoreAtStartAreForwarded) {
  open_store();
  // Left by an earlier run whose routes named another input.
  store::AppendBatch batch;
  batch.push_back(store::testing::to_queue(telemetry("left-over"), "gw/filter/old", 4));
  auto appended = store::testing::wait_for<store::AppendResult>(
      ioc_, [&](auto h) { store_->async_append(std::move(batch), std::move(h)); });
  ASSERT_TRUE(appended);
  Forwarders forwarders(*store_, channels_, scheduler_, registry_, ioc_.get_executor(), kGateway);
  auto recovered = store::testing::wait_for<std::size_t>(
      ioc_, [&](auto h) { forwarders.recover(std::move(h)); });
  ASSERT_TRUE(recovered);
  EXPECT_EQ(*recovered, 1u);
  auto ch = channel();
  auto reg = channels_.attach(kFilter, ch, Subscription::module_inputs);
  settle();
  ASSERT_EQ(ch->received_bodies(), std::vector<std::string>{"left-over"});
  EXPECT_EQ(ch->pending[0].input, "old");
  ch->ack_all();
  settle();
  EXPECT_TRUE(peek({"gw/filter/old", 4}).empty());
  forwarders.stop_all();
  settle();
}

TEST_F(ForwarderTest, OtherDevicesQueuesAndUpstreamAreNotTakenAsModuleInputs) {
  open_store();
  store::AppendBatch batch;
  batch.push_back(store::testing::to_queue(telemetry("x"), "iothub"));
  batch.push_back(store::testing::to_queue(telemetry("y"), "other-gw/filter/in"));
  ASSERT_TRUE((store::testing::wait_for<store::AppendResult>(
      ioc_, [&](auto h) { store_->async_append(std::move(batch), std::move(h)); })));
  Forwarders forwarders(*store_, channels_, scheduler_, registry_, ioc_.get_executor(), kGateway);
  auto recovered = store::testing::wait_for<std::size_t>(
      ioc_, [&](auto h) { forwarders.recover(std::move(h)); });
  ASSERT_TRUE(recovered);
  EXPECT_EQ(*recovered, 0u);
  EXPECT_EQ(forwarders.find("iothub"), nullptr);
}

// The upstream client will plug in here: the same reading, window, checkpoint and retry logic
// with another delivery target.
class RecordingSink final : public EndpointSink {
 public:
  std::uint64_t connection() const override { return online ? 1 : 0; }
  void send(core::Message message, DoneCallback done) override {
    sent.emplace_back(message.body_text());
    dones.push_back(std::move(done));
  }
  void set_wake(std::function<void()> w) override { wake = std::move(w); }
  std::string to_label() const override { return "upstream"; }
  std::string input_label() const override { return ""; }

  bool online = false;
  std::function<void()> wake;
  std::vector<std::string> sent;
  std::vector<DoneCallback> dones;
};

TEST_F(ForwarderTest, AnyEndpointSinkReusesTheForwardingLogic) {
  start({route("up", "FROM /messages/* INTO $upstream")});
  auto sink = std::make_unique<RecordingSink>();
  auto* up = sink.get();
  ASSERT_TRUE(forwarders_->add_endpoint("iothub", std::move(sink), {routing::kDefaultPriority}));
  EXPECT_FALSE(forwarders_->add_endpoint("iothub", std::make_unique<RecordingSink>(), {}));
  send({"u1", "u2"});
  settle();
  EXPECT_TRUE(up->sent.empty());  // offline: the messages wait in the store
  up->online = true;
  up->wake();
  settle();
  ASSERT_EQ(up->sent, (std::vector<std::string>{"u1", "u2"}));
  for (auto& d : up->dones)
    d({});
  settle();
  EXPECT_TRUE(peek({"iothub", routing::kDefaultPriority}).empty());
  EXPECT_EQ(counter("edgehub_messages_sent_total",
                    {"from", "to", "from_route_output", "to_route_input", "priority"},
                    {"dev1", "upstream", "", "", std::to_string(routing::kDefaultPriority)}),
            2u);
}

// Upstream policy (edgehub-reference.md §4.3): exponential back-off 1 s -> 60 s, reset by a
// success; not-authorised senders dropped and counted; bytes in flight bounded.
class UpstreamPolicyTest : public ForwarderTest {
 protected:
  RecordingSink* add_upstream() {
    auto sink = std::make_unique<RecordingSink>();
    auto* up = sink.get();
    up->online = true;
    EXPECT_TRUE(forwarders_->add_endpoint("iothub", std::move(sink), {routing::kDefaultPriority}));
    return up;
  }
  void fail_all(RecordingSink* up, core::ErrorCode ec) {
    auto dones = std::move(up->dones);
    up->dones.clear();
    for (auto& d : dones)
      d(ec);
    settle();
  }
  // Advances time by `d` and reports whether the sink was handed something new.
  bool resent_after(RecordingSink* up, std::chrono::milliseconds d) {
    const auto before = up->sent.size();
    scheduler_.advance(d);
    settle();
    return up->sent.size() > before;
  }
};

TEST_F(UpstreamPolicyTest, BackOffDoublesFromOneSecondToSixtyAndASuccessResetsIt) {
  ForwarderOptions fo;
  fo.retry_delay = 1000ms;
  fo.max_retry_delay = 60000ms;
  start({route("up", "FROM /messages/* INTO $upstream")}, fo);
  auto* up = add_upstream();
  send({"m1"});
  settle();
  ASSERT_EQ(up->sent.size(), 1u);
  // Failure n waits 1 s * 2^(n-1), capped at 60 s: 1, 2, 4, 8, 16, 32, 60, 60.
  for (auto expected : {1000ms, 2000ms, 4000ms, 8000ms, 16000ms, 32000ms, 60000ms, 60000ms}) {
    fail_all(up, make_error_code(Errc::disconnected));
    EXPECT_FALSE(resent_after(up, expected - 1ms)) << "resent before " << expected.count() << " ms";
    EXPECT_TRUE(resent_after(up, 1ms)) << "not resent after " << expected.count() << " ms";
  }
  up->dones.back()({});
  settle();
  send({"m2"});
  settle();
  fail_all(up, make_error_code(Errc::disconnected));
  EXPECT_TRUE(resent_after(up, 1000ms)) << "a success starts the back-off at 1 s again";
  EXPECT_EQ(up->sent.back(), "m2");
}

TEST_F(UpstreamPolicyTest, JitterAddsAtMostItsBoundToTheBackOff) {
  ForwarderOptions fo;
  fo.retry_delay = 1000ms;
  fo.max_retry_delay = 60000ms;
  fo.jitter = 1000ms;
  start({route("up", "FROM /messages/* INTO $upstream")}, fo);
  auto* up = add_upstream();
  send({"m1"});
  settle();
  fail_all(up, make_error_code(Errc::disconnected));
  EXPECT_FALSE(resent_after(up, 999ms)) << "the base delay is never shortened";
  EXPECT_TRUE(resent_after(up, 1001ms)) << "1 s + at most 1 s of jitter";
}

TEST_F(UpstreamPolicyTest, ANotAuthorisedSenderIsDroppedCountedAndTheQueueMovesOn) {
  start({route("up", "FROM /messages/* INTO $upstream")});
  auto* up = add_upstream();
  send({"refused", "next"});
  settle();
  ASSERT_EQ(up->sent.size(), 2u);
  up->dones[0](make_error_code(Errc::not_authorized));
  up->dones[1]({});
  settle();
  EXPECT_TRUE(peek({"iothub", routing::kDefaultPriority}).empty()) << "checkpoint past both";
  EXPECT_EQ(up->sent.size(), 2u) << "a non-retryable refusal is not sent again";
  EXPECT_EQ(counter("edgehub_messages_dropped_total", {"reason", "from", "from_route_output"},
                    {"not_authorized", "dev1", ""}),
            1u);
}

TEST_F(UpstreamPolicyTest, BytesInFlightAreBoundedButOneMessageAlwaysGoes) {
  ForwarderOptions fo;
  fo.window_bytes = 2500;
  start({route("up", "FROM /messages/* INTO $upstream")}, fo);
  auto* up = add_upstream();
  const std::string kilobyte(1000, 'x');
  send({kilobyte + "1", kilobyte + "2", kilobyte + "3", std::string(4000, 'y')});
  settle();
  EXPECT_EQ(up->sent.size(), 2u) << "a third 1 KB message would pass 2500 bytes in flight";
  up->dones[0]({});
  up->dones[1]({});
  settle();
  ASSERT_EQ(up->sent.size(), 3u);
  EXPECT_EQ(up->sent[2], kilobyte + "3");
  up->dones[2]({});
  settle();
  ASSERT_EQ(up->sent.size(), 4u) << "a message larger than the bound goes alone";
  up->dones[3]({});
  settle();
  EXPECT_TRUE(peek({"iothub", routing::kDefaultPriority}).empty());
}

}  // namespace
}  // namespace edgehub::hub::testing
