// Issue 3 acceptance 2: with a short server-certificate validity, a handshake after renewal sees
// a new serial while a connection opened before renewal keeps working.

#include <signal.h>

#include <thread>

#include "integration/tls/tls_fixture.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

TEST_F(TlsGatewayTest, RenewedCertificateServesNewHandshakesWhileOldConnectionsStayUp) {
  // 20 s validity: renewal at 80%, i.e. 16 s after issuance.
  auto gateway = start_gateway("server_cert_validity_secs = 20\n");

  TlsClient before(client_options(ports_.https));
  ASSERT_TRUE(before.connect()) << before.error();
  const auto first_serial = before.peer_serial();
  ASSERT_FALSE(first_serial.empty());
  ASSERT_TRUE(before.write("GET /a HTTP/1.1\r\nHost: gw\r\n\r\n"));
  ASSERT_NE(before.read_until("}").find("HTTP/1.1 404"), std::string::npos);

  std::string renewed_serial;
  const auto deadline = std::chrono::steady_clock::now() + 40s;
  int requests_on_old_connection = 1;
  while (std::chrono::steady_clock::now() < deadline) {
    // Keep the pre-renewal connection busy (an idle HTTP connection is closed after 10 s).
    ASSERT_TRUE(before.write("GET /keep HTTP/1.1\r\nHost: gw\r\n\r\n"));
    ASSERT_NE(before.read_until("}").find("HTTP/1.1 404"), std::string::npos);
    ++requests_on_old_connection;
    TlsClient probe(client_options(ports_.mqtt));
    ASSERT_TRUE(probe.connect()) << probe.error();
    if (probe.peer_serial() != first_serial) {
      renewed_serial = probe.peer_serial();
      break;
    }
    std::this_thread::sleep_for(500ms);
  }
  ASSERT_FALSE(renewed_serial.empty()) << "no renewal observed\n" << gateway->stderr_text();
  EXPECT_NE(renewed_serial, first_serial);

  // The connection from before the renewal still works on its old TLS context.
  ASSERT_TRUE(before.write("GET /b HTTP/1.1\r\nHost: gw\r\n\r\n"));
  EXPECT_NE(before.read_until("}").find("HTTP/1.1 404"), std::string::npos);
  EXPECT_EQ(before.peer_serial(), first_serial);
  EXPECT_GT(requests_on_old_connection, 2);

  // And the renewed certificate is persisted: a restart reuses it.
  gateway->signal(SIGTERM);
  ASSERT_EQ(gateway->wait_for(15s), 0);
  EXPECT_NE(read_file(dir_ / "state/certs/server.cert.pem").size(), 0u);
}

}  // namespace
}  // namespace edgehub::testing
