#pragma once

// Test doubles for the hub's seams: a DeviceChannel that records what the hub sends and lets the
// test acknowledge, refuse or drop it, and a Scheduler whose time the test moves by hand.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "edgehub/core/message.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/hub/device_channel.hpp"
#include "edgehub/hub/scheduler.hpp"
#include "edgehub/store/message_store.hpp"

namespace edgehub::hub::testing {

/// Records deliveries; the test settles them. Runs on the executor it was given.
class FakeChannel final : public DeviceChannel {
 public:
  struct Input {
    core::Message message;
    std::string input;
    DoneCallback done;
  };
  struct Method {
    MethodRequest request;
  };

  explicit FakeChannel(boost::asio::any_io_executor executor, std::size_t capacity = 1000)
      : executor_(std::move(executor)), capacity_(capacity) {}

  // Implements edgehub::hub::DeviceChannel
  boost::asio::any_io_executor executor() const override { return executor_; }
  void deliver_input(core::Message message, std::string input, DoneCallback done) override;
  void deliver_method(MethodRequest request, DoneCallback done) override;
  void deliver_desired(DesiredPatch patch) override;
  void close(core::ErrorCode reason) override;

  /// Acknowledges the pending input delivery at `index` (in arrival order among pending).
  void ack(std::size_t index);
  void ack_all();
  /// Fails every pending input delivery with `ec` (a dropped connection).
  void fail_all(core::ErrorCode ec);

  /// Bodies of every input message received so far, in order.
  std::vector<std::string> received_bodies() const;

  std::vector<Input> pending;             ///< inputs awaiting ack
  std::vector<core::Message> all_inputs;  ///< every input message delivered
  std::vector<MethodRequest> methods;     ///< method requests delivered
  std::vector<DesiredPatch> desired;      ///< desired patches delivered
  std::optional<core::ErrorCode> closed;  ///< close() reason
  bool refuse_methods = false;            ///< deliver_method answers queue_full
  std::size_t refused = 0;                ///< input deliveries refused with queue_full

 private:
  boost::asio::any_io_executor executor_;
  std::size_t capacity_;
};

/// A Scheduler driven by advance(): due calls are posted to their executors, in deadline order.
class ManualScheduler final : public Scheduler {
 public:
  TimerHandle call_after(boost::asio::any_io_executor executor, std::chrono::milliseconds delay,
                         std::function<void()> fn) override;
  /// Moves time forward and posts every call now due.
  void advance(std::chrono::milliseconds d);
  /// Calls scheduled and neither cancelled nor fired.
  std::size_t pending() const;

 private:
  struct Entry {
    std::chrono::milliseconds due;
    std::uint64_t order;
    boost::asio::any_io_executor executor;
    std::function<void()> fn;
    std::shared_ptr<bool> cancelled;
  };
  mutable std::mutex mutex_;
  std::chrono::milliseconds now_{0};
  std::uint64_t next_ = 0;
  std::vector<Entry> entries_;
};

/// Runs `ioc` until the hub is quiet: a store operation issued as a barrier completes (the store
/// runs operations in order, so everything issued before it has completed too) and nothing but
/// the barrier ran meanwhile. The store's fallback executor must be `ioc`'s.
void settle(boost::asio::io_context& ioc, store::MessageStore& store);

/// Runs `ioc` until `done()` is true or 10 s of wall time passed (a deadline, not a timing
/// assertion: the condition is what the test checks). Returns done().
bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& done);

}  // namespace edgehub::hub::testing
