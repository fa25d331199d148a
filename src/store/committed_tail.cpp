#include "store/committed_tail.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

#include "edgehub/store/errors.hpp"
#include "store/message_codec.hpp"

namespace edgehub::store {

namespace {

std::int64_t to_ms(core::SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

core::SystemTime from_ms(std::int64_t ms) {
  if (ms == std::numeric_limits<std::int64_t>::max()) return core::SystemTime::max();
  return core::SystemTime(
      std::chrono::duration_cast<core::SystemTime::duration>(std::chrono::milliseconds(ms)));
}

}  // namespace

CommittedTail::Queue* CommittedTail::find(const QueueId& queue) {
  auto it = queues_.find(queue);
  return it == queues_.end() ? nullptr : &it->second;
}

void CommittedTail::apply(std::span<const Change> changes) {
  if (limits_.max_entries == 0) return;
  std::lock_guard lock(mutex_);
  // A commit's appends usually all go to one queue: look it up once, not per entry.
  const QueueId* last_key = nullptr;
  Queue* last = nullptr;
  for (const auto& c : changes) {
    if (c.kind == Change::Kind::track) {
      auto& q = queues_[*c.queue];
      forget_locked(q, std::numeric_limits<SeqNo>::max());
      q.floor = c.seq;
      last_key = nullptr;
      continue;
    }
    if (c.queue != last_key) {
      last = find(*c.queue);
      last_key = c.queue;
    }
    if (last == nullptr) continue;
    if (c.kind == Change::Kind::forget) {
      forget_locked(*last, c.seq);
      continue;
    }
    // At or below the floor: an ack submitted past it already forgot it (it is deleted, or will
    // be before any read could see it in the database).
    if (c.seq <= last->floor) continue;
    auto& e = last->entries.emplace_back();
    e.seq = c.seq;
    e.expires_ms = c.expires_ms;
    e.data = c.copy ? *c.data : std::move(*c.data);
    ++entries_;
    bytes_ += e.data.size();
  }
  evict_locked();
}

void CommittedTail::forget(const QueueId& queue, SeqNo up_to) {
  if (limits_.max_entries == 0) return;
  std::lock_guard lock(mutex_);
  if (auto* q = find(queue)) forget_locked(*q, up_to);
}

void CommittedTail::forget_locked(Queue& q, SeqNo up_to) {
  while (!q.entries.empty() && q.entries.front().seq <= up_to) {
    --entries_;
    bytes_ -= q.entries.front().data.size();
    q.entries.pop_front();
  }
  q.floor = std::max(q.floor, up_to);
}

void CommittedTail::evict_locked() {
  while (entries_ > limits_.max_entries || bytes_ > limits_.max_bytes) {
    // The oldest entry of all: a queue nobody reads (a module away) gives up its entries before
    // the queues being read right behind the appends.
    Queue* oldest = nullptr;
    for (auto& [key, q] : queues_) {
      if (!q.entries.empty() &&
          (oldest == nullptr || q.entries.front().seq < oldest->entries.front().seq)) {
        oldest = &q;
      }
    }
    if (oldest == nullptr) return;
    forget_locked(*oldest, oldest->entries.front().seq);
  }
}

void CommittedTail::clear() {
  std::lock_guard lock(mutex_);
  queues_.clear();
  entries_ = 0;
  bytes_ = 0;
}

std::optional<core::Result<ReadBatch>> CommittedTail::read(const QueueId& queue, SeqNo after,
                                                           ReadLimits limits,
                                                           const core::Clock& clock) {
  if (limits_.max_entries == 0) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto* q = find(queue);
  if (q == nullptr || after < q->floor) return std::nullopt;
  ReadBatch out;
  const auto max = limits.max_entries;
  if (max == 0) return out;
  auto it = std::upper_bound(q->entries.begin(), q->entries.end(), after,
                             [](SeqNo s, const Entry& e) { return s < e.seq; });
  if (it == q->entries.end()) return out;
  const std::int64_t now_ms = to_ms(clock.now());
  std::size_t bytes = 0;
  for (; it != q->entries.end(); ++it) {
    if (it->expires_ms <= now_ms) continue;
    if (out.entries.size() == max || (limits.max_bytes != 0 && !out.entries.empty() &&
                                      bytes + it->data.size() > limits.max_bytes)) {
      out.more = true;
      break;
    }
    bytes += it->data.size();
    auto message = decode_message(it->data);
    if (!message) return core::Result<ReadBatch>(Errc::corrupt);
    out.entries.push_back(StoredEntry{it->seq, from_ms(it->expires_ms), std::move(*message)});
  }
  return out;
}

std::size_t CommittedTail::entries() const {
  std::lock_guard lock(mutex_);
  return entries_;
}

std::size_t CommittedTail::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace edgehub::store
