#include "edgehub/net/listener.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "edgehub/core/message.hpp"
#include "edgehub/net/websocket_upgrade.hpp"
#include "edgehub/ops/logging.hpp"
#include "net/connection_slot.hpp"
#include "net/tls_transport.hpp"

namespace edgehub::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

bool ConnectionBudget::try_acquire() noexcept {
  auto used = used_.load(std::memory_order_relaxed);
  do {
    if (used >= max_.load(std::memory_order_relaxed)) return false;
  } while (!used_.compare_exchange_weak(used, used + 1, std::memory_order_relaxed));
  return true;
}

ListenerStats::ListenerStats(ops::Registry& registry)
    : handshakes(registry.counter("edgehubd_tls_handshakes_total",
                                  "TLS handshakes on device-facing listeners, by result",
                                  {"listener", "result"})),
      refused(registry.counter("edgehubd_connections_refused_total",
                               "Connections closed before the TLS handshake, by reason",
                               {"listener", "reason"})),
      active(registry.gauge("edgehubd_connections", "Open connections per listener", {"listener"})),
      websocket(registry.counter("edgehubd_websocket_upgrades_total",
                                 "WebSocket upgrade requests on 443, by subprotocol and result",
                                 {"subprotocol", "result"})),
      protocol_errors(registry.counter(
          "edgehubd_http_protocol_errors_total",
          "Requests and WebSocket streams on 443 refused for breaking HTTP/1.1 or RFC 6455",
          {"reason"})),
      https_bytes_in(
          registry
              .counter("edgehubd_bytes_received_total", "Bytes received from devices", {"protocol"})
              .with({"https"})),
      https_bytes_out(
          registry.counter("edgehubd_bytes_sent_total", "Bytes sent to devices", {"protocol"})
              .with({"https"})) {}

HttpResponse iothub_error_response(unsigned version, bool keep_alive, int status,
                                   std::string_view error_code, std::string_view text) {
  HttpResponse res{static_cast<http::status>(status), version};
  res.set(http::field::server, "edgehubd");
  res.set(http::field::content_type, "application/json; charset=utf-8");
  res.keep_alive(keep_alive);
  res.body() = nlohmann::json{
      {"Message", "ErrorCode:" + std::string(error_code) + ";" + std::string(text)},
      {"ExceptionMessage",
       ""}}.dump();
  res.prepare_payload();
  return res;
}

std::uint64_t http_body_limit(const config::LimitsConfig& limits) noexcept {
  // base64 grows 4/3; JSON quoting and property names stay well within the 64 KiB margin. A
  // direct-method request carries up to 128 KiB of payload whatever the message limit.
  constexpr std::uint64_t kMethodPayload = 128 * 1024;
  return std::max(std::uint64_t{limits.max_message_bytes} * 4 / 3, kMethodPayload) + 64 * 1024;
}

namespace {

constexpr auto kHttpHeaderDeadline = std::chrono::seconds(10);
constexpr auto kHttpBodyDeadline = std::chrono::seconds(30);
constexpr std::uint32_t kHttpHeaderLimit = 16 * 1024;
// A WebSocket message carries a chunk of the MQTT or AMQP byte stream; a client never needs a
// message larger than the biggest packet/frame plus framing.
constexpr std::uint64_t kWebSocketMessageMargin = 64 * 1024;

std::string format_endpoint(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  return addr.is_v6() ? "[" + addr.to_string() + "]:" + std::to_string(ep.port())
                      : addr.to_string() + ":" + std::to_string(ep.port());
}

// Cancels a stream's socket if `deadline` passes first; disarm() before relying on the stream.
class Deadline {
 public:
  Deadline(asio::any_io_executor ex, tcp::socket& socket, std::chrono::steady_clock::duration d)
      : timer_(ex), armed_(std::make_shared<bool>(true)) {
    timer_.expires_after(d);
    timer_.async_wait([&socket, armed = armed_](const boost::system::error_code& ec) {
      if (!ec && *armed) {
        boost::system::error_code ignored;
        socket.cancel(ignored);
        socket.close(ignored);
      }
    });
  }
  ~Deadline() { disarm(); }
  void disarm() {
    *armed_ = false;
    timer_.cancel();
  }

 private:
  asio::steady_timer timer_;
  std::shared_ptr<bool> armed_;  // shared with the handler, which may run after this object dies
};

}  // namespace

struct Listener::State {
  State(asio::io_context& context, Kind k, const TlsContextStore& store,
        const config::LimitsConfig& l, ConnectionBudget& global, ListenerStats& s,
        ListenerHandlers h)
      : io(context),
        acceptor(context),
        kind(k),
        tls(store),
        limits(l),
        global_budget(global),
        own_budget(std::make_shared<ConnectionBudget>(l.max_connections_per_listener)),
        stats(s),
        handshakes_ok(s.handshakes.with({std::string(name()), "ok"})),
        handshakes_failed(s.handshakes.with({std::string(name()), "failed"})),
        handshakes_timed_out(s.handshakes.with({std::string(name()), "timeout"})),
        handlers(std::move(h)) {}

  asio::io_context& io;
  tcp::acceptor acceptor;
  Kind kind;
  const TlsContextStore& tls;
  config::LimitsConfig limits;
  ConnectionBudget& global_budget;
  std::shared_ptr<ConnectionBudget> own_budget;
  ListenerStats& stats;
  // This listener's handshake counters, looked up once rather than per connection.
  ops::Counter& handshakes_ok;
  ops::Counter& handshakes_failed;
  ops::Counter& handshakes_timed_out;
  ListenerHandlers handlers;
  bool stopped = false;

  std::string_view name() const noexcept {
    switch (kind) {
      case Kind::mqtt:
        return "mqtt";
      case Kind::amqp:
        return "amqp";
      case Kind::https:
        return "https";
    }
    return "?";
  }
};

namespace {

using StatePtr = std::shared_ptr<Listener::State>;

// A request that could not be read whole. Counted (by the rule it broke, as a partial message
// when the peer left mid-request, or as a timeout) unless nothing of it had arrived — a keep-alive
// connection closed or idle between requests refused nothing. Answered when the peer can still
// read: 431 and 413 for the limits, 400 for anything else HTTP/1.1 forbids.
asio::awaitable<void> refuse_unreadable(Listener::State& state, ServerTlsStream& stream,
                                        bool got_some, boost::system::error_code ec,
                                        const ops::LogFields& fields) {
  if (!got_some) co_return;
  // The Deadline closes the socket under the pending read.
  const bool timed_out = ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor;
  const bool answerable =
      ec.category() == http::make_error_code(http::error::bad_method).category() &&
      ec != http::error::partial_message;
  const std::string reason = timed_out    ? std::string("request timeout")
                             : answerable ? ec.message()
                                          : std::string("partial message");
  state.stats.protocol_errors.with({reason}).inc();
  ops::log(spdlog::level::info, fields, "https: request refused: {}", reason);
  if (!answerable) co_return;
  auto res = ec == http::error::header_limit
                 ? iothub_error_response(11, false, 431, "RequestHeaderFieldsTooLarge",
                                         "request header larger than 16 KiB")
             : ec == http::error::body_limit
                 // A Content-Length over the limit is refused with the header, before any body.
                 ? iothub_error_response(11, false, 413, "MessageTooLarge",
                                         "request body exceeds the gateway's limit")
                 : iothub_error_response(11, false, 400, "BadRequest",
                                         "malformed HTTP/1.1 request: " + ec.message());
  co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> serve_https(StatePtr state, std::unique_ptr<ServerTlsStream> stream,
                                  std::shared_ptr<asio::ssl::context> ctx, PeerInfo peer,
                                  ConnectionSlot slot) {
  const ops::LogFields fields{.remote_addr = peer.remote_address, .protocol = "https"};
  beast::flat_buffer buffer;
  auto ex = stream->get_executor();
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHttpHeaderLimit);
    parser.body_limit(http_body_limit(state->limits));
    boost::system::error_code ec;
    {
      // Slow-loris defence: the whole header must arrive within the deadline — 10 s, or the
      // shorter one a client has for its MQTT CONNECT (also the idle bound between requests).
      Deadline deadline(ex, stream->next_layer(),
                        std::min<std::chrono::steady_clock::duration>(state->limits.connect_timeout,
                                                                      kHttpHeaderDeadline));
      const auto header_bytes = co_await http::async_read_header(
          *stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      state->stats.https_bytes_in.inc(header_bytes);
    }
    if (ec) {
      co_await refuse_unreadable(*state, *stream, parser.got_some(), ec, fields);
      break;
    }
    auto& req = parser.get();
    if (websocket::is_upgrade(req)) {
      const auto offered = req[http::field::sec_websocket_protocol];
      const auto upgrade =
          decide_websocket_upgrade(std::string_view(req.target().data(), req.target().size()),
                                   std::string_view(offered.data(), offered.size()));
      const std::string which(upgrade.label());
      const auto& token = upgrade.subprotocol;
      const SessionHandler* handler =
          upgrade.carried == CarriedProtocol::mqtt   ? &state->handlers.mqtt
          : upgrade.carried == CarriedProtocol::amqp ? &state->handlers.amqp
                                                     : nullptr;
      if (!upgrade.accepted() || !handler || !*handler) {
        const bool wrong_path = upgrade.wrong_path;
        state->stats.websocket.with({which, "refused"}).inc();
        ops::log(
            spdlog::level::info, fields, "https: WebSocket upgrade refused ({})",
            wrong_path ? "path is not /$iothub/websocket" : "no supported Sec-WebSocket-Protocol");
        auto res = wrong_path
                       ? iothub_error_response(req.version(), false, 404, "NotFound",
                                               "WebSocket endpoint is /$iothub/websocket")
                       : iothub_error_response(req.version(), false, 400, "BadRequest",
                                               "Sec-WebSocket-Protocol must be mqtt or AMQPWSB10");
        co_await http::async_write(*stream, res, asio::redirect_error(asio::use_awaitable, ec));
        break;
      }
      // No TLS close_notify exchange under a WebSocket: its close frame already ends the stream,
      // and Beast 1.74, failing a stream that broke RFC 6455, sends its close frame and then
      // waits for the peer's close_notify with no timer armed — a silent peer would hold the
      // connection for ever.
      SSL_set_quiet_shutdown(stream->native_handle(), 1);
      auto ws = std::make_unique<ServerWebSocketStream>(std::move(*stream));
      ws->set_option(websocket::stream_base::decorator([token](websocket::response_type& res) {
        res.set(http::field::sec_websocket_protocol, token);
        res.set(http::field::server, "edgehubd");
      }));
      websocket::stream_base::timeout timeouts{};
      timeouts.handshake_timeout = std::chrono::seconds(10);
      // The protocols carried inside enforce their own keep-alive (MQTT 1.5 × keep-alive, AMQP
      // idle time-out); server pings stay off as in edgeHub (the Java SDK mishandles them).
      timeouts.idle_timeout = websocket::stream_base::none();
      timeouts.keep_alive_pings = false;
      ws->set_option(timeouts);
      ws->read_message_max(state->limits.max_message_bytes + kWebSocketMessageMargin);
      co_await ws->async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        state->stats.websocket.with({which, "failed"}).inc();
        ops::log(spdlog::level::info, fields, "https: WebSocket handshake failed: {}",
                 ec.message());
        co_return;
      }
      state->stats.websocket.with({which, "accepted"}).inc();
      peer.kind = TransportKind::websocket;
      peer.subprotocol = token;
      (*handler)(std::make_unique<ServerWebSocketTransport>(std::move(ws), std::move(ctx),
                                                            std::move(peer), std::move(slot),
                                                            &state->stats.protocol_errors));
      co_return;
    }
    {
      Deadline deadline(ex, stream->next_layer(), kHttpBodyDeadline);
      const auto body_bytes = co_await http::async_read(
          *stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      state->stats.https_bytes_in.inc(body_bytes);
    }
    if (ec) {
      co_await refuse_unreadable(*state, *stream, true, ec, fields);
      break;
    }
    const bool wants_keep_alive = req.keep_alive();
    // Not a conditional expression: GCC 12 mishandles temporaries around a co_await in one.
    HttpResponse res;
    if (state->handlers.http) {
      res = co_await state->handlers.http(parser.release(), peer);
    } else {
      res = iothub_error_response(req.version(), req.keep_alive(), 404, "NotFound",
                                  "no such resource on this gateway");
    }
    const bool keep_alive = res.keep_alive() && wants_keep_alive && !state->stopped;
    res.keep_alive(keep_alive);
    const auto sent =
        co_await http::async_write(*stream, res, asio::redirect_error(asio::use_awaitable, ec));
    state->stats.https_bytes_out.inc(sent);
    if (ec || !keep_alive) break;
  }
  ServerTlsTransport transport(std::move(stream), std::move(ctx), std::move(peer), std::move(slot));
  co_await transport.shutdown();
}

asio::awaitable<void> handle_connection(StatePtr state, tcp::socket socket, ConnectionSlot slot) {
  PeerInfo peer;
  peer.listener = std::string(state->name());
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  peer.remote_address = ec ? "unknown" : format_endpoint(remote);
  const ops::LogFields fields{.remote_addr = peer.remote_address, .protocol = state->name()};

  auto ctx = state->tls.current();
  if (!ctx) co_return;  // start() refuses to run without a context; a race with stop() only
  auto stream = std::make_unique<ServerTlsStream>(std::move(socket), *ctx);
  {
    Deadline deadline(stream->get_executor(), stream->next_layer(),
                      state->limits.tls_handshake_timeout);
    co_await stream->async_handshake(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (ec) {
    const bool timed_out =
        ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor;
    (timed_out ? state->handshakes_timed_out : state->handshakes_failed).inc();
    ops::log(spdlog::level::debug, fields, "TLS handshake {}: {}",
             timed_out ? "timed out" : "failed", ec.message());
    co_return;
  }
  state->handshakes_ok.inc();
  fill_tls_peer_info(stream->native_handle(), peer);

  if (state->kind == Listener::Kind::https) {
    co_await serve_https(state, std::move(stream), std::move(ctx), std::move(peer),
                         std::move(slot));
    co_return;
  }
  const auto& handler =
      state->kind == Listener::Kind::mqtt ? state->handlers.mqtt : state->handlers.amqp;
  handler(std::make_unique<ServerTlsTransport>(std::move(stream), std::move(ctx), std::move(peer),
                                               std::move(slot)));
}

asio::awaitable<void> accept_loop(StatePtr state) {
  const std::string name(state->name());
  auto& active = state->stats.active.with({name});
  while (!state->stopped) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await state->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (state->stopped || ec == asio::error::operation_aborted) break;
      // EMFILE and friends: back off briefly instead of spinning on the failing accept.
      spdlog::warn("{} listener: accept failed: {}", name, ec.message());
      asio::steady_timer pause(state->io, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    // Over a cap the connection is closed before any TLS work: refusing must stay cheap.
    if (!state->global_budget.try_acquire()) {
      state->stats.refused.with({name, "max_connections"}).inc();
      socket.close(ec);
      continue;
    }
    if (!state->own_budget->try_acquire()) {
      state->global_budget.release();
      state->stats.refused.with({name, "max_connections_per_listener"}).inc();
      socket.close(ec);
      continue;
    }
    ConnectionSlot slot(&state->global_budget, state->own_budget, &active);
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(state->io, handle_connection(state, std::move(socket), std::move(slot)),
                   asio::detached);
  }
}

}  // namespace

Listener::Listener(asio::io_context& io, Kind kind, const TlsContextStore& tls,
                   const config::LimitsConfig& limits, ConnectionBudget& global_budget,
                   ListenerStats& stats, ListenerHandlers handlers)
    : state_(std::make_shared<State>(io, kind, tls, limits, global_budget, stats,
                                     std::move(handlers))) {}

Listener::~Listener() {
  stop();
}

std::string_view Listener::name() const noexcept {
  return state_->name();
}

core::Result<void> Listener::start(const config::HostPort& where) {
  boost::system::error_code ec;
  if (!state_->tls.current()) return asio::error::no_protocol_option;
  tcp::endpoint endpoint;
  const auto address = asio::ip::make_address(where.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, where.port);
  } else {
    // A host name: resolved once, at start-up, where blocking is allowed.
    tcp::resolver resolver(state_->io);
    auto results = resolver.resolve(where.host, std::to_string(where.port), ec);
    if (ec) return ec;
    if (results.empty()) return asio::error::host_not_found;
    endpoint = *results.begin();
  }
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && endpoint.address().is_v6()) {
    // "[::]" serves IPv4 too (dual stack), as edgeHub's listeners do.
    acceptor.set_option(asio::ip::v6_only(false), ec);
  }
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return ec;
  }
  asio::co_spawn(state_->io, accept_loop(state_), asio::detached);
  return {};
}

void Listener::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
}

unsigned short Listener::port() const {
  boost::system::error_code ec;
  const auto ep = state_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

}  // namespace edgehub::net
