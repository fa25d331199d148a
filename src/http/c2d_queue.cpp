#include "edgehub/http/c2d_queue.hpp"

#include <algorithm>
#include <vector>

#include "edgehub/core/uuid.hpp"
#include "edgehub/http/errors.hpp"

namespace edgehub::http {

C2dQueue::C2dQueue(const core::Clock& clock, C2dQueueOptions options, Observer observer)
    : clock_(clock), options_(options), observer_(std::move(observer)) {}

core::Result<void> C2dQueue::enqueue(const std::string& device, core::Message message,
                                     Settled settled) {
  std::lock_guard lock(mutex_);
  auto it = queues_.find(device);
  if (it == queues_.end()) {
    if (queues_.size() >= options_.max_devices) return Errc::queue_full;
    it = queues_.emplace(device, std::deque<Entry>{}).first;
  }
  if (it->second.size() >= options_.max_per_device) return Errc::queue_full;
  message.enqueued_at = clock_.now();
  it->second.push_back(Entry{std::move(message), next_sequence_++, 0, {}, {}, std::move(settled)});
  return {};
}

std::optional<C2dDelivery> C2dQueue::receive(const std::string& device) {
  std::vector<Notice> notices;
  std::optional<C2dDelivery> out;
  {
    std::lock_guard lock(mutex_);
    const auto it = queues_.find(device);
    if (it == queues_.end()) return std::nullopt;
    auto& queue = it->second;
    const auto now = clock_.steady_now();
    for (auto e = queue.begin(); e != queue.end();) {
      const bool locked = !e->lock_token.empty() && e->locked_until > now;
      if (locked) {
        ++e;
        continue;
      }
      if (!e->lock_token.empty()) {
        notices.push_back({e->message, C2dOutcome::lock_expired, {}});
        e->lock_token.clear();
      }
      if (e->deliveries >= options_.max_delivery_count) {
        ++dead_lettered_;
        notices.push_back(
            {std::move(e->message), C2dOutcome::dead_lettered, std::move(e->settled)});
        e = queue.erase(e);
        continue;
      }
      e->lock_token = core::random_uuid();
      e->locked_until = now + options_.lock_timeout;
      ++e->deliveries;
      out = C2dDelivery{e->message, e->lock_token, e->deliveries, e->sequence_number,
                        e->message.enqueued_at};
      break;
    }
    if (queue.empty()) queues_.erase(it);
  }
  notify(device, std::move(notices));
  return out;
}

core::Result<void> C2dQueue::complete(const std::string& device, std::string_view lock_token) {
  return settle(device, lock_token, C2dOutcome::completed);
}

core::Result<void> C2dQueue::reject(const std::string& device, std::string_view lock_token) {
  return settle(device, lock_token, C2dOutcome::rejected);
}

core::Result<void> C2dQueue::abandon(const std::string& device, std::string_view lock_token) {
  return settle(device, lock_token, C2dOutcome::abandoned);
}

core::Result<void> C2dQueue::settle(const std::string& device, std::string_view lock_token,
                                    C2dOutcome outcome) {
  std::vector<Notice> notices;
  {
    std::lock_guard lock(mutex_);
    const auto it = queues_.find(device);
    if (it == queues_.end() || lock_token.empty()) return Errc::lock_lost;
    auto& queue = it->second;
    const auto e = std::find_if(queue.begin(), queue.end(),
                                [&](const Entry& x) { return x.lock_token == lock_token; });
    if (e == queue.end() || e->locked_until <= clock_.steady_now()) return Errc::lock_lost;
    if (outcome == C2dOutcome::abandoned) {
      e->lock_token.clear();
      notices.push_back({e->message, outcome, {}});
    } else {
      notices.push_back({std::move(e->message), outcome, std::move(e->settled)});
      queue.erase(e);
      if (queue.empty()) queues_.erase(it);
    }
  }
  notify(device, std::move(notices));
  return {};
}

void C2dQueue::notify(const std::string& device, std::vector<Notice> notices) {
  for (auto& n : notices) {
    if (n.settled) n.settled(n.outcome);
    if (observer_) observer_(device, n.message, n.outcome);
  }
}

std::size_t C2dQueue::depth(const std::string& device) const {
  std::lock_guard lock(mutex_);
  const auto it = queues_.find(device);
  return it == queues_.end() ? 0 : it->second.size();
}

std::uint64_t C2dQueue::dead_lettered() const {
  std::lock_guard lock(mutex_);
  return dead_lettered_;
}

}  // namespace edgehub::http
