// Issue 12: resource abuse over the MQTT listener. A connection flood beyond max_connections is
// refused before any TLS work and counted; a stalled TLS handshake is closed at the handshake
// deadline; oversized messages are refused as docs/mqtt.md says; a subscriber that never reads and
// a stream of tiny messages leave the daemon's memory bounded (RSS from /proc). In every case a
// client connected beforehand keeps publishing and getting PUBACKs.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "integration/mqtt_malformed/gateway_under_test.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;
namespace proto = mqtt_proto;

#if defined(__SANITIZE_ADDRESS__)
// ASan keeps freed memory in quarantine (256 MB by default) before reuse, so RSS grows with the
// number of allocations rather than with live data; the bound has to allow for it.
constexpr long kRssGrowthBoundKb = 400 * 1024;
// Every allocation costs several times more under ASan: fewer messages keep the test short.
constexpr int kScale = 4;
#else
constexpr long kRssGrowthBoundKb = 64 * 1024;
constexpr int kScale = 1;
#endif

std::string identities() {
  return sas_device_entry("dev1") + sas_device_entry("dev2") +
         "[[module]]\nid = \"sink\"\nprimary_key = \"" + kTestKey + "\"\n";
}

/// Publishes `count` QoS 1 messages of `body_bytes` in windows of `window`; returns how many were
/// acknowledged.
int publish_many(TlsClient& c, const std::string& device, int count, std::size_t body_bytes,
                 int window) {
  proto::Decoder decoder(1024 * 1024);
  int acknowledged = 0;
  std::uint16_t next_id = 1;
  for (int sent = 0; sent < count;) {
    std::string batch;
    int in_batch = 0;
    for (; in_batch < window && sent < count; ++in_batch, ++sent) {
      batch += telemetry(device, next_id, std::string(body_bytes, 'x'));
      if (++next_id == 0) next_id = 1;
    }
    if (!c.write(batch)) return acknowledged;
    for (int got = 0; got < in_batch;) {
      const auto chunk = c.read_some();
      if (chunk.empty()) return acknowledged;
      decoder.feed(std::span(reinterpret_cast<const std::byte*>(chunk.data()), chunk.size()));
      for (;;) {
        auto next = decoder.next();
        if (!next || !*next) break;
        if (std::holds_alternative<proto::Puback>(**next)) {
          ++got;
          ++acknowledged;
        }
      }
    }
  }
  return acknowledged;
}

TEST(ResourceAbuse, ConnectionFloodBeyondMaxConnectionsIsRefusedBeforeTls) {
  constexpr int kMax = 16;
  constexpr int kFlood = 40;
  GatewayUnderTestOptions o;
  o.identities = identities();
  o.limits = "max_connections = " + std::to_string(kMax) + "\n";
  GatewayUnderTest gw(std::move(o));
  WitnessClient witness(gw, "dev2");
  ASSERT_TRUE(witness.connected());

  const std::map<std::string, std::string> refused_labels{{"listener", "mqtt"},
                                                          {"reason", "max_connections"}};
  const auto refused_before = gw.metric("edgehubd_connections_refused_total", refused_labels);
  const auto handshakes_before = gw.metric("edgehubd_tls_handshakes_total", {{"listener", "mqtt"}});
  std::vector<std::unique_ptr<TlsClient>> flood;
  int admitted = 0;
  for (int i = 0; i < kFlood; ++i) {
    auto c = std::make_unique<TlsClient>(gw.client_options(gw.ports().mqtt));
    if (c->connect()) {
      ++admitted;
      flood.push_back(std::move(c));
    }
  }
  EXPECT_EQ(admitted, kMax - 1) << "the witness holds one of the max_connections slots";
  EXPECT_EQ(gw.metric("edgehubd_connections_refused_total", refused_labels),
            refused_before + (kFlood - admitted));
  EXPECT_EQ(gw.metric("edgehubd_tls_handshakes_total", {{"listener", "mqtt"}}),
            handshakes_before + admitted)
      << "a refused connection costs no TLS handshake";
  EXPECT_TRUE(witness.check()) << "the connected client is unaffected by the flood";

  // The slots come back when the flood goes away.
  flood.clear();
  std::unique_ptr<TlsClient> again;
  for (auto until = std::chrono::steady_clock::now() + 10s;
       !again && std::chrono::steady_clock::now() < until;) {
    again = connect_mqtt(gw, sas_connect("dev1", "", 0));
    if (!again) std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(again, nullptr) << "capacity is released after the flood";
  EXPECT_TRUE(witness.check());
}

TEST(ResourceAbuse, StalledTlsHandshakesAreClosedAtTheDeadline) {
  GatewayUnderTestOptions o;
  o.identities = identities();
  o.limits = "tls_handshake_timeout_ms = 800\n";
  GatewayUnderTest gw(std::move(o));
  WitnessClient witness(gw, "dev2");
  ASSERT_TRUE(witness.connected());
  const std::map<std::string, std::string> timeout_labels{{"listener", "mqtt"},
                                                          {"result", "timeout"}};
  const auto before = gw.metric("edgehubd_tls_handshakes_total", timeout_labels);

  // Silent TCP connections and one that stops in the middle of its ClientHello record.
  std::vector<std::unique_ptr<TlsClient>> stalled;
  for (int i = 0; i < 8; ++i) {
    auto c = std::make_unique<TlsClient>(gw.client_options(gw.ports().mqtt));
    ASSERT_TRUE(c->connect_tcp());
    stalled.push_back(std::move(c));
  }
  ASSERT_TRUE(stalled.back()->write_raw(hex("16 03 01 02 00 01 00 01 fc 03 03")));
  for (auto& c : stalled)
    EXPECT_TRUE(c->wait_closed(10s)) << "the gateway closes a handshake that does not finish";
  EXPECT_EQ(gw.metric("edgehubd_tls_handshakes_total", timeout_labels), before + 8);
  EXPECT_TRUE(witness.check());
}

TEST(ResourceAbuse, OversizedMessagesAreRefusedAsDocumented) {
  GatewayUnderTestOptions o;
  o.identities = identities();
  o.limits = "max_message_bytes = 4096\n";
  GatewayUnderTest gw(std::move(o));
  WitnessClient witness(gw, "dev2");
  ASSERT_TRUE(witness.connected());

  // Within the limit: acknowledged.
  auto c = connect_mqtt(gw, sas_connect("dev1", "", 0));
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->write(telemetry("dev1", 1, std::string(4000, 'x'))));
  EXPECT_NE(c->read_until(puback(1)).find(puback(1)), std::string::npos);

  // A payload over max_message_bytes: refused by the codec, the connection closed, no PUBACK.
  const std::map<std::string, std::string> too_large{
      {"reason", "packet exceeds the maximum packet size"}};
  auto before = gw.metric("edgehubd_mqtt_protocol_errors_total", too_large);
  ASSERT_TRUE(c->write(telemetry("dev1", 2, std::string(4097, 'x'))));
  EXPECT_EQ(read_to_close(*c), "");
  EXPECT_EQ(gw.metric("edgehubd_mqtt_protocol_errors_total", too_large), before + 1);

  // IoT Hub's size rule counts properties too: a body within the limit plus a 200-byte
  // application property is over it. The hub refuses it, the session closes without a PUBACK.
  c = connect_mqtt(gw, sas_connect("dev1", "", 0));
  ASSERT_NE(c, nullptr);
  before = gw.metric("edgehubd_mqtt_refused_total", {{"reason", "rejected"}});
  proto::Publish p;
  p.qos = proto::QoS::at_least_once;
  p.packet_id = 3;
  p.topic = "devices/dev1/messages/events/big=" + std::string(200, 'y');
  p.payload.assign(4000, std::byte{'x'});
  ASSERT_TRUE(c->write(encoded(p)));
  EXPECT_EQ(read_to_close(*c), "");
  EXPECT_EQ(gw.metric("edgehubd_mqtt_refused_total", {{"reason", "rejected"}}), before + 1);
  EXPECT_NE(gw.process().stderr_text().find("refused: the limit is 4096"), std::string::npos);
  EXPECT_TRUE(witness.check());
}

TEST(ResourceAbuse, ASubscriberThatNeverReadsDoesNotGrowTheDaemon) {
  GatewayUnderTestOptions o;
  o.identities = identities();
  o.tail =
      "[gateway.routes]\nsink = \"FROM /messages/* INTO "
      "BrokeredEndpoint(\\\"/modules/sink/inputs/in\\\")\"\n";
  GatewayUnderTest gw(std::move(o));
  WitnessClient witness(gw, "dev2");
  ASSERT_TRUE(witness.connected());

  auto sink = connect_mqtt(gw, sas_connect("gw", "sink", 0));
  ASSERT_NE(sink, nullptr);
  proto::Subscribe s;
  s.packet_id = 1;
  s.subscriptions = {{"devices/gw/modules/sink/inputs/#", proto::QoS::at_least_once}};
  ASSERT_TRUE(sink->write(encoded(s)));
  // From here on the sink reads nothing.

  auto device = connect_mqtt(gw, sas_connect("dev1", "", 0));
  ASSERT_NE(device, nullptr);
  ASSERT_EQ(publish_many(*device, "dev1", 100, 8 * 1024, 50), 100);  // warm-up
  const auto rss_before = gw.rss_kb();
  constexpr int kMessages = 2000 / kScale;  // 16 MB (release) for a module that does not read
  EXPECT_EQ(publish_many(*device, "dev1", kMessages, 8 * 1024, 50), kMessages)
      << "the store absorbs what the subscriber does not take; the device is not held up";
  const auto rss_after = gw.rss_kb();
  std::cout << "[ non-reading subscriber ] RSS before=" << rss_before << " kB after=" << rss_after
            << " kB for " << kMessages << " x 8 KiB\n";
  EXPECT_LT(rss_after - rss_before, kRssGrowthBoundKb);
  EXPECT_GT(gw.metric("edgehub_queue_length"), 0) << "the messages wait in the store";
  EXPECT_TRUE(witness.check());
}

TEST(ResourceAbuse, ManyTinyMessagesDoNotGrowTheDaemon) {
  GatewayUnderTestOptions o;
  o.identities = identities();
  GatewayUnderTest gw(std::move(o));
  WitnessClient witness(gw, "dev2");
  ASSERT_TRUE(witness.connected());
  auto device = connect_mqtt(gw, sas_connect("dev1", "", 0));
  ASSERT_NE(device, nullptr);
  ASSERT_EQ(publish_many(*device, "dev1", 500, 1, 100), 500);  // warm-up
  const auto rss_before = gw.rss_kb();
  // make test sends 20,000; the issue's "millions" run is
  // ABUSE_TINY_MESSAGES=1000000 abuse_tests --gtest_filter='*ManyTiny*' (docs/security.md).
  const char* override_count = std::getenv("ABUSE_TINY_MESSAGES");
  const int kMessages = override_count ? std::atoi(override_count) : 20000 / kScale;
  EXPECT_EQ(publish_many(*device, "dev1", kMessages, 1, 100), kMessages);
  const auto rss_after = gw.rss_kb();
  std::cout << "[ tiny messages ] RSS before=" << rss_before << " kB after=" << rss_after
            << " kB for " << kMessages << " x 1 byte\n";
  EXPECT_LT(rss_after - rss_before, kRssGrowthBoundKb);
  EXPECT_TRUE(witness.check());
}

}  // namespace
}  // namespace edgehub::testing
