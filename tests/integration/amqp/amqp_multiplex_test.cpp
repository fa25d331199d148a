// Issue 7: one AMQP connection carries many identities (iot-hub-protocol.md §3.2, design §5):
// a thousand devices authenticated by CBS on one connection each send telemetry on their own
// link; and a token's expiry ends only that identity's links, not the connection.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "integration/amqp/amqp_fixture.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

// Under ASan the count is smaller so that the test stays within seconds (see CMakeLists.txt).
#ifndef EDGEHUB_AMQP_TEST_IDENTITIES
#define EDGEHUB_AMQP_TEST_IDENTITIES 1000
#endif
constexpr int kIdentities = EDGEHUB_AMQP_TEST_IDENTITIES;
constexpr int kMessagesPerIdentity = 5;
constexpr std::size_t kLinksPerWave = 200;

class AmqpMultiplex : public AmqpGatewayTest {};

TEST_F(AmqpMultiplex, AThousandIdentitiesOnOneConnectionEachSendAndEveryMessageIsAccepted) {
  std::vector<std::string> devices;
  for (int i = 0; i < kIdentities; ++i)
    devices.push_back("m" + std::to_string(i));
  start(devices);
  auto c = client();
  ASSERT_TRUE(c->open()) << c->error() << "\n" << gateway_->stderr_text();
  c->attach_cbs();

  // Put-tokens are pipelined, as a field gateway multiplexing its devices would send them.
  std::vector<std::string> requests;
  for (const auto& d : devices)
    requests.push_back(c->send_put_token(audience_of(d), sas_token(d)));
  int authorized = 0;
  for (const auto& r : requests) {
    const auto reply = c->cbs_reply(r);
    ASSERT_TRUE(reply) << r << ": " << c->error() << "\n" << gateway_->stderr_text();
    if (reply->status == 200) ++authorized;
  }
  EXPECT_EQ(authorized, kIdentities);

  // Each identity sends on its own link. The gateway bounds the links of one connection
  // (docs/amqp.md), so the links come and go in waves while all identities stay authorised.
  std::vector<int> deliveries;
  const auto started = std::chrono::steady_clock::now();
  for (std::size_t first = 0; first < devices.size(); first += kLinksPerWave) {
    const auto last = std::min(devices.size(), first + kLinksPerWave);
    std::vector<int> links;
    for (auto i = first; i < last; ++i)
      links.push_back(c->attach_sender("/devices/" + devices[i] + "/messages/events"));
    for (auto i = first; i < last; ++i) {
      ASSERT_TRUE(c->wait_attached(links[i - first]))
          << devices[i] << ": " << c->link_error(links[i - first]) << "\n"
          << gateway_->stderr_text();
    }
    for (int n = 0; n < kMessagesPerIdentity; ++n) {
      for (auto i = first; i < last; ++i) {
        proton::message m(proton::binary("{\"n\":" + std::to_string(n) + "}"));
        m.id(devices[i] + "-" + std::to_string(n));
        m.properties().put("seq", std::to_string(n));
        deliveries.push_back(c->send(links[i - first], m));
      }
    }
    ASSERT_TRUE(c->wait_all_outcomes()) << c->error() << "\n" << gateway_->stderr_text();
    for (const auto link : links)
      c->detach(link);
    for (const auto link : links)
      ASSERT_TRUE(c->wait_link_closed(link)) << c->error();
  }
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
  int accepted = 0;
  for (const auto d : deliveries) {
    if (c->outcome(d) == Outcome::accepted) ++accepted;
  }
  EXPECT_EQ(accepted, kIdentities * kMessagesPerIdentity);
  std::printf(
      "AMQP multiplexed: %d identities x %d messages on one connection (links attached in "
      "waves of %zu) accepted in %.3f s "
      "= %.0f messages/s\n",
      kIdentities, kMessagesPerIdentity, kLinksPerWave, elapsed.count(),
      kIdentities * kMessagesPerIdentity / elapsed.count());
  c->close();
}

TEST_F(AmqpMultiplex, AnExpiredTokenClosesThatIdentitysLinksWhileAnotherIdentityContinues) {
  start({"short", "long"});
  auto c = client();
  ASSERT_TRUE(c->open()) << c->error();
  c->attach_cbs();
  const auto short_reply = c->put_token(audience_of("short"), sas_token("short", "", 3s));
  const auto long_reply = c->put_token(audience_of("long"), sas_token("long"));
  ASSERT_TRUE(short_reply && long_reply) << c->error();
  ASSERT_EQ(short_reply->status, 200) << short_reply->description;
  ASSERT_EQ(long_reply->status, 200) << long_reply->description;

  const auto short_events = c->attach_sender("/devices/short/messages/events");
  const auto short_c2d = c->attach_receiver("/devices/short/messages/devicebound");
  const auto long_events = c->attach_sender("/devices/long/messages/events");
  ASSERT_TRUE(c->wait_attached(short_events)) << c->link_error(short_events);
  ASSERT_TRUE(c->wait_attached(short_c2d)) << c->link_error(short_c2d);
  ASSERT_TRUE(c->wait_attached(long_events)) << c->link_error(long_events);

  // The gateway detaches both of short's links when its token expires; the TLS read timeout
  // (10 s) bounds the wait.
  ASSERT_TRUE(c->wait_link_closed(short_events)) << c->error() << "\n" << gateway_->stderr_text();
  ASSERT_TRUE(c->wait_link_closed(short_c2d)) << c->error();
  EXPECT_EQ(c->link_error_name(short_events), "amqp:unauthorized-access")
      << c->link_error(short_events);
  EXPECT_TRUE(c->is_open()) << c->error();
  EXPECT_FALSE(c->link_closed(long_events));

  proton::message m(proton::binary(std::string("still here")));
  const auto d = c->send(long_events, m);
  ASSERT_TRUE(c->wait_outcome(d)) << c->error();
  EXPECT_EQ(c->outcome(d), Outcome::accepted);

  // short cannot attach again until it renews; a renewed token lets it back in.
  const auto refused = c->attach_sender("/devices/short/messages/events");
  EXPECT_FALSE(c->wait_attached(refused));
  const auto renewed = c->put_token(audience_of("short"), sas_token("short"));
  ASSERT_TRUE(renewed) << c->error();
  EXPECT_EQ(renewed->status, 200);
  expect_telemetry_accepted(*c, "short");
}

}  // namespace
}  // namespace edgehub::testing
