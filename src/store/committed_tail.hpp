#pragma once

// The entries of the last commits, per queue, kept in memory (docs/store.md, "Reads of what was
// just committed"). A reader that keeps up with the appends (the forwarder, right behind them)
// is served here on its own thread instead of by a store-thread round trip, which on a gateway
// pinned to one core costs two context switches per read.
//
// For each queue it tracks, the tail holds exactly the committed entries of that queue that the
// database holds above the queue's floor, in sequence order. It can therefore answer any read
// starting at or above the floor with what SQLite would have returned; a read below the floor,
// or of a queue it does not track, is not its to answer. The store thread changes it only after
// the transaction that made the change has committed (so a read never returns an entry before its
// commit is durable) and raises a queue's floor over whatever leaves the database (acks, purges,
// sweeps, drop_oldest) or the bounds evict (oldest sequence number first, over all queues).
// Thread-safe.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/store/types.hpp"

namespace edgehub::store {

class CommittedTail {
 public:
  struct Limits {
    std::size_t max_entries = 0;  ///< over every queue; 0 disables the tail
    std::size_t max_bytes = 0;    ///< encoded bytes over every queue
  };

  /// One change a committed transaction made, applied in transaction order.
  struct Change {
    enum class Kind {
      track,   ///< start (or restart) tracking `queue`: it holds nothing above `seq`
      append,  ///< `seq` was appended to `queue` with `expires_ms` and `data`
      forget,  ///< the entries of `queue` at or below `seq` are gone from the database
    };
    Kind kind = Kind::append;
    const QueueId* queue = nullptr;
    SeqNo seq = 0;
    std::int64_t expires_ms = 0;
    /// append: the encoded message, moved from unless `copy` (a fan-out body kept for
    /// another queue too).
    std::vector<std::byte>* data = nullptr;
    bool copy = false;
  };

  explicit CommittedTail(Limits limits) : limits_(limits) {}

  /// Store thread, after COMMIT returned.
  void apply(std::span<const Change> changes);

  /// Any thread: the entries are gone (an ack submitted); a read at or below `up_to` goes to the
  /// database from now on.
  void forget(const QueueId& queue, SeqNo up_to);

  /// Stops tracking every queue (the database was rolled back to an unknown point).
  void clear();

  /// Any thread: the read the database would answer now, or nullopt when the tail cannot answer
  /// it (the queue is not tracked, or `after` is below its floor). Entries expired at
  /// `clock.now()` are skipped, as the database skips them; the clock is read only when there is
  /// an entry to check. Errc::corrupt when a held entry does not decode.
  std::optional<core::Result<ReadBatch>> read(const QueueId& queue, SeqNo after, ReadLimits limits,
                                              const core::Clock& clock);

  std::size_t entries() const;
  std::size_t bytes() const;

 private:
  struct Entry {
    SeqNo seq = 0;
    std::int64_t expires_ms = 0;
    std::vector<std::byte> data;
  };
  struct Queue {
    SeqNo floor = 0;
    std::deque<Entry> entries;
  };
  Queue* find(const QueueId& queue);
  void forget_locked(Queue& q, SeqNo up_to);
  void evict_locked();

  const Limits limits_;
  mutable std::mutex mutex_;
  std::map<QueueId, Queue, std::less<>> queues_;
  std::size_t entries_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace edgehub::store
