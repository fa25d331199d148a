#pragma once

// The byte stream a protocol session runs over, whatever carries it: TLS on 8883/5671, or binary
// WebSocket messages inside TLS on 443 (iot-hub-protocol.md §4: message boundaries need not match
// MQTT packets or AMQP frames, so sessions treat both as one byte stream).
//
// Executor affinity: all operations run on the transport's executor; at most one read and one
// write may be outstanding at a time (the rule of Asio's SSL and Beast's WebSocket streams).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "edgehub/core/result.hpp"

namespace edgehub::net {

enum class TransportKind { tls, websocket };

/// What the session may know about its peer once the transport is up.
struct PeerInfo {
  std::string listener;        ///< "mqtt", "amqp" or "https"
  std::string remote_address;  ///< "ip:port" (IPv6 in brackets)
  TransportKind kind = TransportKind::tls;
  std::string subprotocol;  ///< the WebSocket subprotocol as the client offered it, if any
  /// The client's certificate chain as DER, leaf first; empty when it presented none.
  std::vector<std::string> client_cert_chain_der;
  std::string sni;  ///< server name the client asked for, if any
};

class Transport {
 public:
  virtual ~Transport() = default;

  /// Reads at least one byte; an error (eof, reset, cancelled, timeout) ends the stream.
  virtual boost::asio::awaitable<core::Result<std::size_t>> read_some(
      boost::asio::mutable_buffer b) = 0;
  /// Reads at least one byte into the transport's own buffer; the bytes stay valid until the
  /// caller's next co_await. TLS on the device listeners waits for data without any buffer and
  /// reads into one buffer per thread, so an idle connection holds none (design.md §9: idle memory
  /// per connection); the other transports keep one buffer each.
  virtual boost::asio::awaitable<core::Result<std::span<const std::byte>>> read_available() = 0;
  /// What read_available() returns: the bytes (valid until the handler returns) or the error.
  using ReadHandler = std::function<void(core::Result<std::span<const std::byte>>)>;
  /// read_available() without a coroutine: calls `handler` once, on the transport's executor and
  /// never before returning. TLS on the device listeners waits for readiness with a callback, so a
  /// connection waiting for its next packet parks no coroutine frame (about 1 KiB per idle
  /// connection); the other transports run read_available() in a coroutine.
  virtual void async_read_available(ReadHandler handler) = 0;
  /// Writes the whole buffer.
  virtual boost::asio::awaitable<core::Result<void>> write(boost::asio::const_buffer b) = 0;
  /// Writes what the transport can take now without waiting: the bytes written (a prefix of
  /// `b`; 0 when it would have to wait, or cannot write without a coroutine). The rest goes
  /// through write(), starting at the first unwritten byte. Not while a write() is outstanding.
  /// Lets a session send an acknowledgement without parking a writer coroutine per connection.
  virtual core::Result<std::size_t> try_write(boost::asio::const_buffer b) {
    (void)b;
    return std::size_t{0};
  }
  /// Graceful close (TLS close_notify / WebSocket close frame), bounded in time.
  virtual boost::asio::awaitable<void> shutdown() = 0;
  /// Immediate close; outstanding operations complete with an error.
  virtual void close() noexcept = 0;

  virtual const PeerInfo& peer() const noexcept = 0;
  virtual boost::asio::any_io_executor get_executor() noexcept = 0;
};

}  // namespace edgehub::net
