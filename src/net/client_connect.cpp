#include "edgehub/net/client_connect.hpp"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/stream_traits.hpp>

#include "net/tls_transport.hpp"

namespace edgehub::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;

namespace {

core::Result<std::shared_ptr<ssl::context>> make_client_context(const ClientEndpoint& endpoint) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  error_code ec;
  // IoT Hub's public CA comes from the system store; a parent gateway's from the trust bundle.
  ctx->set_default_verify_paths(ec);
  if (endpoint.trust_bundle) {
    ctx->load_verify_file(endpoint.trust_bundle->string(), ec);
    if (ec) return ec;
  }
  if (!endpoint.client_cert.empty()) {
    ctx->use_certificate_chain_file(endpoint.client_cert.string(), ec);
    if (!ec) ctx->use_private_key_file(endpoint.client_key.string(), ssl::context::pem, ec);
    if (ec) return ec;
  }
  ctx->set_verify_mode(ssl::verify_peer);
  ctx->set_verify_callback(ssl::host_name_verification(endpoint.host));
  return ctx;
}

asio::awaitable<error_code> open(TlsStream& stream, const ClientEndpoint& endpoint) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(executor);
  error_code ec;
  auto results = co_await resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                                                 asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  co_await asio::async_connect(stream.next_layer(), results,
                               asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  stream.next_layer().set_option(asio::ip::tcp::no_delay(true), ec);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), endpoint.host.c_str())) {
    co_return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
  }
  co_await stream.async_handshake(ssl::stream_base::client,
                                  asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

asio::awaitable<error_code> upgrade(WebSocketStream& ws, const ClientEndpoint& endpoint) {
  namespace websocket = boost::beast::websocket;
  ws.set_option(websocket::stream_base::decorator([&endpoint](websocket::request_type& req) {
    req.set(boost::beast::http::field::sec_websocket_protocol, endpoint.websocket_subprotocol);
  }));
  const std::string host = endpoint.host + ":" + std::to_string(endpoint.port);
  error_code ec;
  co_await ws.async_handshake(host, endpoint.websocket_path,
                              asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

}  // namespace

asio::awaitable<core::Result<std::unique_ptr<Transport>>> connect_client(
    asio::any_io_executor executor, ClientEndpoint endpoint) {
  auto ctx = make_client_context(endpoint);
  if (!ctx) co_return ctx.error();
  PeerInfo peer;
  peer.listener = "upstream";
  peer.remote_address = endpoint.host + ":" + std::to_string(endpoint.port);
  peer.kind = endpoint.kind;
  peer.subprotocol = endpoint.websocket_subprotocol;
  peer.sni = endpoint.host;

  // The deadline closes the socket, which fails whichever step is waiting.
  auto tls = std::make_unique<TlsStream>(executor, **ctx);
  asio::steady_timer deadline(executor);
  deadline.expires_after(endpoint.timeout);
  auto expired = std::make_shared<bool>(false);
  deadline.async_wait([socket = &tls->next_layer(), expired](const error_code& ec) {
    if (ec) return;
    *expired = true;
    error_code ignored;
    socket->close(ignored);
  });
  // The stream is moved into the WebSocket after the TLS handshake; keep the timer's target.
  error_code ec = co_await open(*tls, endpoint);
  if (ec || endpoint.kind == TransportKind::tls) {
    deadline.cancel();
    if (*expired) co_return asio::error::timed_out;
    if (ec) co_return ec;
    co_return std::make_unique<TlsTransport>(std::move(tls), std::move(*ctx), std::move(peer),
                                             ConnectionSlot{});
  }
  auto ws = std::make_unique<WebSocketStream>(std::move(*tls));
  deadline.cancel();
  deadline.expires_after(endpoint.timeout);
  *expired = false;
  deadline.async_wait(
      [socket = &boost::beast::get_lowest_layer(*ws), expired](const error_code& e) {
        if (e) return;
        *expired = true;
        error_code ignored;
        socket->close(ignored);
      });
  ec = co_await upgrade(*ws, endpoint);
  deadline.cancel();
  if (*expired) co_return asio::error::timed_out;
  if (ec) co_return ec;
  co_return std::make_unique<WebSocketTransport>(std::move(ws), std::move(*ctx), std::move(peer),
                                                 ConnectionSlot{});
}

}  // namespace edgehub::net
