// Issue 3 acceptance 1 and 6: the three device-facing TLS listeners, verified by openssl s_client
// against the demo PKI's root; old TLS versions and foreign roots refused; garbage and stalled
// handshakes dropped without affecting others; connection caps; WebSocket dispatch on 443.

#include <signal.h>

#include "integration/tls/tls_fixture.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

RunResult s_client(const TempDir& dir, std::uint16_t port, const std::filesystem::path& ca,
                   std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {"/usr/bin/openssl",
                                   "s_client",
                                   "-connect",
                                   "127.0.0.1:" + std::to_string(port),
                                   "-servername",
                                   kGatewayHost,
                                   "-CAfile",
                                   ca.string(),
                                   "-verify_hostname",
                                   kGatewayHost,
                                   "-verify_return_error",
                                   "-brief"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_command(argv, dir.path(), 20s);
}

TEST_F(TlsGatewayTest, OpensslVerifiesEveryListenerAgainstTheRootAndRefusesOldTlsAndForeignRoots) {
  auto gateway = start_gateway();
  auto other = test::make_test_pki_for({});
  for (auto port : {ports_.mqtt, ports_.amqp, ports_.https}) {
    SCOPED_TRACE("port " + std::to_string(port));
    const auto ok = s_client(dir_, port, pki_.files.root_cert);
    EXPECT_EQ(ok.status, 0) << ok.err << ok.out;
    EXPECT_NE((ok.out + ok.err).find("Verification: OK"), std::string::npos) << ok.err;

    const auto tls11 =
        s_client(dir_, port, pki_.files.root_cert, {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"});
    EXPECT_NE(tls11.status, 0) << "TLS 1.1 must be refused: " << tls11.err;

    const auto foreign = s_client(dir_, port, other.files.root_cert);
    EXPECT_NE(foreign.status, 0) << "a client trusting another root must fail verification";
    EXPECT_NE(foreign.err.find("verify"), std::string::npos) << foreign.err;
  }
  const auto handshakes =
      metric("edgehubd_tls_handshakes_total", {{"listener", "mqtt"}, {"result", "ok"}});
  EXPECT_GE(handshakes.value_or(0), 1.0);
  gateway->signal(SIGTERM);
  EXPECT_EQ(gateway->wait_for(15s), 0);
}

TEST_F(TlsGatewayTest, GarbageAndStalledHandshakesAreDroppedWithoutAffectingOthers) {
  auto gateway = start_gateway("", "tls_handshake_timeout_ms = 1000\n");

  TlsClient stalled(client_options(ports_.mqtt));
  ASSERT_TRUE(stalled.connect_tcp());  // and then says nothing

  TlsClient garbage(client_options(ports_.amqp));
  ASSERT_TRUE(garbage.connect_tcp());
  ASSERT_TRUE(garbage.write_raw(std::string("GET / HTTP/1.0\r\n\r\n") + std::string(512, '\x17')));

  TlsClient good(client_options(ports_.mqtt));
  EXPECT_TRUE(good.connect()) << good.error();
  EXPECT_EQ(good.protocol_version().rfind("TLSv1.", 0), 0u);

  EXPECT_TRUE(garbage.wait_closed(5s)) << "a client sending garbage must be disconnected";
  EXPECT_TRUE(stalled.wait_closed(5s)) << "a stalled handshake must be dropped after the timeout";
  EXPECT_TRUE(gateway->running());

  TlsClient after(client_options(ports_.https));
  EXPECT_TRUE(after.connect()) << after.error();
  EXPECT_GE(metric("edgehubd_tls_handshakes_total", {{"listener", "mqtt"}, {"result", "timeout"}})
                .value_or(0),
            1.0);
  EXPECT_GE(metric("edgehubd_tls_handshakes_total", {{"listener", "amqp"}, {"result", "failed"}})
                .value_or(0),
            1.0);
  gateway->signal(SIGTERM);
  EXPECT_EQ(gateway->wait_for(15s), 0);
}

TEST_F(TlsGatewayTest, ConnectionsBeyondTheCapAreRefusedBeforeTls) {
  auto gateway = start_gateway("", "max_connections = 2\n");
  TlsClient a(client_options(ports_.mqtt)), b(client_options(ports_.amqp)),
      c(client_options(ports_.https));
  ASSERT_TRUE(a.connect()) << a.error();
  ASSERT_TRUE(b.connect()) << b.error();
  ASSERT_TRUE(c.connect_tcp());
  EXPECT_TRUE(c.wait_closed(5s)) << "the third connection must be closed at once";
  EXPECT_EQ(metric("edgehubd_connections_refused_total", {{"reason", "max_connections"}}), 1.0);
  gateway->signal(SIGTERM);
  EXPECT_EQ(gateway->wait_for(15s), 0);
}

std::string upgrade_request(const std::string& path, const std::string& protocol) {
  return "GET " + path +
         " HTTP/1.1\r\nHost: gw.test.local\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Protocol: " +
         protocol + "\r\n\r\n";
}

TEST_F(TlsGatewayTest, WebSocketUpgradesAreDispatchedBySubprotocolAndOtherRequestsGetIotHubErrors) {
  auto gateway = start_gateway();
  struct Case {
    std::string path, protocol, expect_status, expect_echo;
  };
  const Case cases[] = {
      {"/$iothub/websocket", "mqtt", "101", "Sec-WebSocket-Protocol: mqtt"},
      {"/$iothub/websocket?iothub-no-client-cert=true", "MQTT", "101",
       "Sec-WebSocket-Protocol: MQTT"},
      {"/$iothub/websocket", "AMQPWSB10", "101", "Sec-WebSocket-Protocol: AMQPWSB10"},
      {"/$iothub/websocket", "chat, mqtt", "101", "Sec-WebSocket-Protocol: mqtt"},
      {"/$iothub/websocket", "stomp", "400", "ErrorCode:BadRequest"},
      {"/elsewhere", "mqtt", "404", "ErrorCode:NotFound"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path + " / " + c.protocol);
    TlsClient client(client_options(ports_.https));
    ASSERT_TRUE(client.connect()) << client.error();
    ASSERT_TRUE(client.write(upgrade_request(c.path, c.protocol)));
    const auto reply = client.read_until("\r\n\r\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 " + c.expect_status, 0), 0u) << reply;
    auto full = reply;
    if (c.expect_status != "101") full += client.read_until("}");
    EXPECT_NE(full.find(c.expect_echo), std::string::npos) << full;
  }

  TlsClient plain(client_options(ports_.https));
  ASSERT_TRUE(plain.connect());
  ASSERT_TRUE(plain.write("GET /no/such/resource HTTP/1.1\r\nHost: gw\r\n\r\n"));
  auto reply = plain.read_until("}");
  EXPECT_EQ(reply.rfind("HTTP/1.1 404", 0), 0u) << reply;
  EXPECT_NE(reply.find("application/json"), std::string::npos);
  EXPECT_NE(reply.find(R"("Message":"ErrorCode:NotFound;)"), std::string::npos) << reply;
  // Keep-alive: the same connection serves a second request.
  ASSERT_TRUE(plain.write("GET /other HTTP/1.1\r\nHost: gw\r\n\r\n"));
  reply = plain.read_until("}");
  EXPECT_EQ(reply.rfind("HTTP/1.1 404", 0), 0u) << reply;

  TlsClient huge(client_options(ports_.https));
  ASSERT_TRUE(huge.connect());
  ASSERT_TRUE(huge.write("GET / HTTP/1.1\r\nHost: gw\r\nX-Filler: " + std::string(20000, 'a') +
                         "\r\n\r\n"));
  reply = huge.read_until("}");
  EXPECT_EQ(reply.rfind("HTTP/1.1 431", 0), 0u) << reply;

  EXPECT_EQ(metric("edgehubd_websocket_upgrades_total",
                   {{"subprotocol", "mqtt"}, {"result", "accepted"}}),
            3.0);
  gateway->signal(SIGTERM);
  EXPECT_EQ(gateway->wait_for(15s), 0);
}

TEST_F(TlsGatewayTest, SlowLorisHttpHeadersAreTimedOut) {
  auto gateway = start_gateway();
  TlsClient slow(client_options(ports_.https));
  ASSERT_TRUE(slow.connect());
  ASSERT_TRUE(slow.write("GET / HTTP/1.1\r\nHost: gw\r\n"));  // never finishes the header
  EXPECT_TRUE(slow.wait_closed(15s))
      << "an unfinished header must be cut off at the header deadline";
  gateway->signal(SIGTERM);
  EXPECT_EQ(gateway->wait_for(15s), 0);
}

}  // namespace
}  // namespace edgehub::testing
