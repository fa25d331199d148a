#pragma once

// Outgoing connections (the upstream to IoT Hub or a parent gateway): TCP, TLS 1.2+ with the
// server's certificate and host name verified against the system store plus an optional trust
// bundle, optionally a client certificate, optionally a WebSocket inside TLS. The result is the
// same Transport the listeners hand their sessions, so a protocol engine drives either side alike.
//
//   auto t = co_await net::connect_client(executor, {.host = "hub.example", .port = 5671});
//
// Name resolution runs on Asio's resolver thread, never on the caller's executor.

// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without it
// clang-format on
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "edgehub/core/result.hpp"
#include "edgehub/net/transport.hpp"

namespace edgehub::net {

struct ClientEndpoint {
  std::string host;  ///< dialed, and verified in the server's certificate
  std::uint16_t port = 0;
  std::optional<std::filesystem::path> trust_bundle;  ///< trusted besides the system store
  std::filesystem::path client_cert;                  ///< PEM; empty: no client certificate
  std::filesystem::path client_key;
  TransportKind kind = TransportKind::tls;
  std::string websocket_path;         ///< e.g. "/$iothub/websocket"
  std::string websocket_subprotocol;  ///< e.g. "AMQPWSB10"
  /// http://[user:password@]host:port: the TCP connection goes through this proxy (HTTP
  /// CONNECT, with Basic authentication when the URL has credentials).
  std::optional<std::string> proxy;
  std::chrono::milliseconds timeout{20000};  ///< resolve + connect + handshakes
};

/// Errors: the resolver's, connect's or the handshake's error code; boost::asio::error::timed_out
/// when `timeout` passed first; std::errc::invalid_argument for an unreadable certificate/key or
/// proxy URL; std::errc::permission_denied when the proxy wants other credentials (407, 401) and
/// std::errc::connection_refused when it refuses the tunnel otherwise.
boost::asio::awaitable<core::Result<std::unique_ptr<Transport>>> connect_client(
    boost::asio::any_io_executor executor, ClientEndpoint endpoint);

}  // namespace edgehub::net
