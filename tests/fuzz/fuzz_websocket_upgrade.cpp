// libFuzzer target: a client's bytes on port 443 as far as a WebSocket goes. The input is an HTTP
// request, then whatever the client sends after it. If the request is an upgrade, the listener's
// decision (net::decide_websocket_upgrade) is checked, and an accepted upgrade goes through
// Beast's handshake and frame reader (in-memory stream, the listener's read limit) until the
// input ends or the stream fails.
// Invariants (abort = finding):
//  - an accepted upgrade names mqtt or AMQPWSB10 (any case), the token is one the client offered,
//    and its label matches the protocol;
//  - a refused upgrade has no token;
//  - no message longer than the read limit is ever returned.

#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "edgehub/core/message.hpp"
#include "edgehub/net/websocket_upgrade.hpp"

namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
using namespace edgehub;

constexpr std::size_t kReadLimit = 4096;
constexpr int kMaxMessages = 64;

void check_decision(const net::WebSocketUpgrade& d, std::string_view offered) {
  if (!d.accepted()) {
    if (d.carried == net::CarriedProtocol::none && !d.subprotocol.empty()) std::abort();
    return;
  }
  const bool mqtt = core::iequals(d.subprotocol, "mqtt");
  const bool amqp = core::iequals(d.subprotocol, "AMQPWSB10");
  if (!mqtt && !amqp) std::abort();
  if (mqtt != (d.carried == net::CarriedProtocol::mqtt)) std::abort();
  if (d.label() != (mqtt ? "mqtt" : "amqp")) std::abort();
  if (offered.find(d.subprotocol) == std::string_view::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  bhttp::request_parser<bhttp::empty_body> parser;
  parser.header_limit(8 * 1024);
  parser.eager(false);
  beast::error_code ec;
  const auto used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
  if (ec || !parser.is_header_done()) return 0;
  auto& req = parser.get();
  if (!websocket::is_upgrade(req)) return 0;
  const auto offered = req[bhttp::field::sec_websocket_protocol];
  const std::string_view offered_view(offered.data(), offered.size());
  const auto decision = net::decide_websocket_upgrade(
      std::string_view(req.target().data(), req.target().size()), offered_view);
  check_decision(decision, offered_view);
  if (!decision.accepted()) return 0;

  boost::asio::io_context io;
  beast::test::stream client_side(io);
  beast::test::stream server_side(io);
  server_side.connect(client_side);
  const auto rest = input.substr(used);
  server_side.append(beast::string_view(rest.data(), rest.size()));
  client_side.close();  // after the appended bytes, the server reads end of stream
  websocket::stream<beast::test::stream&> ws(server_side);
  ws.set_option(websocket::stream_base::decorator(
      [token = decision.subprotocol](websocket::response_type& res) {
        res.set(bhttp::field::sec_websocket_protocol, token);
      }));
  ws.read_message_max(kReadLimit);
  ws.accept(req, ec);
  if (ec) return 0;
  beast::flat_buffer buffer;
  for (int i = 0; i < kMaxMessages; ++i) {
    buffer.clear();
    ws.read(buffer, ec);
    if (ec) break;
    if (buffer.size() > kReadLimit) std::abort();
  }
  return 0;
}
