// The SQLite store engine: one thread owns the connection; callers hand it operations through a
// bounded queue; the thread runs every operation that has arrived since the last transaction in
// one transaction (group commit) and only then completes them.

#include "edgehub/store/sqlite_store.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "store/committed_tail.hpp"
#include "store/message_codec.hpp"
#include "store/schema.hpp"
#include "store/sqlite.hpp"
#include "store/store_file.hpp"

namespace edgehub::store {
namespace {

namespace fs = std::filesystem;
using core::Result;

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

/// Sequence numbers reserved per write of the saved high-water mark (meta next_seq).
constexpr SeqNo kSeqReservation = 1 << 16;

std::int64_t to_ms(core::SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

core::SystemTime from_ms(std::int64_t ms) {
  if (ms == kNever) return core::SystemTime::max();
  return core::SystemTime(
      std::chrono::duration_cast<core::SystemTime::duration>(std::chrono::milliseconds(ms)));
}

std::int64_t expiry_ms(std::int64_t now_ms, const std::optional<std::chrono::seconds>& ttl) {
  if (!ttl) return kNever;
  const std::int64_t add = ttl->count();
  if (add <= 0) return now_ms;
  if (add > (kNever - now_ms) / 1000) return kNever;
  return now_ms + add * 1000;
}

// Per-message overhead in the b-trees beyond the encoded body (row headers, index entries,
// page slack); the quota check adds it so a full store is detected before SQLite runs out.
constexpr std::size_t kBodyOverhead = 48;
constexpr std::size_t kEntryOverhead = 40;

template <typename T>
struct OpBase {
  Completion<T> done;
  std::optional<Result<T>> result;
};

/// A batch item as the store thread needs it: encoded, with its drop labels.
struct EncodedItem {
  std::vector<std::byte> data;  ///< encode_message()
  std::string origin;           ///< client id "d" or "d/m"
  std::string output;           ///< module output name or empty
  std::vector<Target> targets;
};

struct AppendOp : OpBase<AppendResult> {
  std::vector<EncodedItem> items;
  std::size_t bytes = 0;
  /// The result's vectors, sized by the caller's thread so the store thread fills them without
  /// allocating (they are freed on that thread too).
  AppendResult seqs;
};
struct ReadOp : OpBase<ReadBatch> {
  QueueId queue;
  SeqNo after = 0;
  ReadLimits limits;
};
struct AckOp : OpBase<std::uint64_t> {
  QueueId queue;
  SeqNo up_to = 0;
};
struct PurgeOp : OpBase<std::uint64_t> {
  QueueId queue;
};
struct StatsOp : OpBase<StoreStats> {};
struct MaintainOp : OpBase<SweepResult> {};
struct PutStateOp : OpBase<void> {
  std::string ns, key;
  std::vector<std::byte> value;
};
struct GetStateOp : OpBase<std::optional<std::vector<std::byte>>> {
  std::string ns, key;
};
struct EraseStateOp : OpBase<bool> {
  std::string ns, key;
};
struct ListStateOp : OpBase<std::vector<StateEntry>> {
  std::string ns;
};

using Op = std::variant<AppendOp, ReadOp, AckOp, PurgeOp, StatsOp, MaintainOp, PutStateOp,
                        GetStateOp, EraseStateOp, ListStateOp>;

/// Operations whose loss in a power cut would lose data someone was told is safe. Acks, purges,
/// sweeps and vacuum steps are not among them: losing one replays a checkpoint (a duplicate
/// delivery, which at-least-once allows), never loses a message.
bool needs_fsync(const Op& op) {
  return std::holds_alternative<AppendOp>(op) || std::holds_alternative<PutStateOp>(op) ||
         std::holds_alternative<EraseStateOp>(op);
}

/// Checkpoints wait (Options::checkpoint_delay) for a transaction that runs anyway.
bool is_checkpoint(const Op& op) {
  return std::holds_alternative<AckOp>(op);
}

bool is_write(const Op& op) {
  return !std::holds_alternative<ReadOp>(op) && !std::holds_alternative<StatsOp>(op) &&
         !std::holds_alternative<GetStateOp>(op) && !std::holds_alternative<ListStateOp>(op);
}

/// The store's metrics (style P10), registered once at open.
struct StoreMetrics {
  explicit StoreMetrics(ops::Registry& r)
      : dropped(r.counter("edgehub_messages_dropped_total", "Messages dropped, by reason",
                          {"reason", "from", "from_route_output"})),
        queue_length(r.gauge("edgehub_queue_length", "Entries waiting per endpoint queue",
                             {"endpoint", "priority"})),
        size_bytes(r.gauge("edgehubd_store_size_bytes", "Size of the store database file")
                       .with(std::vector<std::string>{})),
        quota_free_bytes(r.gauge("edgehubd_store_quota_free_bytes",
                                 "Bytes the store may still use before max_disk_mb")
                             .with(std::vector<std::string>{})),
        free_page_bytes(r.gauge("edgehubd_store_free_page_bytes",
                                "Free pages inside the store file awaiting incremental vacuum")
                            .with(std::vector<std::string>{})),
        commits(r.counter("edgehubd_store_commits_total", "Write transactions committed")
                    .with(std::vector<std::string>{})),
        refused(r.counter("edgehubd_store_appends_refused_total",
                          "Appends refused by the store, by reason", {"reason"})) {}

  ops::CounterFamily& dropped;
  ops::GaugeFamily& queue_length;
  ops::Gauge& size_bytes;
  ops::Gauge& quota_free_bytes;
  ops::Gauge& free_page_bytes;
  ops::Counter& commits;
  ops::CounterFamily& refused;
};

/// One (endpoint, priority) queue: its length in memory and the statements on its table
/// (schema::queue_table), prepared when the queue is loaded or created.
struct QueueState {
  std::int64_t id = 0;
  QueueId key;
  std::uint64_t length = 0;
  ops::Gauge* gauge = nullptr;
  /// The expiry of the queue's last in-order entry (docs/store.md, TTL): an entry expiring
  /// earlier is "late" and goes into the expiry index.
  std::int64_t in_order_expiry = 0;
  sqlite::Stmt insert, peek, delete_up_to, delete_one, expired_up_to, labels_up_to, head, nth,
      expired_late, walk;
};

/// Labels of a drop, counted once the transaction that dropped it has committed.
struct DropKey {
  std::string reason, from, output;
  friend auto operator<=>(const DropKey&, const DropKey&) = default;
};

class SqliteStore final : public MessageStore {
 public:
  SqliteStore(Options options, ops::Registry& registry, const core::Clock& clock,
              boost::asio::any_io_executor fallback, sqlite::Db db, StoreLock lock)
      : options_(std::move(options)),
        metrics_(registry),
        clock_(clock),
        fallback_(std::move(fallback)),
        tail_(CommittedTail::Limits{options_.tail_max_entries, options_.tail_max_bytes}),
        db_(std::move(db)),
        lock_(std::move(lock)) {}

  ~SqliteStore() override {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  Result<void> start(std::string& diagnostic) {
    if (auto r = prepare_statements(); !r) {
      diagnostic = "cannot prepare store statements: " + db_.last_error();
      return r;
    }
    if (auto r = load_state(); !r) {
      diagnostic = "cannot read store state: " + db_.last_error();
      return r;
    }
    for (auto& [key, q] : queues_)
      q->gauge->set(static_cast<double>(q->length));
    refresh_size_gauges();
    thread_ = std::thread([this] { run(); });
    return {};
  }

 protected:
  boost::asio::any_io_executor fallback_executor() const override { return fallback_; }

  void do_append(AppendBatch batch, Completion<AppendResult> done) override {
    // Encoded here, on the caller's thread: the store thread is the one serial stage every
    // append goes through, so it only binds and inserts, and each message is freed by the
    // thread that built it.
    AppendOp op;
    op.items.reserve(batch.size());
    op.seqs.reserve(batch.size());
    for (auto& item : batch) {
      auto& e = op.items.emplace_back();
      encode_message(item.message, e.data);
      e.origin = item.message.origin.to_string();
      if (const auto& output = item.message.sys_prop(core::SystemProperty::output_name)) {
        e.output = *output;
      }
      e.targets = std::move(item.targets);
      op.bytes += e.data.size() + 256;
      op.seqs.emplace_back().reserve(e.targets.size());
    }
    op.done = std::move(done);
    submit(Op(std::move(op)));
  }
  void do_read(QueueId queue, SeqNo after, ReadLimits limits, Completion<ReadBatch> done) override {
    // What was just committed is answered here, on the reader's thread: no round trip through
    // the store thread for a reader that keeps up with the appends.
    if (auto answer = tail_.read(queue, after, limits, clock_)) {
      reads_from_memory_.fetch_add(1, std::memory_order_relaxed);
      done(std::move(*answer));
      return;
    }
    ReadOp op;
    op.queue = std::move(queue);
    op.after = after;
    op.limits = limits;
    op.done = std::move(done);
    submit(Op(std::move(op)));
  }
  void do_ack(QueueId queue, SeqNo up_to, Completion<std::uint64_t> done) override {
    // Reads at or below the checkpoint go to the database from now on, so the tail never serves
    // an entry that the ack may have deleted.
    tail_.forget(queue, up_to);
    AckOp op;
    op.queue = std::move(queue);
    op.up_to = up_to;
    op.done = std::move(done);
    submit(Op(std::move(op)));
  }
  void do_purge(QueueId queue, Completion<std::uint64_t> done) override {
    PurgeOp op;
    op.queue = std::move(queue);
    op.done = std::move(done);
    submit(Op(std::move(op)));
  }
  void do_stats(Completion<StoreStats> done) override {
    StatsOp op;
    op.done = std::move(done);
    submit(Op(std::move(op)));
  }
  void do_maintain(Completion<SweepResult> done) override {
    MaintainOp op;
    op.done = std::move(done);
    submit(Op(std::move(op)));
  }
  void do_put_state(std::string ns, std::string key, std::vector<std::byte> value,
                    Completion<void> done) override {
    PutStateOp op;
    op.ns = std::move(ns);
    op.key = std::move(key);
    op.value = std::move(value);
    op.done = std::move(done);
    submit(Op(std::move(op)));
  }
  void do_get_state(std::string ns, std::string key,
                    Completion<std::optional<std::vector<std::byte>>> done) override {
    GetStateOp op;
    op.ns = std::move(ns);
    op.key = std::move(key);
    op.done = std::move(done);
    submit(Op(std::move(op)));
  }
  void do_erase_state(std::string ns, std::string key, Completion<bool> done) override {
    EraseStateOp op;
    op.ns = std::move(ns);
    op.key = std::move(key);
    op.done = std::move(done);
    submit(Op(std::move(op)));
  }
  void do_list_state(std::string ns, Completion<std::vector<StateEntry>> done) override {
    ListStateOp op;
    op.ns = std::move(ns);
    op.done = std::move(done);
    submit(Op(std::move(op)));
  }

 private:
  // ---- submission (any thread) ----

  /// A checkpoint waits (up to checkpoint_delay) for a transaction that runs anyway.
  bool is_lazy(const Op& op) const {
    return options_.checkpoint_delay.count() > 0 && is_checkpoint(op);
  }

  void submit(Op op) {
    std::optional<Errc> refused;
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      if (closing_) {
        refused = Errc::closed;
      } else if (auto* append = std::get_if<AppendOp>(&op)) {
        // Backpressure: appends beyond the bound fail at once with a retryable error instead
        // of queueing without limit; acks, peeks and state operations are never refused, since
        // they are what lets the backlog shrink.
        if (pending_appends_ >= options_.max_pending_appends ||
            pending_bytes_ + append->bytes > options_.max_pending_bytes) {
          refused = Errc::busy;
        } else {
          ++pending_appends_;
          pending_bytes_ += append->bytes;
        }
      }
      if (!refused) {
        const auto now = std::chrono::steady_clock::now();
        const bool lazy = is_lazy(op);
        if (lazy) {
          if (lazy_queued_++ == 0) first_lazy_at_ = now;
        } else if (urgent_queued_++ == 0) {
          first_queued_at_ = now;
        }
        queue_.push_back(std::move(op));
        // The store thread sleeps through a commit window on purpose: waking it for every
        // operation that joins the group would cost a context switch each.
        if (needs_fsync(queue_.back())) durable_queued_ = true;
        // A checkpoint does not wake a thread whose wait ends within checkpoint_delay anyway, nor
        // an append one that looks for work every commit window (polling_): waking it only for
        // it to sleep through the commit window would cost two context switches per commit.
        const bool timer_will_find_it =
            timed_wait_ && (lazy || (polling_ && needs_fsync(queue_.back())));
        // A group that has grown enough goes now, whether the thread sleeps through a commit
        // window or looks for work every window: one wake when it crosses the mark.
        wake = (idle_ && !timer_will_find_it) ||
               queue_.size() >= options_.max_ops_per_transaction ||
               queue_.size() == options_.commit_when_queued;
        // One wake is enough: operations submitted before the thread takes the lock again (an
        // ack and a read from the same forwarder handler) find it already woken.
        if (wake) idle_ = false;
      }
    }
    if (refused) {
      if (*refused == Errc::busy) metrics_.refused.with({"busy"}).inc();
      std::visit([&](auto& o) { o.done(*refused); }, op);
      return;
    }
    if (wake) cv_.notify_one();
  }

  // ---- the store thread ----

  void run() {
    // Named so that top -H and perf tell the store's work apart from the I/O threads.
    ::pthread_setname_np(::pthread_self(), "edgehub-store");
    using Steady = std::chrono::steady_clock;
    const bool periodic = options_.maintenance_interval.count() > 0;
    auto next_maintenance = Steady::now() + options_.maintenance_interval;
    std::vector<Op> group;
    // After a transaction the thread lingers for checkpoint_delay: a checkpoint arriving then
    // (the forwarder's, right after the upstream acknowledged what the last commit held) waits
    // for the next append or read instead of waking the thread for a transaction of its own.
    auto linger_until = Steady::time_point::min();
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        const bool polled = wait_for_work(
            lock, periodic ? next_maintenance : Steady::time_point::max(), linger_until);
        if (queue_.empty() && closing_) break;
        // Busy: a transaction ended within the lingering time. Reads answered from memory and
        // checkpoints that wait no longer run transactions of their own between two appends'
        // commits, so "within the commit window" would take a steady stream of appends for an
        // idle store and commit them a few at a time.
        const auto busy_horizon =
            std::max<Steady::duration>(options_.commit_window, options_.checkpoint_delay);
        // Appends found by a polling look have waited up to a commit window already: the look's
        // period is the window.
        if (options_.commit_window.count() > 0 && durable_queued_ && !polled &&
            Steady::now() - last_transaction_ < busy_horizon) {
          // Busy and about to fsync: let more join that fsync (idle_ is false, so their
          // submitters do not wake us).
          idle_ = false;
          const auto enough = std::min(options_.max_ops_per_transaction,
                                       std::max<std::size_t>(options_.commit_when_queued, 1));
          cv_.wait_until(lock, first_queued_at_ + options_.commit_window,
                         [&] { return closing_ || queue_.size() >= enough; });
        }
        idle_ = false;
        const auto n = std::min(queue_.size(), options_.max_ops_per_transaction);
        for (std::size_t i = 0; i < n; ++i) {
          if (auto* append = std::get_if<AppendOp>(&queue_.front())) {
            --pending_appends_;
            pending_bytes_ -= append->bytes;
          }
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        durable_queued_ = std::any_of(queue_.begin(), queue_.end(), needs_fsync);
        lazy_queued_ = static_cast<std::size_t>(
            std::count_if(queue_.begin(), queue_.end(), [&](const Op& op) { return is_lazy(op); }));
        urgent_queued_ = queue_.size() - lazy_queued_;
        if (lazy_queued_ > 0) first_lazy_at_ = Steady::now();
        if (urgent_queued_ > 0) first_queued_at_ = Steady::now();
      }
      if (!group.empty()) {
        process(group);
        group.clear();
        last_transaction_ = Steady::now();
        linger_until = last_transaction_ + options_.checkpoint_delay;
      }
      if (periodic && Steady::now() >= next_maintenance) {
        std::vector<Op> background;
        background.emplace_back(MaintainOp{});
        process(background);
        next_maintenance = Steady::now() + options_.maintenance_interval;
      }
    }
  }

  /// Waits (mutex_ held) until an operation that must not wait is queued, the store closes, the
  /// oldest checkpoint has waited checkpoint_delay, or `until` (the next maintenance step).
  /// While it lingers after a transaction (until `linger_until`) it also looks every commit
  /// window for appends that did not wake it; true when such a look found work.
  bool wait_for_work(std::unique_lock<std::mutex>& lock,
                     std::chrono::steady_clock::time_point until,
                     std::chrono::steady_clock::time_point linger_until) {
    using Steady = std::chrono::steady_clock;
    bool polled = false;
    for (;;) {
      idle_ = true;
      if (closing_ || urgent_queued_ > 0 || queue_.size() >= options_.max_ops_per_transaction) {
        break;
      }
      const auto now = Steady::now();
      auto deadline = until;
      timed_wait_ = false;
      polling_ = false;
      if (lazy_queued_ > 0) {
        // Checkpoints that arrived while the thread lingered go when the lingering ends: one
        // timer for all of them.
        auto due = first_lazy_at_ + options_.checkpoint_delay;
        if (first_lazy_at_ <= linger_until) due = std::min(due, linger_until);
        deadline = std::min(deadline, due);
        timed_wait_ = true;
      }
      if (now < linger_until) {
        deadline = std::min(deadline, linger_until);
        timed_wait_ = true;
        if (options_.commit_window.count() > 0) {
          deadline = std::min<Steady::time_point>(deadline, now + options_.commit_window);
          polling_ = true;
        }
      }
      polled = false;
      if (now >= deadline) break;
      bool timed_out = false;
      if (deadline == Steady::time_point::max()) {
        cv_.wait(lock);
      } else {
        timed_out = cv_.wait_until(lock, deadline) == std::cv_status::timeout;
      }
      polled = polling_ && timed_out;
    }
    timed_wait_ = false;
    polling_ = false;
    return polled;
  }

  void process(std::vector<Op>& group) {
    if (run_transaction(group)) {
      finish(group);
      return;
    }
    if (group.size() == 1) {
      finish(group);
      return;
    }
    // One operation broke the shared transaction (an SQLite error, not a policy refusal): run
    // each alone so that only the faulty one fails.
    for (auto& op : group) {
      std::vector<Op> one;
      one.push_back(std::move(op));
      std::visit([](auto& o) { o.result.reset(); }, one.front());
      run_transaction(one);
      finish(one);
    }
  }

  /// Runs the group in one transaction; false (everything rolled back, in-memory state reloaded,
  /// results set to the error) when SQLite failed.
  bool run_transaction(std::vector<Op>& group) {
    const bool writes =
        std::any_of(group.begin(), group.end(), [](const Op& op) { return is_write(op); });
    if (writes && options_.sync == config::StoreSync::full) {
      // With sync=full, only transactions holding appends or state wait for fsync. A lazy
      // commit's WAL frames precede every later one, so the next fsync of the WAL (the next
      // durable commit, or a checkpoint) covers them too; WAL order is never violated.
      const bool durable = std::any_of(group.begin(), group.end(), needs_fsync);
      if (durable != sync_full_now_) {
        auto set = durable ? stmt_sync_full_.run() : stmt_sync_normal_.run();
        if (set) {
          sync_full_now_ = durable;
        } else if (durable) {
          // Never commit an append without the fsync it was promised.
          for (auto& op : group)
            std::visit([&](auto& o) { o.result.emplace(set.error()); }, op);
          return false;
        }
      }
    }
    now_ms_ = to_ms(clock_.now());
    drops_.clear();
    touched_.clear();
    tail_changes_.clear();
    vacuumed_ = false;
    Result<void> r = writes ? stmt_begin_write_.run() : stmt_begin_read_.run();
    if (r && writes) r = refresh_used_bytes();
    for (auto& op : group) {
      if (!r) break;
      r = std::visit([this](auto& o) { return execute(o); }, op);
    }
    if (r && next_seq_ > reserved_seq_) {
      // The high-water mark is saved ahead of use, kSeqReservation at a time, rather than in
      // every commit: one page fewer to write per transaction. After a restart numbering resumes
      // above the reservation (a gap, never a reuse).
      const SeqNo reserve = next_seq_ + kSeqReservation;
      stmt_meta_put_.bind(1, std::string_view("next_seq"));
      stmt_meta_put_.bind(2, static_cast<std::int64_t>(reserve));
      r = stmt_meta_put_.run();
      stmt_meta_put_.reset();
      if (r) reserved_seq_ = reserve;
    }
    if (r) r = stmt_commit_.run();
    if (!r) {
      const auto error = r.error();
      (void)db_.exec("ROLLBACK");
      (void)load_state();
      for (auto& op : group) {
        std::visit([&](auto& o) { o.result.emplace(error); }, op);
      }
      return false;
    }
    // Durable now (or, for checkpoints, in the WAL): readers may see it in memory.
    tail_.apply(tail_changes_);
    tail_changes_.clear();
    if (writes) {
      metrics_.commits.inc();
      ++commits_;
      for (const auto& [key, n] : drops_) {
        metrics_.dropped.with({key.reason, key.from, key.output}).inc(n);
      }
      for (auto* q : touched_)
        q->gauge->set(static_cast<double>(q->length));
      if (vacuumed_) (void)db_.exec("PRAGMA wal_checkpoint(PASSIVE)");
      refresh_size_gauges();
    }
    return true;
  }

  /// Completes the group's operations. Consecutive operations bound for the same executor
  /// travel there as one posted handler, which runs their completions and then destroys them:
  /// a group commit of a thousand appends from one network thread wakes it once, not a thousand
  /// times, and every buffer an append allocated on its caller's thread (the encoded message,
  /// the result's sequence numbers) is freed there too. Freeing thousands of foreign chunks per
  /// commit cost the store thread malloc arena locking and consolidation (perf); the batch
  /// vectors themselves come back to the store emptied (spare_batches_) for the same reason.
  void finish(std::vector<Op>& group) {
    auto executor_of = [](Op& op) -> const boost::asio::any_io_executor* {
      return std::visit(
          [](auto& o) -> const boost::asio::any_io_executor* {
            return o.done && o.result ? &o.done.executor() : nullptr;
          },
          op);
    };
    for (std::size_t i = 0; i < group.size();) {
      const auto* first = executor_of(group[i]);
      if (!first) {
        ++i;
        continue;
      }
      boost::asio::any_io_executor executor = *first;
      auto batch = spare_batches_->take();
      for (; i < group.size(); ++i) {
        const auto* next = executor_of(group[i]);
        if (!next || *next != executor) break;
        batch.push_back(std::move(group[i]));
      }
      boost::asio::post(executor, [batch = std::move(batch), spare = spare_batches_]() mutable {
        for (auto& op : batch) {
          std::visit([](auto& o) { o.done.complete_here(std::move(*o.result)); }, op);
        }
        batch.clear();
        spare->give_back(std::move(batch));
      });
    }
  }

  // ---- operations (store thread, inside a transaction) ----
  // Each returns an error only for SQLite failures, which abort the transaction; policy
  // outcomes (store_full, invalid_argument) are the operation's result and return success.

  Result<void> execute(AppendOp& op) {
    std::size_t need = 0;
    for (const auto& item : op.items) {
      if (item.targets.empty()) {
        op.result.emplace(Errc::invalid_argument);
        return {};
      }
      for (const auto& t : item.targets) {
        if (t.queue.endpoint.empty()) {
          op.result.emplace(Errc::invalid_argument);
          return {};
        }
      }
      need += footprint(item);
    }
    if (used_bytes_ + need > options_.max_disk_bytes) {
      bool made_room = false;
      // A batch larger than half the quota could only fit by dropping nearly everything, so it
      // is refused instead of emptying the store for it.
      if (options_.when_full == config::WhenFull::drop_oldest &&
          need <= options_.max_disk_bytes / 2) {
        auto room = drop_oldest(need);
        if (!room) return room.error();
        made_room = *room;
      }
      if (!made_room) {
        metrics_.refused.with({"store_full"}).inc();
        op.result.emplace(Errc::store_full);
        return {};
      }
    }
    if (op.seqs.size() != op.items.size()) {
      // Run again alone after a shared transaction failed: the first run handed its vectors on.
      op.seqs.assign(op.items.size(), {});
    }
    auto seqs_of_item = op.seqs.begin();
    for (auto& item : op.items) {
      // One queue (the common case): the body goes inline into the entry. Fan-out: one shared
      // body row that every entry refers to.
      const bool shared = item.targets.size() > 1;
      std::int64_t body = 0;
      if (shared) {
        stmt_insert_body_.bind(1, static_cast<std::int64_t>(item.targets.size()));
        stmt_insert_body_.bind_static(2, item.data);
        auto r = stmt_insert_body_.run();
        stmt_insert_body_.reset();
        if (!r) return r;
        body = sqlite3_last_insert_rowid(db_.handle());
      }
      auto& seqs = *seqs_of_item++;
      seqs.clear();
      for (const auto& target : item.targets) {
        auto queue = queue_for(target.queue);
        if (!queue) return queue.error();
        auto& insert = (*queue)->insert;
        const SeqNo seq = next_seq_++;
        const auto expires = expiry_ms(now_ms_, target.ttl);
        const bool late = expires < (*queue)->in_order_expiry;
        if (!late) (*queue)->in_order_expiry = expires;
        insert.bind(1, static_cast<std::int64_t>(seq));
        insert.bind(2, expires);
        insert.bind(3, std::int64_t{late ? 1 : 0});
        insert.bind_static_text(4, item.origin);
        insert.bind_static_text(5, item.output);
        if (shared) {
          insert.bind(6, body);
          insert.bind_null(7);
        } else {
          insert.bind_null(6);
          insert.bind_static(7, item.data);
        }
        auto r = insert.run();
        if (!r) return r;
        ++(*queue)->length;
        touch(*queue);
        seqs.push_back(seq);
        // The last target takes the encoded message itself; a fan-out's others copy it.
        tail_changes_.push_back(CommittedTail::Change{CommittedTail::Change::Kind::append,
                                                      &(*queue)->key, seq, expires, &item.data,
                                                      &target != &item.targets.back()});
      }
      used_bytes_ += footprint(item);
    }
    appended_ += op.items.size();
    op.result.emplace(std::move(op.seqs));
    return {};
  }

  /// Bytes an item takes in the file, for the quota: its encoding and, per entry, the labels
  /// and b-tree overhead.
  static std::size_t footprint(const EncodedItem& item) {
    return item.data.size() + kBodyOverhead +
           (kEntryOverhead + item.origin.size() + item.output.size()) * item.targets.size();
  }

  Result<void> execute(ReadOp& op) {
    ++reads_from_database_;
    ReadBatch out;
    auto* queue = find_queue(op.queue);
    const auto max = std::min<std::size_t>(op.limits.max_entries, 1u << 30);
    if (queue == nullptr || max == 0) {
      op.result.emplace(std::move(out));
      return {};
    }
    auto& peek = queue->peek;
    peek.bind(1, static_cast<std::int64_t>(std::min<SeqNo>(op.after, kNever)));
    peek.bind(2, now_ms_);
    // One row beyond the limit: whether the queue holds more is then known without another read.
    peek.bind(3, static_cast<std::int64_t>(max + 1));
    std::size_t bytes = 0;
    int rc = 0;
    while ((rc = peek.step()) == SQLITE_ROW) {
      const auto data = peek.blob(2);
      if (out.entries.size() == max || (op.limits.max_bytes != 0 && !out.entries.empty() &&
                                        bytes + data.size() > op.limits.max_bytes)) {
        out.more = true;
        rc = SQLITE_DONE;
        break;
      }
      bytes += data.size();
      auto message = decode_message(data);
      if (!message) {
        peek.reset();
        op.result.emplace(Errc::corrupt);
        return {};
      }
      out.entries.push_back(StoredEntry{static_cast<SeqNo>(peek.int64(0)), from_ms(peek.int64(1)),
                                        std::move(*message)});
    }
    peek.reset();
    if (rc != SQLITE_DONE) return sqlite::to_errc(rc);
    op.result.emplace(std::move(out));
    return {};
  }

  Result<void> execute(AckOp& op) {
    auto* queue = find_queue(op.queue);
    if (queue == nullptr || op.up_to == 0) {
      op.result.emplace(std::uint64_t{0});
      return {};
    }
    const auto up_to = static_cast<std::int64_t>(std::min<SeqNo>(op.up_to, kNever));
    // Entries that expired before delivery and are acknowledged past are still TTL drops.
    queue->expired_up_to.bind(1, up_to);
    queue->expired_up_to.bind(2, now_ms_);
    if (auto r = collect_drops(queue->expired_up_to, "ttl_expiry"); !r) return r;
    auto removed = delete_up_to(*queue, up_to);
    if (!removed) return removed.error();
    op.result.emplace(*removed);
    return {};
  }

  Result<void> execute(PurgeOp& op) {
    auto* queue = find_queue(op.queue);
    if (queue == nullptr) {
      op.result.emplace(std::uint64_t{0});
      return {};
    }
    queue->labels_up_to.bind(1, kNever);
    if (auto r = collect_drops(queue->labels_up_to, "purged"); !r) return r;
    auto removed = delete_up_to(*queue, kNever);
    if (!removed) return removed.error();
    op.result.emplace(*removed);
    return {};
  }

  /// Deletes the queue's entries with seq <= up_to; the number removed.
  Result<std::uint64_t> delete_up_to(QueueState& queue, std::int64_t up_to) {
    queue.delete_up_to.bind(1, up_to);
    auto r = queue.delete_up_to.run();
    queue.delete_up_to.reset();
    if (!r) return r.error();
    const auto removed = static_cast<std::uint64_t>(db_.changes());
    queue.length -= std::min(queue.length, removed);
    touch(&queue);
    forget(queue, static_cast<SeqNo>(up_to));
    return removed;
  }

  Result<void> execute(StatsOp& op) {
    StoreStats s;
    for (const auto& [key, q] : queues_)
      s.queues.push_back(QueueStats{key, q->length});
    auto pages = sqlite::Db::scalar(stmt_page_count_);
    auto free_pages = sqlite::Db::scalar(stmt_freelist_count_);
    if (!pages) return pages.error();
    if (!free_pages) return free_pages.error();
    s.file_bytes = static_cast<std::uint64_t>(*pages) * page_size_;
    s.free_bytes = static_cast<std::uint64_t>(*free_pages) * page_size_;
    s.quota_bytes = options_.max_disk_bytes;
    s.commits = commits_;
    s.appended = appended_;
    s.reads_from_memory = reads_from_memory_.load(std::memory_order_relaxed);
    s.reads_from_database = reads_from_database_;
    op.result.emplace(std::move(s));
    return {};
  }

  Result<void> execute(MaintainOp& op) {
    SweepResult result;
    // TTL sweep. In each queue the in-order entries expire in sequence order, so the expired
    // ones are found walking from the head; late entries come from the expiry index. The
    // oldest of all of them go first, at most sweep_batch per step, so a long-offline gateway
    // never stalls appends behind one huge delete.
    struct Victim {
      std::int64_t expires, seq;
      QueueState* queue;
      std::string origin, output;
    };
    std::vector<Victim> victims;
    const auto batch = static_cast<std::int64_t>(options_.sweep_batch);
    auto collect = [&](QueueState& q, sqlite::Stmt& stmt, bool walking) -> Result<void> {
      int rc = 0;
      std::int64_t seen = 0;
      while ((rc = stmt.step()) == SQLITE_ROW && seen++ < batch) {
        const bool late = walking && stmt.int64(4) != 0;
        if (late) continue;                  // the index query finds it
        if (stmt.int64(1) > now_ms_) break;  // every later in-order entry expires later still
        victims.push_back(Victim{stmt.int64(1), stmt.int64(0), &q, std::string(stmt.text(2)),
                                 std::string(stmt.text(3))});
      }
      stmt.reset();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite::to_errc(rc);
      return {};
    };
    for (auto& [key, q] : queues_) {
      if (q->length == 0) continue;
      q->expired_late.bind(1, now_ms_);
      q->expired_late.bind(2, batch);
      if (auto r = collect(*q, q->expired_late, false); !r) return r;
      if (auto r = collect(*q, q->walk, true); !r) return r;
    }
    std::sort(victims.begin(), victims.end(), [](const Victim& a, const Victim& b) {
      return std::tie(a.expires, a.seq) < std::tie(b.expires, b.seq);
    });
    if (victims.size() > options_.sweep_batch) victims.resize(options_.sweep_batch);
    for (auto& v : victims) {
      v.queue->delete_one.bind(1, v.seq);
      auto r = v.queue->delete_one.run();
      v.queue->delete_one.reset();
      if (!r) return r;
      v.queue->length -= std::min<std::uint64_t>(v.queue->length, 1);
      touch(v.queue);
      forget(*v.queue, static_cast<SeqNo>(v.seq));
      ++drops_[DropKey{"ttl_expiry", std::move(v.origin), std::move(v.output)}];
    }
    result.expired_removed = victims.size();
    // Incremental vacuum: give free pages back to the file system a bounded step at a time.
    auto free_pages = sqlite::Db::scalar(stmt_freelist_count_);
    if (!free_pages) return free_pages.error();
    if (*free_pages > options_.vacuum_threshold_pages) {
      const std::string sql =
          "PRAGMA incremental_vacuum(" + std::to_string(options_.vacuum_step_pages) + ")";
      if (auto r = db_.exec(sql.c_str()); !r) return r;
      auto after = sqlite::Db::scalar(stmt_freelist_count_);
      if (!after) return after.error();
      result.pages_vacuumed = static_cast<std::uint64_t>(*free_pages - *after);
      vacuumed_ = true;
    }
    op.result.emplace(result);
    return {};
  }

  Result<void> execute(PutStateOp& op) {
    stmt_state_put_.bind(1, op.ns);
    stmt_state_put_.bind(2, op.key);
    stmt_state_put_.bind_static(3, op.value);
    auto r = stmt_state_put_.run();
    stmt_state_put_.reset();
    if (!r) return r;
    op.result.emplace();
    return {};
  }

  Result<void> execute(GetStateOp& op) {
    stmt_state_get_.bind(1, op.ns);
    stmt_state_get_.bind(2, op.key);
    std::optional<std::vector<std::byte>> value;
    const int rc = stmt_state_get_.step();
    if (rc == SQLITE_ROW) {
      const auto blob = stmt_state_get_.blob(0);
      value.emplace(blob.begin(), blob.end());
    }
    stmt_state_get_.reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite::to_errc(rc);
    op.result.emplace(std::move(value));
    return {};
  }

  Result<void> execute(EraseStateOp& op) {
    stmt_state_erase_.bind(1, op.ns);
    stmt_state_erase_.bind(2, op.key);
    auto r = stmt_state_erase_.run();
    stmt_state_erase_.reset();
    if (!r) return r;
    op.result.emplace(db_.changes() > 0);
    return {};
  }

  Result<void> execute(ListStateOp& op) {
    stmt_state_list_.bind(1, op.ns);
    std::vector<StateEntry> out;
    int rc = 0;
    while ((rc = stmt_state_list_.step()) == SQLITE_ROW) {
      const auto blob = stmt_state_list_.blob(1);
      out.push_back(StateEntry{std::string(stmt_state_list_.text(0)), {blob.begin(), blob.end()}});
    }
    stmt_state_list_.reset();
    if (rc != SQLITE_DONE) return sqlite::to_errc(rc);
    op.result.emplace(std::move(out));
    return {};
  }

  /// drop_oldest: deletes the oldest entries of the lowest-priority non-empty queues (among
  /// equal priorities, the queue whose head is oldest) until `need` fits. False when even an
  /// empty store would not hold it.
  Result<bool> drop_oldest(std::size_t need) {
    // One entry first, then twice as many each step up to 64: a few large messages free enough
    // room for the next one without emptying the queue (64 x 16 KiB is a whole 1 MiB quota),
    // while many small ones still go 64 at a time.
    constexpr std::int64_t kMaxChunk = 64;
    std::int64_t chunk = 1;
    while (used_bytes_ + need > options_.max_disk_bytes) {
      QueueState* victim = nullptr;
      std::int64_t victim_head = 0;
      for (auto& [key, q] : queues_) {
        if (q->length == 0) continue;
        if (victim != nullptr && q->key.priority < victim->key.priority) continue;
        auto head = sqlite::Db::scalar(q->head);
        if (!head) return head.error();
        if (*head == 0) continue;
        if (victim == nullptr || q->key.priority > victim->key.priority || *head < victim_head) {
          victim = q.get();
          victim_head = *head;
        }
      }
      if (victim == nullptr) return false;
      victim->nth.bind(1, chunk - 1);
      chunk = std::min(chunk * 2, kMaxChunk);
      const int rc = victim->nth.step();
      const std::int64_t last = rc == SQLITE_ROW ? victim->nth.int64(0) : kNever;
      victim->nth.reset();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite::to_errc(rc);
      victim->labels_up_to.bind(1, last);
      if (auto r = collect_drops(victim->labels_up_to, "store_full"); !r) return r.error();
      if (auto removed = delete_up_to(*victim, last); !removed) return removed.error();
      if (auto used = refresh_used_bytes(); !used) return used.error();
    }
    return true;
  }

  /// Reads (origin, output, count) rows from a prepared statement into drops_ under `reason`.
  Result<void> collect_drops(sqlite::Stmt& stmt, const char* reason) {
    int rc = 0;
    while ((rc = stmt.step()) == SQLITE_ROW) {
      drops_[DropKey{reason, std::string(stmt.text(0)), std::string(stmt.text(1))}] +=
          static_cast<std::uint64_t>(stmt.int64(2));
    }
    stmt.reset();
    if (rc != SQLITE_DONE) return sqlite::to_errc(rc);
    return {};
  }

  // ---- in-memory state ----

  QueueState* find_queue(const QueueId& key) {
    auto it = queues_.find(key);
    return it == queues_.end() ? nullptr : it->second.get();
  }

  Result<QueueState*> queue_for(const QueueId& key) {
    if (auto* q = find_queue(key)) return q;
    stmt_insert_queue_.bind(1, key.endpoint);
    stmt_insert_queue_.bind(2, static_cast<std::int64_t>(key.priority));
    auto r = stmt_insert_queue_.run();
    stmt_insert_queue_.reset();
    if (!r) return r.error();
    const auto id = sqlite3_last_insert_rowid(db_.handle());
    if (auto created = schema::create_queue_table(db_, id); !created) return created.error();
    auto q = add_queue(id, key, 0);
    if (q) {
      // A new table holds nothing: everything the queue will hold goes through the tail.
      tail_changes_.push_back(
          CommittedTail::Change{CommittedTail::Change::Kind::track, &(*q)->key, 0});
    }
    return q;
  }

  Result<QueueState*> add_queue(std::int64_t id, const QueueId& key, std::uint64_t length) {
    auto q = std::make_unique<QueueState>();
    q->id = id;
    q->key = key;
    q->length = length;
    if (auto r = prepare_queue(*q); !r) return r.error();
    q->gauge = &metrics_.queue_length.with({key.endpoint, std::to_string(key.priority)});
    auto* raw = q.get();
    queues_[key] = std::move(q);
    return raw;
  }

  Result<void> prepare_queue(QueueState& q) {
    const auto t = schema::queue_table(q.id);
    // `+expires` keeps the planner on the sequence-number b-tree (FIFO order, no sort) rather
    // than the expiry index for these range scans.
    const std::pair<sqlite::Stmt*, std::string> statements[] = {
        {&q.insert, "INSERT INTO " + t +
                        " (seq, expires, late, origin, output, body, data) VALUES (?1, ?2, ?3, "
                        "?4, ?5, ?6, ?7)"},
        {&q.peek,
         "SELECT seq, expires, coalesce(data, (SELECT b.data FROM bodies b WHERE b.id = "
         "body)) FROM " +
             t + " WHERE seq > ?1 AND +expires > ?2 ORDER BY seq LIMIT ?3"},
        {&q.delete_up_to, "DELETE FROM " + t + " WHERE seq <= ?1"},
        {&q.delete_one, "DELETE FROM " + t + " WHERE seq = ?1"},
        {&q.expired_up_to, "SELECT origin, output, count(*) FROM " + t +
                               " WHERE seq <= ?1 AND +expires <= ?2 GROUP BY 1, 2"},
        {&q.labels_up_to,
         "SELECT origin, output, count(*) FROM " + t + " WHERE seq <= ?1 GROUP BY 1, 2"},
        {&q.head, "SELECT min(seq) FROM " + t},
        {&q.nth, "SELECT seq FROM " + t + " ORDER BY seq LIMIT 1 OFFSET ?1"},
        {&q.expired_late, "SELECT seq, expires, origin, output FROM " + t +
                              " WHERE late AND expires <= ?1 ORDER BY expires LIMIT ?2"},
        {&q.walk, "SELECT seq, expires, origin, output, late FROM " + t + " ORDER BY seq"},
    };
    for (const auto& [stmt, sql] : statements) {
      auto prepared = db_.prepare(sql);
      if (!prepared) return prepared.error();
      *stmt = std::move(*prepared);
    }
    return {};
  }

  /// The queue's entries at or below `up_to` leave the database in this transaction. Capped at
  /// the last sequence number issued: the floor must stay below every entry appended later.
  void forget(const QueueState& q, SeqNo up_to) {
    tail_changes_.push_back(CommittedTail::Change{CommittedTail::Change::Kind::forget, &q.key,
                                                  std::min(up_to, next_seq_ - 1)});
  }

  void touch(QueueState* q) {
    if (std::find(touched_.begin(), touched_.end(), q) == touched_.end()) touched_.push_back(q);
  }

  /// (Re)reads queues, lengths and the next sequence number: at open, and after a rollback so
  /// memory never disagrees with the file.
  Result<void> load_state() {
    // The tail may hold what a rolled-back transaction did not keep: start again from the file.
    tail_.clear();
    queues_.clear();
    struct Row {
      std::int64_t id;
      QueueId key;
    };
    std::vector<Row> rows;
    {
      auto select = db_.prepare("SELECT id, endpoint, priority FROM queues");
      if (!select) return select.error();
      int rc = 0;
      while ((rc = select->step()) == SQLITE_ROW) {
        rows.push_back(Row{
            select->int64(0),
            QueueId{std::string(select->text(1)), static_cast<std::uint32_t>(select->int64(2))}});
      }
      if (rc != SQLITE_DONE) return sqlite::to_errc(rc);
    }
    std::int64_t max_seq = 0;
    for (const auto& row : rows) {
      const auto t = schema::queue_table(row.id);
      auto count = db_.scalar(("SELECT count(*) FROM " + t).c_str());
      if (!count) return count.error();
      auto last = db_.scalar(("SELECT coalesce(max(seq), 0) FROM " + t).c_str());
      if (!last) return last.error();
      max_seq = std::max(max_seq, *last);
      auto in_order = db_.scalar(
          ("SELECT expires FROM " + t + " WHERE NOT late ORDER BY seq DESC LIMIT 1").c_str());
      if (!in_order) return in_order.error();
      auto q = add_queue(row.id, row.key, static_cast<std::uint64_t>(*count));
      if (!q) return q.error();
      (*q)->in_order_expiry = *in_order;
      (*q)->gauge->set(static_cast<double>((*q)->length));
      // Entries already in the file are read from it; the tail holds what is appended from now.
      const CommittedTail::Change track{CommittedTail::Change::Kind::track, &(*q)->key,
                                        static_cast<SeqNo>(*last)};
      tail_.apply(std::span(&track, 1));
    }
    auto saved = db_.scalar("SELECT coalesce(max(value), 0) FROM meta WHERE key = 'next_seq'");
    if (!saved) return saved.error();
    next_seq_ = static_cast<SeqNo>(std::max<std::int64_t>(max_seq + 1, *saved));
    if (next_seq_ == 0) next_seq_ = 1;
    reserved_seq_ = static_cast<SeqNo>(*saved);
    auto page_size = db_.scalar("PRAGMA page_size");
    if (!page_size) return page_size.error();
    page_size_ = static_cast<std::uint64_t>(*page_size);
    return refresh_used_bytes();
  }

  Result<void> refresh_used_bytes() {
    auto pages = sqlite::Db::scalar(stmt_page_count_);
    if (!pages) return pages.error();
    auto free_pages = sqlite::Db::scalar(stmt_freelist_count_);
    if (!free_pages) return free_pages.error();
    used_bytes_ = static_cast<std::uint64_t>(*pages - *free_pages) * page_size_;
    file_bytes_ = static_cast<std::uint64_t>(*pages) * page_size_;
    free_bytes_ = static_cast<std::uint64_t>(*free_pages) * page_size_;
    return {};
  }

  void refresh_size_gauges() {
    (void)refresh_used_bytes();
    metrics_.size_bytes.set(static_cast<double>(file_bytes_));
    metrics_.free_page_bytes.set(static_cast<double>(free_bytes_));
    const auto quota = options_.max_disk_bytes;
    metrics_.quota_free_bytes.set(
        static_cast<double>(quota > used_bytes_ ? quota - used_bytes_ : 0));
  }

  Result<void> prepare_statements() {
    struct Entry {
      sqlite::Stmt* stmt;
      const char* sql;
    };
    const Entry entries[] = {
        {&stmt_begin_write_, "BEGIN IMMEDIATE"},
        {&stmt_begin_read_, "BEGIN"},
        {&stmt_commit_, "COMMIT"},
        {&stmt_sync_full_, "PRAGMA synchronous = FULL"},
        {&stmt_sync_normal_, "PRAGMA synchronous = NORMAL"},
        {&stmt_page_count_, "PRAGMA page_count"},
        {&stmt_freelist_count_, "PRAGMA freelist_count"},
        {&stmt_insert_body_, "INSERT INTO bodies (refs, data) VALUES (?1, ?2)"},
        {&stmt_insert_queue_, "INSERT INTO queues (endpoint, priority) VALUES (?1, ?2)"},
        {&stmt_meta_put_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)"},
        {&stmt_state_put_, "INSERT OR REPLACE INTO state (ns, key, value) VALUES (?1, ?2, ?3)"},
        {&stmt_state_get_, "SELECT value FROM state WHERE ns = ?1 AND key = ?2"},
        {&stmt_state_erase_, "DELETE FROM state WHERE ns = ?1 AND key = ?2"},
        {&stmt_state_list_, "SELECT key, value FROM state WHERE ns = ?1 ORDER BY key"},
    };
    for (const auto& e : entries) {
      auto stmt = db_.prepare(e.sql);
      if (!stmt) return stmt.error();
      *e.stmt = std::move(*stmt);
    }
    return {};
  }

  const Options options_;
  StoreMetrics metrics_;
  const core::Clock& clock_;
  const boost::asio::any_io_executor fallback_;
  CommittedTail tail_;  // thread-safe
  std::atomic<std::uint64_t> reads_from_memory_{0};

  // Shared with submitters, under mutex_.
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Op> queue_;
  std::size_t pending_appends_ = 0;
  std::size_t pending_bytes_ = 0;
  bool closing_ = false;
  bool idle_ = false;              ///< the store thread waits for work, and nobody has woken it yet
  bool timed_wait_ = false;        ///< ...and its wait ends within checkpoint_delay on its own
  bool polling_ = false;           ///< ...and within a commit window (it lingers, looking for work)
  bool durable_queued_ = false;    ///< an append or state write is queued (it will fsync)
  std::size_t urgent_queued_ = 0;  ///< queued operations other than waiting checkpoints
  std::size_t lazy_queued_ = 0;    ///< queued checkpoints waiting for a transaction to join
  std::chrono::steady_clock::time_point first_queued_at_;  ///< of the oldest urgent operation
  std::chrono::steady_clock::time_point first_lazy_at_;    ///< of the oldest waiting checkpoint

  // Store thread only.
  std::chrono::steady_clock::time_point last_transaction_;  ///< when the last one ended

  // Store thread only (and start() before the thread exists).
  sqlite::Db db_;
  StoreLock lock_;
  std::map<QueueId, std::unique_ptr<QueueState>> queues_;  // after db_: finalized before it
  SeqNo next_seq_ = 1;
  SeqNo reserved_seq_ = 0;  ///< the saved high-water mark: sequence numbers below it may be used
  std::uint64_t page_size_ = 4096;
  std::uint64_t used_bytes_ = 0;
  std::uint64_t file_bytes_ = 0;
  std::uint64_t free_bytes_ = 0;
  std::uint64_t commits_ = 0;
  std::uint64_t appended_ = 0;
  std::int64_t now_ms_ = 0;
  bool vacuumed_ = false;
  bool sync_full_now_ = true;  ///< what PRAGMA synchronous is set to (sync=full stores only)
  std::map<DropKey, std::uint64_t> drops_;
  std::vector<QueueState*> touched_;
  std::vector<CommittedTail::Change> tail_changes_;  ///< of the transaction running
  std::uint64_t reads_from_database_ = 0;
  /// Emptied batches of completed operations, returned by the executors that ran them so the
  /// store thread reuses their capacity instead of allocating a buffer of thousands of
  /// operations per commit (large enough for malloc to consolidate) that another thread frees.
  class SpareBatches {
   public:
    std::vector<Op> take() {
      std::lock_guard lock(mutex_);
      if (spare_.empty()) return {};
      auto batch = std::move(spare_.back());
      spare_.pop_back();
      return batch;
    }
    void give_back(std::vector<Op> batch) {
      std::lock_guard lock(mutex_);
      if (spare_.size() < kKept) spare_.push_back(std::move(batch));
    }

   private:
    static constexpr std::size_t kKept = 8;
    std::mutex mutex_;
    std::vector<std::vector<Op>> spare_;
  };
  std::shared_ptr<SpareBatches> spare_batches_ = std::make_shared<SpareBatches>();
  sqlite::Stmt stmt_begin_write_, stmt_begin_read_, stmt_commit_, stmt_sync_full_,
      stmt_sync_normal_, stmt_page_count_, stmt_freelist_count_, stmt_insert_body_,
      stmt_insert_queue_, stmt_meta_put_, stmt_state_put_, stmt_state_get_, stmt_state_erase_,
      stmt_state_list_;

  std::thread thread_;  // last: started after everything above exists
};

}  // namespace

Result<std::unique_ptr<MessageStore>> open_sqlite_store(const Options& options,
                                                        ops::Registry& registry,
                                                        const core::Clock& clock,
                                                        boost::asio::any_io_executor fallback,
                                                        std::string& diagnostic) {
  const auto& path = options.path;
  auto lock = StoreLock::acquire(path, diagnostic);
  if (!lock) return lock.error();

  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  if (ec) {
    diagnostic = "cannot access store " + path.string() + ": " + ec.message();
    return Errc::unreadable;
  }
  if (!exists) {
    if (fs::exists(path.string() + "-wal", ec)) {
      // Applying a WAL left from a deleted database to a new one would corrupt it.
      diagnostic = "found " + path.string() + "-wal without " + path.string() +
                   ": the store was partly removed. Move the -wal and -shm files aside (keep them "
                   "for diagnosis) and start again.";
      return Errc::corrupt;
    }
    if (auto r = create_store_file(path, diagnostic); !r) return r.error();
  } else if (auto r = check_store_file(path, diagnostic); !r) {
    return r.error();
  }

  std::string message;
  auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE, message);
  if (!db) {
    diagnostic = "cannot open store " + path.string() + ": " + message;
    return db.error();
  }
  if (auto r =
          configure_connection(*db, options.sync == config::StoreSync::full, options.cache_kib);
      !r) {
    diagnostic = "cannot configure store " + path.string() + ": " + db->last_error();
    return r.error();
  }
  if (options.max_page_count > 0) {
    const auto sql = "PRAGMA max_page_count = " + std::to_string(options.max_page_count);
    if (auto r = db->exec(sql.c_str()); !r) {
      diagnostic = "cannot configure store " + path.string() + ": " + db->last_error();
      return r.error();
    }
  }
  auto version = schema::read_version(*db);
  if (!version) {
    diagnostic = "cannot read the store schema: " + db->last_error();
    return version.error();
  }
  if (auto r = schema::migrate(*db, *version, diagnostic); !r) return r.error();

  auto store = std::make_unique<SqliteStore>(options, registry, clock, std::move(fallback),
                                             std::move(*db), std::move(*lock));
  if (auto r = store->start(diagnostic); !r) return r.error();
  return std::unique_ptr<MessageStore>(std::move(store));
}

Result<void> verify_store_file(const fs::path& path, std::string& diagnostic) {
  return check_store_file(path, diagnostic);
}

}  // namespace edgehub::store
