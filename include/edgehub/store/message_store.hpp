#pragma once

// store::MessageStore, the seam between the hub and durable storage (style P6).
//
// Every operation is asynchronous and takes an Asio completion token, so both
//   auto r = co_await store.async_append(std::move(batch), asio::use_awaitable);
// and a plain callback work. Completion signatures are void(core::Result<T>): errors arrive as
// values, never as exceptions, including under use_awaitable.
//
// Thread and executor affinity: the async_* functions may be called from any thread. The work
// runs on the store's own thread; the handler is then posted to its associated executor (for a
// plain callback without one, to the fallback executor the store was built with), never invoked
// on the store thread and never inline from the initiating call. Pending operations keep that
// executor's work count up until they complete.
//
// Errors (edgehub::store::Errc): store_full and busy are retryable for the device; closed after
// shutdown started; io_error / sqlite_error / corrupt are gateway faults.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "edgehub/core/result.hpp"
#include "edgehub/store/errors.hpp"
#include "edgehub/store/types.hpp"

namespace edgehub::store {

namespace detail {

/// A move-only std::function (std::move_only_function is C++23); Asio handlers are move-only.
template <typename Signature>
class UniqueFunction;

template <typename R, typename... Args>
class UniqueFunction<R(Args...)> {
 public:
  UniqueFunction() = default;
  template <typename F>
  requires(!std::is_same_v<std::decay_t<F>, UniqueFunction>)
      UniqueFunction(F f)  // NOLINT: implicit like std::function
      : impl_(std::make_unique<Impl<F>>(std::move(f))) {}

  explicit operator bool() const noexcept { return impl_ != nullptr; }
  R operator()(Args... args) { return impl_->call(std::forward<Args>(args)...); }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual R call(Args... args) = 0;
  };
  template <typename F>
  struct Impl final : Base {
    explicit Impl(F fn) : f(std::move(fn)) {}
    R call(Args... args) override { return f(std::forward<Args>(args)...); }
    F f;
  };
  std::unique_ptr<Base> impl_;
};

}  // namespace detail

/// The pending completion of one operation: the handler and the executor it must run on (with
/// outstanding work held on it). Invoked once, from any thread; it never runs the handler inline.
template <typename T>
class Completion {
 public:
  Completion() = default;
  Completion(boost::asio::any_io_executor executor,
             detail::UniqueFunction<void(core::Result<T>)> handler)
      : executor_(std::move(executor)), handler_(std::move(handler)) {}

  explicit operator bool() const noexcept { return static_cast<bool>(handler_); }

  /// Posts the handler with its result.
  void operator()(core::Result<T> result) {
    auto executor = executor_;
    boost::asio::post(
        executor, [h = std::move(handler_), r = std::move(result)]() mutable { h(std::move(r)); });
  }

  /// Where the handler must run.
  const boost::asio::any_io_executor& executor() const noexcept { return executor_; }

  /// Runs the handler now, on the calling thread, which must be executor()'s: for callers that
  /// post many completions bound for the same executor as one handler (the store does after a
  /// group commit).
  void complete_here(core::Result<T> result) { handler_(std::move(result)); }

 private:
  boost::asio::any_io_executor executor_;
  detail::UniqueFunction<void(core::Result<T>)> handler_;
};

/// Wraps an Asio handler: it will run on its associated executor (or `fallback`).
template <typename T, typename Handler>
Completion<T> make_completion(Handler handler, const boost::asio::any_io_executor& fallback) {
  boost::asio::any_io_executor target = boost::asio::get_associated_executor(handler, fallback);
  auto tracked = boost::asio::prefer(target, boost::asio::execution::outstanding_work.tracked);
  return Completion<T>(std::move(tracked), [h = std::move(handler)](core::Result<T> r) mutable {
    std::move(h)(std::move(r));
  });
}

class MessageStore {
 public:
  virtual ~MessageStore() = default;

  /// Appends every item of the batch to each of its target queues, in batch order. Completes
  /// after the transaction holding it has committed (group commit: appends arriving while a
  /// transaction is in progress share the next one). All-or-nothing per call.
  template <typename Token>
  auto async_append(AppendBatch batch, Token&& token) {
    return initiate<AppendResult>(std::forward<Token>(token),
                                  [this, b = std::move(batch)](Completion<AppendResult> c) mutable {
                                    do_append(std::move(b), std::move(c));
                                  });
  }

  /// Up to `max` entries of the queue, oldest first, skipping expired ones. An unknown queue is
  /// empty, not an error.
  template <typename Token>
  auto async_peek(QueueId queue, std::size_t max, Token&& token) {
    return async_peek_after(std::move(queue), 0, max, std::forward<Token>(token));
  }

  /// As async_peek, starting after sequence number `after` (entries in flight are skipped).
  template <typename Token>
  auto async_peek_after(QueueId queue, SeqNo after, std::size_t max, Token&& token) {
    using Entries = std::vector<StoredEntry>;
    return initiate<Entries>(std::forward<Token>(token), [this, q = std::move(queue), after,
                                                          max](Completion<Entries> c) mutable {
      auto executor = c.executor();
      do_read(std::move(q), after, ReadLimits{max, 0},
              Completion<ReadBatch>(std::move(executor),
                                    [c = std::move(c)](core::Result<ReadBatch> r) mutable {
                                      if (!r) {
                                        c.complete_here(r.error());
                                        return;
                                      }
                                      c.complete_here(std::move(r->entries));
                                    }));
    });
  }

  /// The entries of the queue after sequence number `after`, oldest first, skipping expired
  /// ones, up to `limits`; ReadBatch::more tells whether a limit cut the read short, so a reader
  /// knows it has reached the end of the queue without another round trip.
  template <typename Token>
  auto async_read(QueueId queue, SeqNo after, ReadLimits limits, Token&& token) {
    return initiate<ReadBatch>(
        std::forward<Token>(token),
        [this, q = std::move(queue), after, limits](Completion<ReadBatch> c) mutable {
          do_read(std::move(q), after, limits, std::move(c));
        });
  }

  /// Checkpoint: removes every entry of the queue with seq <= up_to and releases bodies no
  /// other queue refers to. Completes with the number of entries removed.
  template <typename Token>
  auto async_ack(QueueId queue, SeqNo up_to, Token&& token) {
    return initiate<std::uint64_t>(
        std::forward<Token>(token),
        [this, q = std::move(queue), up_to](Completion<std::uint64_t> c) mutable {
          do_ack(std::move(q), up_to, std::move(c));
        });
  }

  /// Removes every entry of the queue (counted as dropped, reason "purged").
  template <typename Token>
  auto async_purge(QueueId queue, Token&& token) {
    return initiate<std::uint64_t>(
        std::forward<Token>(token),
        [this, q = std::move(queue)](Completion<std::uint64_t> c) mutable {
          do_purge(std::move(q), std::move(c));
        });
  }

  template <typename Token>
  auto async_stats(Token&& token) {
    return initiate<StoreStats>(std::forward<Token>(token),
                                [this](Completion<StoreStats> c) { do_stats(std::move(c)); });
  }

  /// Runs one TTL sweep step and one vacuum step now (they also run on their own periodically).
  template <typename Token>
  auto async_maintain(Token&& token) {
    return initiate<SweepResult>(std::forward<Token>(token),
                                 [this](Completion<SweepResult> c) { do_maintain(std::move(c)); });
  }

  // Durable key-value state in the same database (twins, MQTT sessions, identity cache).
  // Namespaces and keys are opaque strings; values are bytes. Writes share group commit.

  template <typename Token>
  auto async_put_state(std::string ns, std::string key, std::vector<std::byte> value,
                       Token&& token) {
    return initiate<void>(std::forward<Token>(token),
                          [this, n = std::move(ns), k = std::move(key),
                           v = std::move(value)](Completion<void> c) mutable {
                            do_put_state(std::move(n), std::move(k), std::move(v), std::move(c));
                          });
  }

  /// Completes with nullopt when the key is absent.
  template <typename Token>
  auto async_get_state(std::string ns, std::string key, Token&& token) {
    using Value = std::optional<std::vector<std::byte>>;
    return initiate<Value>(
        std::forward<Token>(token),
        [this, n = std::move(ns), k = std::move(key)](Completion<Value> c) mutable {
          do_get_state(std::move(n), std::move(k), std::move(c));
        });
  }

  /// Completes with true when the key existed.
  template <typename Token>
  auto async_erase_state(std::string ns, std::string key, Token&& token) {
    return initiate<bool>(std::forward<Token>(token), [this, n = std::move(ns), k = std::move(key)](
                                                          Completion<bool> c) mutable {
      do_erase_state(std::move(n), std::move(k), std::move(c));
    });
  }

  /// Every key of the namespace, ascending.
  template <typename Token>
  auto async_list_state(std::string ns, Token&& token) {
    using Entries = std::vector<StateEntry>;
    return initiate<Entries>(std::forward<Token>(token),
                             [this, n = std::move(ns)](Completion<Entries> c) mutable {
                               do_list_state(std::move(n), std::move(c));
                             });
  }

 protected:
  /// Where handlers without an associated executor complete.
  virtual boost::asio::any_io_executor fallback_executor() const = 0;

  virtual void do_append(AppendBatch batch, Completion<AppendResult> done) = 0;
  virtual void do_read(QueueId queue, SeqNo after, ReadLimits limits,
                       Completion<ReadBatch> done) = 0;
  virtual void do_ack(QueueId queue, SeqNo up_to, Completion<std::uint64_t> done) = 0;
  virtual void do_purge(QueueId queue, Completion<std::uint64_t> done) = 0;
  virtual void do_stats(Completion<StoreStats> done) = 0;
  virtual void do_maintain(Completion<SweepResult> done) = 0;
  virtual void do_put_state(std::string ns, std::string key, std::vector<std::byte> value,
                            Completion<void> done) = 0;
  virtual void do_get_state(std::string ns, std::string key,
                            Completion<std::optional<std::vector<std::byte>>> done) = 0;
  virtual void do_erase_state(std::string ns, std::string key, Completion<bool> done) = 0;
  virtual void do_list_state(std::string ns, Completion<std::vector<StateEntry>> done) = 0;

 private:
  template <typename T, typename Token, typename Start>
  auto initiate(Token&& token, Start start) {
    return boost::asio::async_initiate<Token, void(core::Result<T>)>(
        [this](auto handler, Start s) mutable {
          s(make_completion<T>(std::move(handler), fallback_executor()));
        },
        token, std::move(start));
  }
};

}  // namespace edgehub::store
