#include "net/tls_transport.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>

namespace edgehub::net {

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
using boost::system::error_code;

namespace {

// How long a graceful close may wait for the peer's close_notify or close frame.
constexpr auto kShutdownDeadline = std::chrono::milliseconds(500);

std::string to_der(X509* cert) {
  const int len = i2d_X509(cert, nullptr);
  if (len <= 0) return {};
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert, &p);
  return der;
}

// TLS: a write is the whole buffer; the graceful close is close_notify.
asio::awaitable<void> write_all(TlsStream& s, asio::const_buffer b, error_code& ec) {
  co_await asio::async_write(s, b, asio::redirect_error(asio::use_awaitable, ec));
}
asio::awaitable<void> graceful_close(TlsStream& s, error_code& ec) {
  co_await s.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
}

// WebSocket: each write is one binary message; the graceful close is a close frame.
asio::awaitable<void> write_all(WebSocketStream& s, asio::const_buffer b, error_code& ec) {
  co_await s.async_write(b, asio::redirect_error(asio::use_awaitable, ec));
}
asio::awaitable<void> graceful_close(WebSocketStream& s, error_code& ec) {
  co_await s.async_close(websocket::close_code::normal,
                         asio::redirect_error(asio::use_awaitable, ec));
}

void prepare(TlsStream&) {}
void prepare(WebSocketStream& s) {
  s.binary(true);
}

}  // namespace

void fill_tls_peer_info(TlsStream& stream, PeerInfo& peer) {
  SSL* ssl = stream.native_handle();
  if (X509* leaf = SSL_get1_peer_certificate(ssl)) {
    peer.client_cert_chain_der.push_back(to_der(leaf));
    // On the server side the peer chain excludes the leaf.
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
      for (int i = 0; i < sk_X509_num(chain); ++i) {
        peer.client_cert_chain_der.push_back(to_der(sk_X509_value(chain, i)));
      }
    }
    X509_free(leaf);
  }
  if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) peer.sni = name;
}

template <typename Stream>
StreamTransport<Stream>::StreamTransport(std::unique_ptr<Stream> stream,
                                         std::shared_ptr<asio::ssl::context> ctx, PeerInfo peer,
                                         ConnectionSlot slot)
    : ctx_(std::move(ctx)),
      stream_(std::move(stream)),
      peer_(std::move(peer)),
      slot_(std::move(slot)) {
  prepare(*stream_);
}

template <typename Stream>
StreamTransport<Stream>::~StreamTransport() {
  close();
}

template <typename Stream>
asio::awaitable<core::Result<std::size_t>> StreamTransport<Stream>::read_some(
    asio::mutable_buffer b) {
  error_code ec;
  const auto n =
      co_await stream_->async_read_some(b, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  co_return n;
}

template <typename Stream>
asio::awaitable<core::Result<void>> StreamTransport<Stream>::write(asio::const_buffer b) {
  error_code ec;
  co_await write_all(*stream_, b, ec);
  if (ec) co_return ec;
  co_return core::Result<void>{};
}

template <typename Stream>
asio::awaitable<void> StreamTransport<Stream>::shutdown() {
  // The graceful close is a courtesy; a peer that never answers must not hold the connection.
  asio::steady_timer deadline(stream_->get_executor());
  deadline.expires_after(kShutdownDeadline);
  auto* stream = stream_.get();
  auto finished = std::make_shared<bool>(false);
  deadline.async_wait([stream, finished](const error_code& ec) {
    if (!ec && !*finished) {
      error_code ignored;
      boost::beast::get_lowest_layer(*stream).close(ignored);
    }
  });
  error_code ec;
  co_await graceful_close(*stream_, ec);
  *finished = true;
  deadline.cancel();
  close();
}

template <typename Stream>
void StreamTransport<Stream>::close() noexcept {
  error_code ignored;
  if (stream_) boost::beast::get_lowest_layer(*stream_).close(ignored);
}

template class StreamTransport<TlsStream>;
template class StreamTransport<WebSocketStream>;

}  // namespace edgehub::net
