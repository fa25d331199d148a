#pragma once

// hub::MethodRouter: direct methods to a connected client (iot-hub-protocol.md §8,
// edgehub-reference.md §6.3). The caller (the HTTPS API for module-to-module calls, the upstream
// client for calls from IoT Hub) invokes; the router waits up to the connect timeout for the
// target to be connected and subscribed to methods, sends the request with a fresh request id
// through the target's DeviceChannel, and completes with the target's {status, payload} when its
// session reports the response, or with an error:
//
//   Errc::invalid_request   bad method name, timeouts or payload size             (400)
//   Errc::too_many_pending  the bound on pending calls is reached                 (429)
//   Errc::not_connected     not connected and subscribed within the connect timeout (404)
//   Errc::disconnected      the target's connection ended before it answered     (404)
//   Errc::queue_full        the target's session refused the request             (429)
//   Errc::timeout           no response within the response timeout              (504)
//
// method_error_status() gives those HTTP statuses. The completion signature is
// void(core::Result<MethodResponse>); the handler runs on its associated executor.
//
// Thread safety: every member may be called from any thread; the work runs on a strand.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "edgehub/core/client_id.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/hub/device_channels.hpp"
#include "edgehub/hub/errors.hpp"
#include "edgehub/hub/scheduler.hpp"
#include "edgehub/ops/metrics.hpp"
#include "edgehub/store/message_store.hpp"

namespace edgehub::hub {

/// IoT Hub's bounds (iot-hub-protocol.md §8.1, edgehub-reference.md §9).
inline constexpr std::chrono::seconds kMinResponseTimeout{5};
inline constexpr std::chrono::seconds kMaxResponseTimeout{300};
inline constexpr std::chrono::seconds kMaxConnectTimeout{300};
inline constexpr std::size_t kMaxMethodNameLength = 100;
inline constexpr std::size_t kMaxMethodPayloadBytes = 128 * 1024;

struct MethodCall {
  core::ClientId caller;  ///< the `from` label; empty for calls from IoT Hub
  core::ClientId target;
  std::string method_name;
  std::string payload;  ///< JSON text
  std::chrono::seconds response_timeout{30};
  std::chrono::seconds connect_timeout{0};
};

struct MethodResponse {
  int status = 0;       ///< chosen by the target
  std::string payload;  ///< JSON text as the target sent it
};

struct MethodRouterOptions {
  std::size_t max_pending = 1024;  ///< calls waiting or in flight, all targets together
};

class MethodRouter {
 public:
  /// `channels`, `scheduler`, `registry` and `clock` must outlive the router.
  MethodRouter(DeviceChannels& channels, Scheduler& scheduler, ops::Registry& registry,
               const core::Clock& clock, boost::asio::any_io_executor executor,
               MethodRouterOptions options = {});
  /// Pending calls are abandoned (their handlers destroyed); call shutdown() first to fail them.
  ~MethodRouter();
  MethodRouter(const MethodRouter&) = delete;
  MethodRouter& operator=(const MethodRouter&) = delete;

  template <typename Token>
  auto async_invoke(MethodCall call, Token&& token) {
    return boost::asio::async_initiate<Token, void(core::Result<MethodResponse>)>(
        [this](auto handler, MethodCall c) {
          start(std::move(c),
                store::make_completion<MethodResponse>(std::move(handler), executor_));
        },
        token, std::move(call));
  }

  /// The session of `client` received the response to request `request_id`. Unknown ids, and
  /// responses from another identity than the one asked, are ignored (logged).
  void on_method_response(const core::ClientId& client, std::string_view request_id, int status,
                          std::string payload);

  /// Fails every pending call with `reason` (e.g. Errc::shutting_down).
  void shutdown(core::ErrorCode reason);

 private:
  struct Impl;
  void start(MethodCall call, store::Completion<MethodResponse> done);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace edgehub::hub
