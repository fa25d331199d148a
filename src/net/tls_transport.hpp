#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <memory>

#include "edgehub/net/transport.hpp"
#include "edgehub/ops/metrics.hpp"
#include "net/connection_slot.hpp"
#include "net/tls_socket_stream.hpp"

namespace edgehub::net {

/// The gateway's own connections (upstream, HTTPS client): few, so Asio's SSL stream.
using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;
using WebSocketStream = boost::beast::websocket::stream<TlsStream>;
/// Device connections: many, so the lean stream (tls_socket_stream.hpp).
using ServerTlsStream = TlsSocketStream;
using ServerWebSocketStream = boost::beast::websocket::stream<ServerTlsStream>;

/// The client's certificate chain (leaf first) as DER, and the SNI name, after a handshake.
void fill_tls_peer_info(SSL* ssl, PeerInfo& peer);

/// A Transport over a TLS stream or a WebSocket inside TLS; the two differ only in how a buffer
/// is read and written and how the stream is closed gracefully (see the .cpp). A WebSocket read
/// that breaks RFC 6455, or brings a text message (MQTT and AMQP travel in binary messages), is
/// counted in `protocol_errors` ({reason}) when given.
template <typename Stream>
class StreamTransport final : public Transport {
 public:
  StreamTransport(std::unique_ptr<Stream> stream, std::shared_ptr<boost::asio::ssl::context> ctx,
                  PeerInfo peer, ConnectionSlot slot,
                  ops::CounterFamily* protocol_errors = nullptr);
  ~StreamTransport() override;

  // Implements edgehub::net::Transport
  boost::asio::awaitable<core::Result<std::size_t>> read_some(
      boost::asio::mutable_buffer b) override;
  boost::asio::awaitable<core::Result<std::span<const std::byte>>> read_available() override;
  void async_read_available(ReadHandler handler) override;
  boost::asio::awaitable<core::Result<void>> write(boost::asio::const_buffer b) override;
  core::Result<std::size_t> try_write(boost::asio::const_buffer b) override;
  boost::asio::awaitable<void> shutdown() override;
  void close() noexcept override;
  const PeerInfo& peer() const noexcept override { return peer_; }
  boost::asio::any_io_executor get_executor() noexcept override { return stream_->get_executor(); }

 private:
  std::shared_ptr<boost::asio::ssl::context> ctx_;  // outlives stream_: declared first
  std::unique_ptr<Stream> stream_;
  PeerInfo peer_;
  ConnectionSlot slot_;
  ops::CounterFamily* protocol_errors_;
  std::unique_ptr<std::byte[]> read_buffer_;  ///< read_available()'s, allocated on first use
};

using TlsTransport = StreamTransport<TlsStream>;
using WebSocketTransport = StreamTransport<WebSocketStream>;
using ServerTlsTransport = StreamTransport<ServerTlsStream>;
using ServerWebSocketTransport = StreamTransport<ServerWebSocketStream>;

extern template class StreamTransport<TlsStream>;
extern template class StreamTransport<WebSocketStream>;
extern template class StreamTransport<ServerTlsStream>;
extern template class StreamTransport<ServerWebSocketStream>;

}  // namespace edgehub::net
