// Issue 12 regressions on the 443 listener, found by tests/integration/http_malformed: a request
// Beast cannot parse is answered 400 (it was closed with nothing sent and nothing counted); a
// WebSocket frame that breaks RFC 6455 closes the connection at once with Beast's close code (the
// socket used to stay open, Beast waiting for a TLS close_notify with no timer); a text message
// is closed with 1003 (MQTT and AMQP need binary). Each is counted in
// edgehubd_http_protocol_errors_total{reason}, as are a body cut short and a header cut off at
// its deadline, but not a keep-alive connection that closes or idles between requests.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <thread>

#include "edgehub/net/listener.hpp"
#include "edgehub/pki/edge_ca.hpp"
#include "edgehub/pki/server_cert.hpp"
#include "support/pki/test_pki.hpp"
#include "support/tls/tls_client.hpp"

namespace edgehub::net {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// Reads a WebSocket session's bytes until the transport fails, then closes it as a protocol
// session does.
asio::awaitable<void> drain(std::unique_ptr<Transport> t) {
  std::array<char, 512> buffer;
  while (co_await t->read_some(asio::buffer(buffer))) {
  }
  co_await t->shutdown();
}

class HttpsListenerMalformed : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.connect_timeout = 700ms;  // the request header deadline (slow loris)
    std::string why;
    auto ca = pki::load_edge_ca(pki_.files.edge_ca_full_chain, pki_.files.edge_ca_key,
                                pki_.files.root_cert, core::SystemClock::instance().now(), why);
    ASSERT_TRUE(ca) << why;
    pki::ServerCertPolicy policy;
    policy.hostname = "gw.test.local";
    auto server = pki::issue_server_cert(*ca, policy, core::SystemClock::instance().now(), why);
    ASSERT_TRUE(server) << why;
    ASSERT_TRUE(tls_.update({server->chain_pem, server->key_pem}, why)) << why;
    auto session = [this](std::unique_ptr<Transport> t) {
      asio::co_spawn(io_, drain(std::move(t)), asio::detached);
    };
    listener_ = std::make_unique<Listener>(io_, Listener::Kind::https, tls_, limits_, budget_,
                                           stats_, ListenerHandlers{session, session, {}});
    ASSERT_TRUE(listener_->start({"127.0.0.1", 0}));
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    asio::post(io_, [this] {
      listener_->stop();
      work_.reset();
    });
    thread_.join();
  }

  std::unique_ptr<testing::TlsClient> open() {
    testing::TlsClientOptions o;
    o.port = listener_->port();
    o.sni = "gw.test.local";
    o.ca_file = pki_.files.root_cert;
    o.timeout = 5s;
    auto c = std::make_unique<testing::TlsClient>(o);
    EXPECT_TRUE(c->connect()) << c->error();
    return c;
  }

  // A WebSocket with subprotocol mqtt, upgraded; the 101 has been read.
  std::unique_ptr<testing::TlsClient> open_websocket() {
    auto c = open();
    EXPECT_TRUE(
        c->write("GET /$iothub/websocket HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"));
    EXPECT_EQ(c->read_until("\r\n\r\n").rfind("HTTP/1.1 101", 0), 0u);
    return c;
  }

  std::uint64_t errors(std::string_view reason) {
    return stats_.protocol_errors.with({reason}).value();
  }

  test::TestPki pki_ = test::make_test_pki_for({});
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  TlsContextStore tls_;
  config::LimitsConfig limits_;
  ConnectionBudget budget_{100};
  ops::Registry metrics_;
  ListenerStats stats_{metrics_};
  std::unique_ptr<Listener> listener_;
  std::thread thread_;
};

TEST_F(HttpsListenerMalformed, UnparsableRequestIsAnswered400AndCounted) {
  auto c = open();
  ASSERT_TRUE(c->write("GET / HTTP/1.1\r\nHost gw\r\n\r\n"));
  const auto reply = c->read_until("}");
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  EXPECT_NE(reply.find(R"("Message":"ErrorCode:BadRequest;malformed HTTP/1.1 request: bad field")"),
            std::string::npos)
      << reply;
  EXPECT_TRUE(c->wait_closed(5s));
  EXPECT_EQ(errors("bad field"), 1u);
}

TEST_F(HttpsListenerMalformed, BodyCutShortIsCountedButAClosedIdleConnectionIsNot) {
  auto idle = open();
  ASSERT_TRUE(idle->write("GET /x HTTP/1.1\r\nHost: gw\r\n\r\n"));
  EXPECT_EQ(idle->read_until("}").rfind("HTTP/1.1 404", 0), 0u);
  idle.reset();  // between two requests: nothing refused

  auto cut = open();
  ASSERT_TRUE(cut->write("POST /x HTTP/1.1\r\nHost: gw\r\nContent-Length: 9\r\n\r\npart"));
  cut.reset();  // four of nine body bytes sent
  for (int i = 0; i < 50 && errors("partial message") == 0; ++i)
    std::this_thread::sleep_for(100ms);
  // One more request answered, so the idle connection's close has long been handled too.
  auto probe = open();
  ASSERT_TRUE(probe->write("GET /x HTTP/1.1\r\nHost: gw\r\n\r\n"));
  EXPECT_EQ(probe->read_until("}").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(errors("partial message"), 1u);
}

TEST_F(HttpsListenerMalformed, HeaderCutOffAtTheDeadlineIsCountedButAnIdleConnectionIsNot) {
  auto idle = open();  // sends nothing: closed at the deadline, nothing refused
  auto slow = open();
  ASSERT_TRUE(slow->write("GET /x HTTP/1.1\r\nHost: gw\r\nX-Slow: "));
  EXPECT_TRUE(slow->wait_closed(5s));
  EXPECT_TRUE(idle->wait_closed(5s));
  // The socket closes under the pending read; the count follows when that read completes.
  for (int i = 0; i < 50 && errors("request timeout") == 0; ++i)
    std::this_thread::sleep_for(100ms);
  auto probe = open();  // answered after both closes were handled
  ASSERT_TRUE(probe->write("GET /x HTTP/1.1\r\nHost: gw\r\n\r\n"));
  EXPECT_EQ(probe->read_until("}").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(errors("request timeout"), 1u);
  EXPECT_EQ(errors("partial message"), 0u);
}

TEST_F(HttpsListenerMalformed, UnmaskedWebSocketFrameIsClosedAtOnceWith1002AndCounted) {
  auto c = open_websocket();
  ASSERT_TRUE(c->write(std::string("\x82\x02\xc0\x00", 4)));  // FIN binary, no mask bit
  const auto reply = c->read_some();
  EXPECT_EQ(reply, std::string("\x88\x02\x03\xea", 4)) << "close frame, code 1002";
  EXPECT_TRUE(c->wait_closed(3s)) << "not held open waiting for a TLS close_notify";
  EXPECT_EQ(errors("The WebSocket frame was unmasked"), 1u);
}

TEST_F(HttpsListenerMalformed, TextWebSocketMessageIsClosedWith1003AndCounted) {
  auto c = open_websocket();
  // FIN text "hi", masked with key 0 (the payload stays readable).
  ASSERT_TRUE(c->write(std::string("\x81\x82\x00\x00\x00\x00hi", 8)));
  const auto reply = c->read_some();
  EXPECT_EQ(reply, std::string("\x88\x02\x03\xeb", 4)) << "close frame, code 1003";
  EXPECT_TRUE(c->wait_closed(3s));
  EXPECT_EQ(errors("WebSocket text frame (MQTT and AMQP need binary frames)"), 1u);
}

}  // namespace
}  // namespace edgehub::net
