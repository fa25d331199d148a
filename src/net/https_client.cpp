#include "edgehub/net/https_client.hpp"

#include <array>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>

namespace edgehub::net {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using boost::system::error_code;

namespace {

std::string serialize(const ClientEndpoint& endpoint, const HttpsRequest& request) {
  std::string out = request.method + " " + request.target + " HTTP/1.1\r\n";
  out += "Host: " + endpoint.host + ":" + std::to_string(endpoint.port) + "\r\n";
  for (const auto& [name, value] : request.headers)
    out += name + ": " + value + "\r\n";
  out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += request.body;
  return out;
}

asio::awaitable<core::Result<HttpsResponse>> exchange(Transport& transport,
                                                      const ClientEndpoint& endpoint,
                                                      const HttpsRequest& request) {
  const std::string wire = serialize(endpoint, request);
  if (auto w = co_await transport.write(asio::buffer(wire)); !w) co_return w.error();
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(request.max_response_bytes);
  parser.header_limit(64 * 1024);
  parser.eager(true);
  std::string pending;  // bytes read but not yet consumed by the parser
  std::array<char, 16 * 1024> chunk{};
  while (!parser.is_done()) {
    auto n = co_await transport.read_some(asio::buffer(chunk));
    if (!n) {
      // A body without Content-Length ends with the connection.
      if (n.error() == asio::error::eof || n.error() == asio::ssl::error::stream_truncated) {
        error_code ec;
        parser.put_eof(ec);
        if (ec) co_return ec;
        break;
      }
      co_return n.error();
    }
    pending.append(chunk.data(), *n);
    while (!pending.empty() && !parser.is_done()) {
      error_code ec;
      const auto used = parser.put(asio::buffer(pending), ec);
      if (ec == bhttp::error::need_more) break;
      if (ec) co_return ec;
      pending.erase(0, used);
      if (used == 0) break;
    }
  }
  auto message = parser.release();
  co_return HttpsResponse{message.result_int(), std::move(message.body())};
}

}  // namespace

asio::awaitable<core::Result<HttpsResponse>> https_request(asio::any_io_executor executor,
                                                           ClientEndpoint endpoint,
                                                           HttpsRequest request) {
  endpoint.kind = TransportKind::tls;
  endpoint.timeout = std::min(endpoint.timeout, request.timeout);
  const auto started = std::chrono::steady_clock::now();
  auto connected = co_await connect_client(executor, endpoint);
  if (!connected) co_return connected.error();
  std::shared_ptr<Transport> transport = std::move(*connected);

  // The deadline closes the transport, which fails whichever read or write is waiting.
  asio::steady_timer deadline(executor);
  deadline.expires_at(started + request.timeout);
  auto expired = std::make_shared<bool>(false);
  deadline.async_wait([weak = std::weak_ptr<Transport>(transport), expired](const error_code& ec) {
    if (ec) return;
    *expired = true;
    if (auto t = weak.lock()) t->close();
  });
  auto result = co_await exchange(*transport, endpoint, request);
  deadline.cancel();
  if (*expired) co_return asio::error::timed_out;
  transport->close();  // Connection: close; the server has finished with it too
  co_return result;
}

}  // namespace edgehub::net
