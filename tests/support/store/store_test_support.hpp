#pragma once

// Helpers for the store's tests: controllable clocks, a temporary state directory and a
// synchronous driver for the asynchronous API (runs the caller's io_context until the
// completion arrives, which also proves completions land on the caller's executor).

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "edgehub/core/clock.hpp"
#include "edgehub/core/message.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/store/types.hpp"

namespace edgehub::store::testing {

/// A clock tests move by hand.
class FakeClock : public core::Clock {
 public:
  explicit FakeClock(core::SystemTime start = core::SystemTime(std::chrono::hours(24 * 365 * 56)))
      : now_(start) {}
  core::SystemTime now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  core::SteadyTime steady_now() const override {
    std::lock_guard lock(mutex_);
    return core::SteadyTime(now_.time_since_epoch());
  }
  void advance(std::chrono::milliseconds d) {
    std::lock_guard lock(mutex_);
    now_ += d;
  }

 private:
  mutable std::mutex mutex_;
  core::SystemTime now_;
};

/// A FakeClock whose now() can be made to block: the store thread reads the clock at the start
/// of every transaction, so a closed gate holds the store thread still while a test queues up
/// operations, which makes grouping deterministic without sleeping.
class GatedClock : public FakeClock {
 public:
  core::SystemTime now() const override {
    std::unique_lock lock(gate_mutex_);
    if (closed_) {
      ++waiting_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !closed_; });
      --waiting_;
    }
    return FakeClock::now();
  }
  void close() {
    std::lock_guard lock(gate_mutex_);
    closed_ = true;
  }
  /// Blocks until some thread waits at the closed gate.
  void wait_for_waiter() {
    std::unique_lock lock(gate_mutex_);
    cv_.wait(lock, [&] { return waiting_ > 0; });
  }
  void open() {
    {
      std::lock_guard lock(gate_mutex_);
      closed_ = false;
    }
    cv_.notify_all();
  }

 private:
  mutable std::mutex gate_mutex_;
  mutable std::condition_variable cv_;
  mutable int waiting_ = 0;
  bool closed_ = false;
};

/// A fresh directory under the build tree's temp area, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "edgehub-store-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Runs `ioc` until the operation started by `start(handler)` completes.
template <typename T, typename Start>
core::Result<T> wait_for(boost::asio::io_context& ioc, Start&& start) {
  std::optional<core::Result<T>> out;
  start([&out](core::Result<T> r) { out.emplace(std::move(r)); });
  ioc.restart();
  while (!out)
    ioc.run_one();
  return std::move(*out);
}

inline std::vector<char> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& p, const std::vector<char>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline core::Message make_message(std::string body, std::string device = "dev1",
                                  std::string module = {}) {
  core::Message m;
  m.origin = core::ClientId{std::move(device), std::move(module)};
  m.set_body(body);
  return m;
}

inline AppendItem to_queue(core::Message m, const std::string& endpoint,
                           std::uint32_t priority = kDefaultPriority,
                           std::optional<std::chrono::seconds> ttl = std::nullopt) {
  AppendItem item;
  item.message = std::move(m);
  item.targets.push_back(Target{QueueId{endpoint, priority}, ttl});
  return item;
}

}  // namespace edgehub::store::testing
