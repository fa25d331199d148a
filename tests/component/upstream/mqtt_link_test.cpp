// The native MQTT upstream link (src/upstream/mqtt_link) over real sockets and real TLS: against
// a real mosquitto for acknowledgements and a server that stops answering (SIGSTOP), and against
// the hand-made IoT Hub stand-in (mqtt_standin_server.hpp) for what mosquitto cannot show: how
// many TLS records a burst takes, and a server that breaks the protocol. Deadlines bound the
// waits; no duration is asserted.

#include "upstream/mqtt_link.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <sstream>

#include "component/upstream/mosquitto_broker.hpp"
#include "component/upstream/mqtt_standin_server.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/hub/device_channels.hpp"
#include "edgehub/hub/errors.hpp"
#include "edgehub/upstream/upstream_client.hpp"
#include "support/hub/hub_test_support.hpp"

namespace edgehub::upstream::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* kDeviceKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr const char* kTopic = "devices/gw/messages/events/";

std::vector<std::byte> bytes(const std::string& s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

class MqttLinkTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (link_) link_->shutdown();
    link_.reset();
    ioc_.restart();
    ioc_.poll();
  }

  void dial(std::uint16_t port) {
    options_.iothub_hostname = "myhub.azure-devices.net";
    options_.edge_device_id = "gw";
    options_.dial_host = "localhost";
    options_.port = port;
    options_.trust_bundle = broker_.root_cert();
    options_.device_key = kDeviceKey;
  }

  std::filesystem::path chain() const { return broker_.dir() / "broker.chain.pem"; }
  std::filesystem::path key() const { return broker_.dir() / "broker.key.pem"; }

  void make_link() {
    MqttLink::Callbacks callbacks{
        [this](const core::ClientId&, LinkEvent e) { events_.push_back(e); },
        [](const core::ClientId&, std::string, std::string) {}};
    link_ = MqttLink::create({"gw", ""}, options_, clock_, strand_, std::move(callbacks));
  }

  bool saw(LinkEvent e) const {
    return std::find(events_.begin(), events_.end(), e) != events_.end();
  }
  bool run_until(const std::function<bool()>& done) { return hub::testing::run_until(ioc_, done); }

  // Publishes `n` QoS 1 messages "{prefix}{i}" from one strand handler (one burst) and records
  // each outcome by index.
  void publish_burst(const std::string& prefix, int n, std::vector<int>& acked,
                     std::vector<core::ErrorCode>& failed) {
    asio::post(strand_, [&, prefix, n] {
      for (int i = 0; i < n; ++i) {
        link_->publish(kTopic, bytes(prefix + std::to_string(i)), 1,
                       [&acked, &failed, i](core::ErrorCode ec) {
                         if (ec) {
                           failed.push_back(ec);
                         } else {
                           acked.push_back(i);
                         }
                       });
      }
    });
  }

  MosquittoBroker broker_;  ///< also the TLS certificate of the stand-in
  UpstreamOptions options_;
  core::SystemClock clock_;
  asio::io_context ioc_;
  Strand strand_{asio::make_strand(ioc_.get_executor())};
  std::vector<LinkEvent> events_;
  std::shared_ptr<MqttLink> link_;
};

std::vector<int> zero_to(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = i;
  return v;
}

TEST_F(MqttLinkTest, ABurstOfPublishesGoesOutInAFewTlsRecordsAndEachIsAckedOnceInOrder) {
  MqttStandin hub(chain(), key(), MqttStandin::Behaviour::acknowledge);
  dial(hub.port());
  options_.max_pending_per_connection = 2000;
  make_link();
  constexpr int kBurst = 1000;
  std::vector<int> acked;
  std::vector<core::ErrorCode> failed;
  // The first burst waits for CONNACK, the second goes out on the open connection.
  publish_burst("a", kBurst, acked, failed);
  ASSERT_TRUE(run_until([&] { return acked.size() + failed.size() == kBurst; }));
  std::vector<int> second;
  publish_burst("b", kBurst, second, failed);
  ASSERT_TRUE(run_until([&] { return second.size() + failed.size() == kBurst; }));

  EXPECT_TRUE(failed.empty()) << failed.front().message();
  EXPECT_EQ(acked, zero_to(kBurst)) << "every done once, in publish order";
  EXPECT_EQ(second, zero_to(kBurst));
  std::vector<std::string> expected;
  for (const char* prefix : {"a", "b"})
    for (int i = 0; i < kBurst; ++i)
      expected.push_back(prefix + std::to_string(i));
  EXPECT_EQ(hub.payloads(), expected) << "on the wire in publish order";
  // About 38 bytes a PUBLISH: each burst is ~38 KB, three 16 KiB TLS records when written as one
  // buffer, where a write per message would take a record (and a read here) each.
  EXPECT_LE(hub.publish_reads(), 12u);
  EXPECT_EQ(std::count(events_.begin(), events_.end(), LinkEvent::acked), 2 * kBurst);
  EXPECT_EQ(std::count(events_.begin(), events_.end(), LinkEvent::connected), 1);
  EXPECT_TRUE(link_->quiet());
  EXPECT_TRUE(link_->connected());
}

TEST_F(MqttLinkTest, ABurstAgainstMosquittoIsAckedOnceInOrder) {
  broker_.start();
  dial(broker_.tls_port());
  options_.max_pending_per_connection = 2000;
  make_link();
  constexpr int kBurst = 2000;
  std::vector<int> acked;
  std::vector<core::ErrorCode> failed;
  publish_burst("m", kBurst, acked, failed);
  ASSERT_TRUE(run_until([&] { return acked.size() + failed.size() == kBurst; }));
  EXPECT_TRUE(failed.empty()) << failed.front().message();
  EXPECT_EQ(acked, zero_to(kBurst));
  std::vector<core::ErrorCode> refused;
  asio::post(strand_, [&] {
    for (int i = 0; i <= kBurst; ++i)
      link_->publish(kTopic, bytes("x"), 1, [&](core::ErrorCode ec) {
        if (ec == hub::Errc::queue_full) refused.push_back(ec);
      });
  });
  ASSERT_TRUE(run_until([&] { return !refused.empty(); }))
      << "max_pending_per_connection bounds what waits";
}

TEST_F(MqttLinkTest, AServerThatStopsAnsweringIsDeclaredLostAndWhatWasInFlightFails) {
  broker_.start();
  dial(broker_.tls_port());
  options_.keep_alive = 1s;
  make_link();
  asio::post(strand_, [&] { link_->ensure_connected(); });
  ASSERT_TRUE(run_until([&] { return saw(LinkEvent::connected); }));

  broker_.pause();
  std::vector<core::ErrorCode> outcomes;
  asio::post(strand_, [&] {
    link_->publish(kTopic, bytes("into the void"), 1,
                   [&](core::ErrorCode ec) { outcomes.push_back(ec); });
  });
  // Lost once nothing arrived for 1.5 x keep-alive; run_until's deadline (10 s) is far beyond.
  const bool lost = run_until([&] { return saw(LinkEvent::lost); });
  broker_.resume();
  ASSERT_TRUE(lost) << "no PINGRESP, no PUBACK: the connection is declared lost";
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0], hub::Errc::disconnected);
  EXPECT_TRUE(link_->closed());
  EXPECT_FALSE(saw(LinkEvent::acked));
}

TEST_F(MqttLinkTest, AMalformedPacketFromTheServerClosesTheConnectionWithALogLineAndACount) {
  MqttStandin hub(chain(), key(), MqttStandin::Behaviour::send_malformed);
  dial(hub.port());
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));

  ops::Registry registry;
  hub::DeviceChannels channels(registry);
  auto client = std::make_unique<UpstreamClient>(
      options_, UpstreamDeps{channels, nullptr, nullptr, registry, clock_}, ioc_.get_executor());
  core::Message message;
  message.origin = {"gw", ""};
  message.set_body("hello");
  std::vector<core::ErrorCode> outcomes;
  client->send(std::move(message), [&](core::ErrorCode ec) { outcomes.push_back(ec); });
  auto& errors = registry.counter("edgehubd_upstream_protocol_errors_total", "")
                     .with(std::vector<std::string>{});
  const bool counted = run_until([&] { return errors.value() == 1 && !outcomes.empty(); });
  const bool closed = run_until([&] { return hub.client_closed(); });
  client->stop();
  spdlog::set_default_logger(previous);

  ASSERT_TRUE(counted) << log.str();
  EXPECT_TRUE(closed) << "the client closed the connection";
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0], hub::Errc::disconnected);
  EXPECT_NE(log.str().find("the server sent malformed packet"), std::string::npos) << log.str();
  EXPECT_EQ(errors.value(), 1u);
}

}  // namespace
}  // namespace edgehub::upstream::testing
