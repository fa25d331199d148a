#pragma once

// hub::Ingress, the seam a protocol session hands an authenticated message to (style P6), and
// RoutingIngress, its implementation: stamp the properties the gateway owns -> enforce the size
// limit -> route -> append to the store for every delivery -> complete after COMMIT.
//
//   auto r = co_await ingress.async_accept(std::move(msg), asio::use_awaitable);
//   if (r) puback(); else if (hub::is_retryable(r.error())) ...;
//
// The completion signature is void(core::Result<Accepted>); errors are values, never exceptions.
// The handler runs on its associated executor (a coroutine's own), never inline.
//
// Errors: Errc::message_too_large (drop the message; the MQTT session closes the connection as
// IoT Hub does), Errc::store_refused (store full or busy, retryable: no acknowledgement),
// Errc::storage_failure (store fault: no acknowledgement).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edgehub/core/clock.hpp"
#include "edgehub/core/message.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/hub/errors.hpp"
#include "edgehub/ops/metrics.hpp"
#include "edgehub/routing/route_table.hpp"
#include "edgehub/store/message_store.hpp"

namespace edgehub::hub {

/// The outcome of an accepted message.
struct Accepted {
  std::size_t deliveries = 0;  ///< queues written; 0 = no route matched (dropped, counted)
};

class Ingress {
 public:
  virtual ~Ingress() = default;

  /// Accepts one message whose `origin` the session set to the authenticated identity.
  /// Callable from any thread.
  template <typename Token>
  auto async_accept(core::Message message, Token&& token) {
    return boost::asio::async_initiate<Token, void(core::Result<Accepted>)>(
        [this](auto handler, core::Message m) {
          do_accept(std::move(m),
                    store::make_completion<Accepted>(std::move(handler), fallback_executor()));
        },
        token, std::move(message));
  }

 protected:
  virtual boost::asio::any_io_executor fallback_executor() const = 0;
  virtual void do_accept(core::Message message, store::Completion<Accepted> done) = 0;
};

struct IngressOptions {
  std::string edge_device_id;  ///< the gateway's own device id (edgeHubOriginInterface)
  std::uint32_t max_message_bytes = 256 * 1024;  ///< LimitsConfig::max_message_bytes
};

/// Called after a commit with the queues that received messages (to wake their forwarders).
/// Runs on the executor of the accept's handler, just before it; must not block.
using CommitObserver = std::function<void(const std::vector<store::QueueId>&)>;

/// The real Ingress. Thread-safe: async_accept and set_routes may be called from any thread.
class RoutingIngress final : public Ingress {
 public:
  /// `store`, `registry` and `clock` must outlive it. Store completions are handled on
  /// `executor`. `new_id` makes edgeMessageId values (default: random UUIDs).
  RoutingIngress(store::MessageStore& store, std::shared_ptr<const routing::RouteTable> routes,
                 IngressOptions options, ops::Registry& registry, const core::Clock& clock,
                 boost::asio::any_io_executor executor, CommitObserver on_commit = {},
                 std::function<std::string()> new_id = {});

  ~RoutingIngress() override;

  /// Swaps the route table (reload); messages already being routed keep the old one.
  void set_routes(std::shared_ptr<const routing::RouteTable> routes);
  std::shared_ptr<const routing::RouteTable> routes() const;

  /// Stamps the system properties the gateway owns (connectionDeviceId, connectionModuleId from
  /// message.origin — whatever the device sent is replaced —, enqueuedTime, edgeMessageId,
  /// edgeHubOriginInterface) and clears the ones only the gateway may set. Public for sessions
  /// that need the stamped message without routing it (tests, tools).
  void stamp(core::Message& message) const;

 protected:
  boost::asio::any_io_executor fallback_executor() const override { return executor_; }
  void do_accept(core::Message message, store::Completion<Accepted> done) override;

 private:
  struct Stats;

  store::MessageStore& store_;
  IngressOptions options_;
  const core::Clock& clock_;
  boost::asio::any_io_executor executor_;
  CommitObserver on_commit_;
  std::function<std::string()> new_id_;
  std::unique_ptr<Stats> stats_;
  mutable std::mutex routes_mutex_;
  std::shared_ptr<const routing::RouteTable> routes_;
};

}  // namespace edgehub::hub
