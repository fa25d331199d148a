#include "edgehub/net/client_connect.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>

#include "net/client_context.hpp"
#include "net/tls_transport.hpp"

namespace edgehub::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;

namespace {

struct ProxyUrl {
  std::string host;
  std::string port;
  std::string authorization;  ///< "Basic …" or empty
};

// http://[user:password@]host:port, as [gateway] proxy accepts it (config validated the shape).
std::optional<ProxyUrl> parse_proxy(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  url.remove_prefix(kScheme.size());
  url = url.substr(0, url.find('/'));
  ProxyUrl p;
  if (const auto at = url.rfind('@'); at != std::string_view::npos) {
    const auto credentials = url.substr(0, at);
    std::string encoded(4 * ((credentials.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                  reinterpret_cast<const unsigned char*>(credentials.data()),
                                  static_cast<int>(credentials.size()));
    encoded.resize(static_cast<std::size_t>(n));
    p.authorization = "Basic " + encoded;
    url.remove_prefix(at + 1);
  }
  const auto colon = url.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == url.size()) return std::nullopt;
  p.host = std::string(url.substr(0, colon));
  p.port = std::string(url.substr(colon + 1));
  if (p.host.size() > 2 && p.host.front() == '[' && p.host.back() == ']') {
    p.host = p.host.substr(1, p.host.size() - 2);
  }
  return p;
}

// HTTP CONNECT through the proxy: afterwards the socket is a tunnel to the endpoint.
asio::awaitable<error_code> tunnel(asio::ip::tcp::socket& socket, const ProxyUrl& proxy,
                                   const ClientEndpoint& endpoint) {
  const std::string target = endpoint.host + ":" + std::to_string(endpoint.port);
  std::string request = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
  if (!proxy.authorization.empty()) {
    request += "Proxy-Authorization: " + proxy.authorization + "\r\n";
  }
  request += "\r\n";
  error_code ec;
  co_await asio::async_write(socket, asio::buffer(request),
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  // Nothing follows the proxy's answer until we speak (the TLS ClientHello): no bytes are lost.
  asio::streambuf answer(8192);
  co_await asio::async_read_until(socket, answer, "\r\n\r\n",
                                  asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  // "HTTP/1.1 200 …": the status is the second word.
  const std::string head(asio::buffers_begin(answer.data()),
                         asio::buffers_begin(answer.data()) +
                             static_cast<std::ptrdiff_t>(std::min<std::size_t>(answer.size(), 12)));
  if (head.size() < 12) {
    co_return boost::system::errc::make_error_code(boost::system::errc::connection_refused);
  }
  if (head.starts_with("HTTP/1.") && head.substr(8, 4) == " 200") co_return error_code{};
  // 407 is HTTP's answer to missing or wrong proxy credentials; tinyproxy answers 401.
  const auto status = head.substr(8, 4);
  co_return boost::system::errc::make_error_code(status == " 407" || status == " 401"
                                                     ? boost::system::errc::permission_denied
                                                     : boost::system::errc::connection_refused);
}

asio::awaitable<error_code> open(TlsStream& stream, const ClientEndpoint& endpoint) {
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::resolver resolver(executor);
  std::optional<ProxyUrl> proxy;
  if (endpoint.proxy) {
    proxy = parse_proxy(*endpoint.proxy);
    if (!proxy) {
      co_return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
    }
  }
  error_code ec;
  // Named, not temporaries of a conditional inside co_await: GCC 12 destroys those twice.
  const std::string host = proxy ? proxy->host : endpoint.host;
  const std::string port = proxy ? proxy->port : std::to_string(endpoint.port);
  auto results =
      co_await resolver.async_resolve(host, port, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  co_await asio::async_connect(stream.next_layer(), results,
                               asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  if (proxy) {
    ec = co_await tunnel(stream.next_layer(), *proxy, endpoint);
    if (ec) co_return ec;
  }
  stream.next_layer().set_option(asio::ip::tcp::no_delay(true), ec);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), endpoint.host.c_str())) {
    co_return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
  }
  if (auto checked = verify_server_name(stream.native_handle(), endpoint.host); !checked) {
    co_return checked.error();
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
  auto ctx = client_context(endpoint);
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
