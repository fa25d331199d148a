#pragma once

// Device-facing TLS listeners (design.md §5, issue 3): 8883 (MQTT), 5671 (AMQP) and 443 (HTTPS,
// MQTT over WebSocket, AMQP over WebSocket). A listener accepts, enforces the connection caps,
// sets TCP_NODELAY, completes the TLS handshake within a deadline and hands the session a
// Transport. Port 443 additionally reads the first HTTP request and either upgrades to a
// WebSocket (dispatched by Sec-WebSocket-Protocol) or answers it through the HTTP handler.
// HTTP/1.1 keep-alive: each request's header must arrive within 10 s or the shorter
// LimitsConfig::connect_timeout (slow-loris), its body within 30 s and under http_body_limit().
//
// Executor affinity: everything runs on the io_context given to the listener.

// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange, not including it
// clang-format on
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/net/tls_context.hpp"
#include "edgehub/net/transport.hpp"
#include "edgehub/ops/metrics.hpp"

namespace edgehub::net {

/// Connection caps shared by all listeners (the global cap) and per listener.
class ConnectionBudget {
 public:
  explicit ConnectionBudget(std::uint32_t max) : max_(max) {}
  bool try_acquire() noexcept;
  void release() noexcept { used_.fetch_sub(1, std::memory_order_relaxed); }
  std::uint32_t used() const noexcept { return used_.load(std::memory_order_relaxed); }
  void set_max(std::uint32_t max) noexcept { max_.store(max, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint32_t> max_;
  std::atomic<std::uint32_t> used_{0};
};

/// A protocol session takes ownership of the transport and runs it to completion.
using SessionHandler = std::function<void(std::unique_ptr<Transport>)>;

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
/// Answers one plain HTTPS request on 443 (not a WebSocket upgrade). Runs on the connection's
/// executor and may wait (a direct method waits for the device); `peer` outlives the call. The
/// listener reads the next request of a keep-alive connection only after the answer is written.
using HttpHandler =
    std::function<boost::asio::awaitable<HttpResponse>(HttpRequest, const PeerInfo&)>;

/// IoT Hub's JSON error body: {"Message":"ErrorCode:{code};{text}","ExceptionMessage":""}.
HttpResponse iothub_error_response(unsigned version, bool keep_alive, int status,
                                   std::string_view error_code, std::string_view text);

/// The largest request body the 443 listener reads (413 above it): a batch of IoT Hub's 256 KiB
/// in base64 JSON. The HTTP API checks each route's own limit after reading.
std::uint64_t http_body_limit(const config::LimitsConfig& limits) noexcept;

struct ListenerHandlers {
  SessionHandler mqtt;  ///< 8883 and WebSocket subprotocol "mqtt"
  SessionHandler amqp;  ///< 5671 and WebSocket subprotocol "AMQPWSB10"
  HttpHandler http;     ///< other requests on 443; absent: 404 in IoT Hub's error shape
};

struct ListenerStats {
  explicit ListenerStats(ops::Registry& registry);
  ops::CounterFamily& handshakes;  ///< edgehubd_tls_handshakes_total{listener,result}
  ops::CounterFamily& refused;     ///< edgehubd_connections_refused_total{listener,reason}
  ops::GaugeFamily& active;        ///< edgehubd_connections{listener}
  ops::CounterFamily& websocket;   ///< edgehubd_websocket_upgrades_total{subprotocol,result}
  /// edgehubd_http_protocol_errors_total{reason}: requests and WebSocket streams on 443 refused
  /// for breaking HTTP/1.1 or RFC 6455 before any handler saw them.
  ops::CounterFamily& protocol_errors;
  /// edgehubd_bytes_received_total / edgehubd_bytes_sent_total{protocol="https"}: the HTTPS API's
  /// requests and responses (MQTT and AMQP, also over WebSocket, count in their sessions).
  ops::Counter& https_bytes_in;
  ops::Counter& https_bytes_out;
};

class Listener {
 public:
  enum class Kind { mqtt, amqp, https };

  Listener(boost::asio::io_context& io, Kind kind, const TlsContextStore& tls,
           const config::LimitsConfig& limits, ConnectionBudget& global_budget,
           ListenerStats& stats, ListenerHandlers handlers);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  /// Binds (IPv4 or IPv6 literal or host name, SO_REUSEADDR) and starts accepting.
  core::Result<void> start(const config::HostPort& where);
  /// Stops accepting; established connections are not touched.
  void stop();
  unsigned short port() const;
  std::string_view name() const noexcept;

  struct State;  ///< shared with connection coroutines, which may outlive stop()

 private:
  std::shared_ptr<State> state_;
};

}  // namespace edgehub::net
