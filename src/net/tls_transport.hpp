#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <memory>

#include "edgehub/net/transport.hpp"
#include "net/connection_slot.hpp"

namespace edgehub::net {

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;
using WebSocketStream = boost::beast::websocket::stream<TlsStream>;

/// The client's certificate chain (leaf first) as DER, and the SNI name, after a handshake.
void fill_tls_peer_info(TlsStream& stream, PeerInfo& peer);

class TlsTransport final : public Transport {
 public:
  TlsTransport(std::unique_ptr<TlsStream> stream, std::shared_ptr<boost::asio::ssl::context> ctx,
               PeerInfo peer, ConnectionSlot slot);
  ~TlsTransport() override;

  // Implements edgehub::net::Transport
  boost::asio::awaitable<core::Result<std::size_t>> read_some(
      boost::asio::mutable_buffer b) override;
  boost::asio::awaitable<core::Result<void>> write(boost::asio::const_buffer b) override;
  boost::asio::awaitable<void> shutdown() override;
  void close() noexcept override;
  const PeerInfo& peer() const noexcept override { return peer_; }
  boost::asio::any_io_executor get_executor() noexcept override { return stream_->get_executor(); }

 private:
  std::shared_ptr<boost::asio::ssl::context> ctx_;  // outlives stream_: declared first
  std::unique_ptr<TlsStream> stream_;
  PeerInfo peer_;
  ConnectionSlot slot_;
};

class WebSocketTransport final : public Transport {
 public:
  WebSocketTransport(std::unique_ptr<WebSocketStream> ws,
                     std::shared_ptr<boost::asio::ssl::context> ctx, PeerInfo peer,
                     ConnectionSlot slot);
  ~WebSocketTransport() override;

  // Implements edgehub::net::Transport
  boost::asio::awaitable<core::Result<std::size_t>> read_some(
      boost::asio::mutable_buffer b) override;
  boost::asio::awaitable<core::Result<void>> write(boost::asio::const_buffer b) override;
  boost::asio::awaitable<void> shutdown() override;
  void close() noexcept override;
  const PeerInfo& peer() const noexcept override { return peer_; }
  boost::asio::any_io_executor get_executor() noexcept override { return ws_->get_executor(); }

 private:
  std::shared_ptr<boost::asio::ssl::context> ctx_;
  std::unique_ptr<WebSocketStream> ws_;
  PeerInfo peer_;
  ConnectionSlot slot_;
};

}  // namespace edgehub::net
