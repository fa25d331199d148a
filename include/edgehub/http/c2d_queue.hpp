#pragma once

// http::C2dQueue: cloud-to-device messages held for devices that poll over HTTPS
// (iot-hub-protocol.md §9): per device a FIFO of at most 50 messages; GET locks the oldest
// available one for a minute under a fresh lock token (the ETag); complete / reject remove it,
// abandon or an expired lock makes it available again with its delivery count raised; after
// max_delivery_count deliveries a message is dead-lettered (dropped and counted).
//
// The producer is the upstream client (it receives C2D from IoT Hub for a device, through
// C2dPollers) and each message's `settled` callback is how it learns the final outcome to settle
// upstream; the observer sees every settlement (for counting).
//
// Thread safety: every member may be called from any thread (one mutex; no I/O, no waiting).

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "edgehub/core/clock.hpp"
#include "edgehub/core/message.hpp"
#include "edgehub/core/result.hpp"

namespace edgehub::http {

struct C2dQueueOptions {
  std::size_t max_per_device = 50;        ///< IoT Hub's per-device queue depth
  std::size_t max_devices = 10000;        ///< devices with a non-empty queue
  std::chrono::seconds lock_timeout{60};  ///< IoT Hub's (not configurable there)
  std::uint32_t max_delivery_count = 100;
};

struct C2dDelivery {
  core::Message message;
  std::string lock_token;            ///< the ETag without quotes
  std::uint32_t delivery_count = 0;  ///< 1 on the first delivery
  std::uint64_t sequence_number = 0;
  core::SystemTime enqueued_at{};
};

enum class C2dOutcome { completed, rejected, abandoned, lock_expired, dead_lettered };

class C2dQueue {
 public:
  /// Called (outside the lock) with each settlement, for the upstream's feedback to IoT Hub.
  using Observer = std::function<void(const std::string& device, const core::Message&, C2dOutcome)>;

  explicit C2dQueue(const core::Clock& clock, C2dQueueOptions options = {}, Observer observer = {});

  /// Called (outside the lock) once with a message's final outcome: completed, rejected or
  /// dead_lettered.
  using Settled = std::function<void(C2dOutcome)>;

  /// Holds `message` for `device`. Errc::queue_full (http) when its queue or the device bound
  /// is full (then `settled` is not called).
  core::Result<void> enqueue(const std::string& device, core::Message message,
                             Settled settled = {});

  /// Locks and returns the oldest available message; nullopt when there is none.
  std::optional<C2dDelivery> receive(const std::string& device);

  /// Settle the message locked by `lock_token`. Errc::lock_lost when the token is unknown,
  /// already settled or expired.
  core::Result<void> complete(const std::string& device, std::string_view lock_token);
  core::Result<void> reject(const std::string& device, std::string_view lock_token);
  core::Result<void> abandon(const std::string& device, std::string_view lock_token);

  /// Messages held for `device`, locked or not.
  std::size_t depth(const std::string& device) const;
  /// Messages dropped after max_delivery_count deliveries, since construction.
  std::uint64_t dead_lettered() const;

 private:
  struct Entry {
    core::Message message;
    std::uint64_t sequence_number = 0;
    std::uint32_t deliveries = 0;
    std::string lock_token;  ///< empty: available
    core::SteadyTime locked_until{};
    Settled settled;
  };
  struct Notice {
    core::Message message;
    C2dOutcome outcome;
    Settled settled;  ///< set for a final outcome
  };

  core::Result<void> settle(const std::string& device, std::string_view lock_token,
                            C2dOutcome outcome);
  void notify(const std::string& device, std::vector<Notice> notices);

  const core::Clock& clock_;
  const C2dQueueOptions options_;
  Observer observer_;
  mutable std::mutex mutex_;
  std::map<std::string, std::deque<Entry>, std::less<>> queues_;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t dead_lettered_ = 0;
};

}  // namespace edgehub::http
