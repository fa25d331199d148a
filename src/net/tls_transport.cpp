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

namespace {

constexpr auto kShutdownDeadline = std::chrono::seconds(2);

std::string to_der(X509* cert) {
  const int len = i2d_X509(cert, nullptr);
  if (len <= 0) return {};
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert, &p);
  return der;
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

TlsTransport::TlsTransport(std::unique_ptr<TlsStream> stream,
                           std::shared_ptr<asio::ssl::context> ctx, PeerInfo peer,
                           ConnectionSlot slot)
    : ctx_(std::move(ctx)),
      stream_(std::move(stream)),
      peer_(std::move(peer)),
      slot_(std::move(slot)) {}

TlsTransport::~TlsTransport() {
  close();
}

asio::awaitable<core::Result<std::size_t>> TlsTransport::read_some(asio::mutable_buffer b) {
  boost::system::error_code ec;
  const auto n =
      co_await stream_->async_read_some(b, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  co_return n;
}

asio::awaitable<core::Result<void>> TlsTransport::write(asio::const_buffer b) {
  boost::system::error_code ec;
  co_await asio::async_write(*stream_, b, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  co_return core::Result<void>{};
}

asio::awaitable<void> TlsTransport::shutdown() {
  // close_notify is a courtesy; a peer that never answers must not hold the connection open.
  asio::steady_timer deadline(stream_->get_executor());
  deadline.expires_after(kShutdownDeadline);
  auto* stream = stream_.get();
  auto finished = std::make_shared<bool>(false);
  deadline.async_wait([stream, finished](const boost::system::error_code& ec) {
    if (!ec && !*finished) {
      boost::system::error_code ignored;
      stream->lowest_layer().close(ignored);
    }
  });
  boost::system::error_code ec;
  co_await stream_->async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  *finished = true;
  deadline.cancel();
  close();
}

void TlsTransport::close() noexcept {
  boost::system::error_code ignored;
  if (stream_) stream_->lowest_layer().close(ignored);
}

WebSocketTransport::WebSocketTransport(std::unique_ptr<WebSocketStream> ws,
                                       std::shared_ptr<asio::ssl::context> ctx, PeerInfo peer,
                                       ConnectionSlot slot)
    : ctx_(std::move(ctx)), ws_(std::move(ws)), peer_(std::move(peer)), slot_(std::move(slot)) {
  ws_->binary(true);
}

WebSocketTransport::~WebSocketTransport() {
  close();
}

asio::awaitable<core::Result<std::size_t>> WebSocketTransport::read_some(asio::mutable_buffer b) {
  boost::system::error_code ec;
  const auto n = co_await ws_->async_read_some(b, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  co_return n;
}

asio::awaitable<core::Result<void>> WebSocketTransport::write(asio::const_buffer b) {
  boost::system::error_code ec;
  co_await ws_->async_write(b, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  co_return core::Result<void>{};
}

asio::awaitable<void> WebSocketTransport::shutdown() {
  asio::steady_timer deadline(ws_->get_executor());
  deadline.expires_after(kShutdownDeadline);
  auto* ws = ws_.get();
  auto finished = std::make_shared<bool>(false);
  deadline.async_wait([ws, finished](const boost::system::error_code& ec) {
    if (!ec && !*finished) {
      boost::system::error_code ignored;
      boost::beast::get_lowest_layer(*ws).close(ignored);
    }
  });
  boost::system::error_code ec;
  co_await ws_->async_close(websocket::close_code::normal,
                            asio::redirect_error(asio::use_awaitable, ec));
  *finished = true;
  deadline.cancel();
  close();
}

void WebSocketTransport::close() noexcept {
  boost::system::error_code ignored;
  if (ws_) boost::beast::get_lowest_layer(*ws_).close(ignored);
}

}  // namespace edgehub::net
