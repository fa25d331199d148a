#include "edgehub/net/admin_http_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

namespace edgehub::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct AdminHttpServer::State {
  State(asio::io_context& context, Handlers h)
      : io(context), acceptor(context), handlers(std::move(h)) {}
  asio::io_context& io;
  tcp::acceptor acceptor;
  Handlers handlers;
  std::size_t active = 0;
  bool stopped = false;
};

namespace {

constexpr auto kRequestDeadline = std::chrono::seconds(10);
constexpr std::uint32_t kHeaderLimit = 8 * 1024;

http::response<http::string_body> respond(const AdminHttpServer::Handlers& handlers,
                                          const http::request<http::empty_body>& req) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  res.set(http::field::server, "edgehubd");
  auto target = std::string_view(req.target().data(), req.target().size());
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET, HEAD");
    res.body() = "only GET is supported\n";
  } else if (target == "/metrics") {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = handlers.metrics();
  } else if (target == "/health") {
    res.result(http::status::ok);
    res.set(http::field::content_type, "application/json");
    res.body() = handlers.health();
  } else {
    res.result(http::status::not_found);
    res.set(http::field::content_type, "text/plain");
    res.body() = "not found: try /metrics or /health\n";
  }
  if (req.method() == http::verb::head) {
    res.content_length(res.body().size());
    res.body().clear();
    return res;
  }
  res.prepare_payload();
  return res;
}

asio::awaitable<void> serve(std::shared_ptr<AdminHttpServer::State> state, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer(kHeaderLimit);
  for (;;) {
    stream.expires_after(kRequestDeadline);
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kHeaderLimit);
    beast::error_code ec;
    co_await http::async_read(stream, buffer, parser,
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    auto res = respond(state->handlers, parser.get());
    const bool keep_alive = res.keep_alive();
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep_alive || state->stopped) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  --state->active;
}

asio::awaitable<void> accept_loop(std::shared_ptr<AdminHttpServer::State> state) {
  while (!state->stopped) {
    beast::error_code ec;
    tcp::socket socket =
        co_await state->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || state->stopped) break;
      spdlog::warn("metrics endpoint: accept failed: {}", ec.message());
      continue;
    }
    if (state->active >= AdminHttpServer::kMaxConnections) {
      socket.close(ec);  // over the bound: refuse cheaply rather than queue
      continue;
    }
    ++state->active;
    asio::co_spawn(state->io, serve(state, std::move(socket)), asio::detached);
  }
}

}  // namespace

AdminHttpServer::AdminHttpServer(asio::io_context& io, Handlers handlers)
    : state_(std::make_shared<State>(io, std::move(handlers))) {}

AdminHttpServer::~AdminHttpServer() {
  stop();
}

core::Result<void> AdminHttpServer::start(const config::HostPort& where) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(where.host, ec);
  if (ec) return ec;
  const tcp::endpoint endpoint(address, where.port);
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor.close();
    return ec;
  }
  asio::co_spawn(state_->io, accept_loop(state_), asio::detached);
  return {};
}

void AdminHttpServer::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  beast::error_code ignored;
  state_->acceptor.close(ignored);
}

unsigned short AdminHttpServer::port() const {
  beast::error_code ec;
  const auto ep = state_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

}  // namespace edgehub::net
