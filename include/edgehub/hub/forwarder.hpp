#pragma once

// Forwarding stored messages to their endpoint (design.md §2; edgehub-reference.md §4.3).
//
// A Forwarder owns one endpoint's queues (one per priority). It reads them in strict priority
// order (0 first; the highest non-empty queue is re-chosen after every batch), hands messages in
// FIFO order to an EndpointSink with a bounded window of unacknowledged ones, and advances each
// queue's store checkpoint only up to the highest contiguously acknowledged sequence number.
// A message not acknowledged within the ack timeout, a refusal or a reconnect makes the queue
// start again from its checkpoint (at-least-once: duplicates are possible, loss is not). While
// the sink is unavailable the forwarder waits for a wake-up; messages stay in the store.
//
// Forwarders run on their own strand of the executor they are given; public members may be
// called from any thread.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "edgehub/core/client_id.hpp"
#include "edgehub/hub/device_channels.hpp"
#include "edgehub/hub/scheduler.hpp"
#include "edgehub/ops/metrics.hpp"
#include "edgehub/routing/route_table.hpp"
#include "edgehub/store/message_store.hpp"

namespace edgehub::hub {

/// Where a forwarder delivers: a module input (ModuleInputSink) or the upstream client.
/// connection() and send() are called on the forwarder's strand.
///
/// send()'s outcome decides what happens to the message: success advances the checkpoint;
/// Errc::not_authorized drops it (the receiver will never take it; counted as
/// edgehub_messages_dropped_total{reason="not_authorized"}) and advances too; any other error
/// resends from the checkpoint after a back-off.
class EndpointSink {
 public:
  virtual ~EndpointSink() = default;

  /// Non-zero when the sink can take messages now. The value changes on every reconnect, which
  /// makes the forwarder resend what was in flight on the older connection.
  virtual std::uint64_t connection() const = 0;

  /// Sends one message. `done` exactly once, from any thread: success when the receiver has
  /// taken it, an error otherwise (Errc::queue_full, Errc::disconnected, ...).
  virtual void send(core::Message message, DoneCallback done) = 0;

  /// Installs the callback the sink calls (from any thread) whenever connection() may have
  /// changed. Called once, before the first connection().
  virtual void set_wake(std::function<void()> wake) = 0;

  /// The `to` and `to_route_input` labels of edgehub_messages_sent_total.
  virtual std::string to_label() const = 0;
  virtual std::string input_label() const = 0;
};

/// Delivers to a module input of this gateway through the module's DeviceChannel, when the
/// module is connected and subscribed to its inputs.
class ModuleInputSink final : public EndpointSink {
 public:
  /// `channels` must outlive the sink.
  ModuleInputSink(DeviceChannels& channels, core::ClientId module, std::string input);

  // Implements edgehub::hub::EndpointSink
  std::uint64_t connection() const override;
  void send(core::Message message, DoneCallback done) override;
  void set_wake(std::function<void()> wake) override;
  std::string to_label() const override { return module_.to_string(); }
  std::string input_label() const override { return input_; }

 private:
  DeviceChannels& channels_;
  core::ClientId module_;
  std::string input_;
  DeviceChannels::Watch watch_;
};

struct ForwarderOptions {
  std::size_t window = 16;  ///< unacknowledged messages per endpoint at most
  /// Entries read per store read (edgeHub's prefetch). What the window has no room for yet
  /// waits in memory, so reads need not be as small as the room acknowledgements free.
  std::size_t batch = 10;
  /// Stored bytes per store read at most (the first entry goes whatever its size): with
  /// `batch`, the bound on what waits in memory for room in the window. 0 = no bound.
  std::size_t batch_bytes = 1024 * 1024;
  std::chrono::milliseconds ack_timeout{30000};  ///< edgeHub's MessageAckTimeoutSecs
  std::chrono::milliseconds retry_delay{1000};   ///< pause after a refusal or failure
  /// Above retry_delay: the pause doubles after every consecutive failure up to this bound
  /// (edgeHub's upstream policy is 1 s -> 60 s), and a success resets it.
  std::chrono::milliseconds max_retry_delay{0};
  /// A random extra pause in [0, jitter] on every back-off, so that many endpoints (or gateways)
  /// do not retry in lock-step (edgeHub: 1 s).
  std::chrono::milliseconds jitter{0};
  /// Accounted bytes (core::Message::accounted_size) in flight at most; 0 = unbounded. At least
  /// one message is always sent, whatever its size (IoT Hub's batch bound is 256 KiB).
  std::size_t window_bytes = 0;
};

/// The forwarders' metric families (edgeHub's names). Registered when Forwarders is built, so
/// dashboards see every family from start-up, before the first message goes out.
struct ForwarderMetrics {
  explicit ForwarderMetrics(ops::Registry& registry);
  ops::CounterFamily& sent;
  ops::SummaryFamily& send_duration;
  ops::SummaryFamily& process_duration;
  ops::CounterFamily& retries;
  ops::CounterFamily& dropped;
};

class Forwarder : public std::enable_shared_from_this<Forwarder> {
 public:
  /// `store`, `scheduler` and `registry` must outlive the forwarder. Call start() once.
  static std::shared_ptr<Forwarder> create(std::string endpoint_id,
                                           std::unique_ptr<EndpointSink> sink,
                                           store::MessageStore& store, Scheduler& scheduler,
                                           ops::Registry& registry,
                                           boost::asio::any_io_executor executor,
                                           ForwarderOptions options = {});
  ~Forwarder();

  void start();
  /// Stops reading and sending; acknowledgements arriving later are ignored. Idempotent. Once
  /// the stop has run on the strand the sink is destroyed.
  void stop();

  /// New messages were committed to the queue of `priority` (opens that queue if new).
  void notify(std::uint32_t priority);

  const std::string& endpoint_id() const noexcept { return endpoint_id_; }

  /// Observation for tests and `edgehubctl status`: call on the forwarder's strand (or with the
  /// io_context stopped).
  std::size_t in_flight() const;
  store::SeqNo checkpoint(std::uint32_t priority) const;

 private:
  /// The metric children and labels of one (origin, route output, priority): looked up once
  /// per origin instead of building label vectors for every message.
  struct Origin {
    std::string from;
    std::string output;
    ops::Counter* sent = nullptr;
    ops::Summary* send_duration = nullptr;
    ops::Summary* process_duration = nullptr;
  };
  struct InFlight {
    store::SeqNo seq = 0;
    std::size_t bytes = 0;
    bool acked = false;
    const Origin* origin = nullptr;
    /// Held by the last message of each read: one ack timeout per batch, not per message. It
    /// goes when that message leaves the window, which only happens once every earlier one has.
    TimerHandle timer;
    std::chrono::steady_clock::time_point sent_at;  ///< handed to the sink
    core::SystemTime enqueued_at{};                 ///< accepted by the gateway
  };
  struct Queue {
    std::uint32_t priority = 0;
    store::SeqNo checkpoint = 0;  ///< everything at or below is acknowledged
    store::SeqNo read_after = 0;  ///< the last entry read from the store
    std::vector<InFlight> in_flight;
    std::deque<store::StoredEntry> ahead;  ///< read, waiting for room in the window
    bool maybe_more = true;                ///< the store may hold entries after read_after
    std::uint64_t notes = 0;               ///< commit notifications received
    std::uint64_t epoch = 0;  ///< bumped on restart from the checkpoint; stale results ignored
    store::SeqNo stored_checkpoint = 0;  ///< the last checkpoint the store confirmed
    bool storing_checkpoint = false;     ///< one store ack in flight per queue at most
  };

  Forwarder(std::string endpoint_id, std::unique_ptr<EndpointSink> sink, store::MessageStore& store,
            Scheduler& scheduler, ops::Registry& registry, boost::asio::any_io_executor executor,
            ForwarderOptions options);

  /// A sink's outcome for one message, waiting for the strand.
  struct SendResult {
    std::uint32_t priority = 0;
    std::uint64_t epoch = 0;
    store::SeqNo seq = 0;
    core::ErrorCode ec;
  };

  void pump();
  void read(Queue& q);
  void send_ahead(Queue& q);
  void on_read(std::uint32_t priority, std::uint64_t epoch, std::uint64_t notes,
               core::Result<store::ReadBatch> batch);
  void on_result(const SendResult& result);
  void on_timeout(std::uint32_t priority, std::uint64_t epoch, store::SeqNo last);
  void post_inbox();
  void on_inbox();
  void store_checkpoint(Queue& q);
  const Origin& origin_of(const core::Message& message, std::uint32_t priority);
  void on_wake();
  void restart(Queue& q);
  void back_off();
  std::chrono::milliseconds next_retry_delay();
  void advance(Queue& q);
  void forget_in_flight(Queue& q);
  Queue& queue(std::uint32_t priority);

  std::string endpoint_id_;
  std::unique_ptr<EndpointSink> sink_;
  store::MessageStore& store_;
  Scheduler& scheduler_;
  ForwarderMetrics metrics_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  ForwarderOptions options_;

  std::atomic<bool> stop_requested_{false};

  // Commit notifications and the sink's outcomes wait here until the strand takes them all in
  // one handler: a group commit of many messages, or a burst of acknowledgements, posts once,
  // not once per message.
  std::mutex inbox_mutex_;
  std::vector<std::uint32_t> noted_;  ///< priorities notified since the last handler
  std::vector<SendResult> results_;   ///< outcomes since the last handler
  bool inbox_posted_ = false;
  std::vector<SendResult> taken_results_;  ///< strand: the inbox's results being handled

  // Strand state.
  std::map<std::uint32_t, Queue> queues_;  ///< ascending number = descending priority
  bool started_ = false;
  bool stopped_ = false;
  bool peeking_ = false;
  bool backing_off_ = false;
  std::size_t in_flight_count_ = 0;  ///< over every queue
  std::size_t in_flight_bytes_ = 0;  ///< accounted bytes, over every queue
  std::uint64_t connection_ = 0;
  std::uint32_t failures_ = 0;  ///< consecutive, for the exponential back-off
  std::minstd_rand random_;     ///< jitter only: no need for a strong generator
  TimerHandle retry_timer_;
  std::map<std::string, Origin, std::less<>> origins_;  ///< key: from '\n' output '\n' priority
  std::string origin_key_;                              ///< reused to look origins_ up
};

/// The set of forwarders of a gateway: one per module-input endpoint named by the routes or
/// found in the store at start, plus endpoints added explicitly (the upstream sink, later).
/// Thread-safe.
class Forwarders {
 public:
  /// Every reference must outlive the set.
  Forwarders(store::MessageStore& store, DeviceChannels& channels, Scheduler& scheduler,
             ops::Registry& registry, boost::asio::any_io_executor executor,
             std::string edge_device_id, ForwarderOptions options = {});
  ~Forwarders();
  Forwarders(const Forwarders&) = delete;
  Forwarders& operator=(const Forwarders&) = delete;

  /// Creates the forwarders of every module-input endpoint (and priority) the table names.
  /// Endpoints that disappear keep their forwarders: their queued messages are still delivered.
  void update_routes(const routing::RouteTable& routes);

  /// Creates forwarders for the module-input queues already in the store, then completes.
  /// Asynchronous: `done` runs on the set's executor.
  void recover(std::function<void(core::Result<std::size_t>)> done);

  /// Runs `sink` for `endpoint_id` (e.g. the upstream endpoint "iothub"), with its own forwarding
  /// policy when `options` is given. Reads `priorities` and every queue of the endpoint already
  /// in the store. Replaces nothing: a second call for the same id is ignored and returns false.
  bool add_endpoint(const std::string& endpoint_id, std::unique_ptr<EndpointSink> sink,
                    std::vector<std::uint32_t> priorities,
                    std::optional<ForwarderOptions> options = std::nullopt);

  /// The CommitObserver to give RoutingIngress.
  void on_committed(const std::vector<store::QueueId>& queues);

  std::shared_ptr<Forwarder> find(const std::string& endpoint_id) const;
  void stop_all();

 private:
  std::shared_ptr<Forwarder> ensure_module_input(const std::string& endpoint_id);

  store::MessageStore& store_;
  DeviceChannels& channels_;
  Scheduler& scheduler_;
  ops::Registry& registry_;
  boost::asio::any_io_executor executor_;
  std::string edge_device_id_;
  ForwarderOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Forwarder>> forwarders_;
};

}  // namespace edgehub::hub
