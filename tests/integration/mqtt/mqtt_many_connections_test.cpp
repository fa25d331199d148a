// Issue 6: 1,000 concurrent TLS connections from one process, each a different device that
// publishes once at QoS 1: every PUBLISH is acknowledged (after the store commit) and every
// message is delivered, by route, to a module's input.

#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <set>

#include "edgehub/identity/sas_token.hpp"
#include "edgehub/mqtt_proto/codec.hpp"
#include "integration/mqtt/mqtt_test_client.hpp"
#include "integration/tls/tls_fixture.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;
namespace proto = mqtt_proto;

constexpr int kDevices = 1000;

class ManyConnections : public TlsGatewayTest {};

TEST_F(ManyConnections, AThousandDevicesPublishOnceAndEveryMessageIsAcknowledgedAndDelivered) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;  // the child inherits it too
  setrlimit(RLIMIT_NOFILE, &limit);
  ASSERT_GE(limit.rlim_cur, static_cast<rlim_t>(2 * kDevices + 100));

  std::string identities;
  for (int i = 0; i < kDevices; ++i) {
    identities += "[[device]]\nid = \"d" + std::to_string(i) +
                  "\"\nauth = \"sas\"\nprimary_key = \"" + kTestKey + "\"\n";
  }
  identities += std::string("[[module]]\nid = \"sink\"\nprimary_key = \"") + kTestKey + "\"\n";
  test::write_file(dir_ / "identities.toml", identities, std::filesystem::perms(0600));
  auto gateway =
      start_gateway("identities = \"file://" + (dir_ / "identities.toml").string() + "\"\n",
                    "max_connections = 2000\nmax_connections_per_listener = 2000\n");
  // The route arrives by a live reload (SIGHUP), which exercises route reloading on the way.
  {
    auto text = read_file(dir_ / "config.toml");
    text +=
        "[gateway.routes]\nall = \"FROM /messages/* INTO "
        "BrokeredEndpoint(\\\"/modules/sink/inputs/in\\\")\"\n";
    write_file(dir_ / "config.toml", text);
    gateway->signal(SIGHUP);
    ASSERT_TRUE(notify_.wait_for("READY=1", 10s));
  }

  std::vector<std::unique_ptr<TlsClient>> devices;
  devices.reserve(kDevices);
  for (int i = 0; i < kDevices; ++i) {
    auto c = std::make_unique<TlsClient>(client_options(ports_.mqtt));
    ASSERT_TRUE(c->connect()) << i << ": " << c->error();
    ASSERT_TRUE(c->write(encoded(sas_connect("d" + std::to_string(i), "", 120))));
    devices.push_back(std::move(c));
  }
  const std::string connack("\x20\x02\x00\x00", 4);
  for (int i = 0; i < kDevices; ++i) {
    ASSERT_NE(devices[i]->read_until(connack).find(connack), std::string::npos) << "device " << i;
  }
  // All 1,000 are connected at once; now each publishes one QoS 1 message.
  for (int i = 0; i < kDevices; ++i) {
    proto::Publish p;
    p.qos = proto::QoS::at_least_once;
    p.packet_id = 1;
    p.topic = "devices/d" + std::to_string(i) + "/messages/events/n=" + std::to_string(i);
    const auto body = std::to_string(i);
    p.payload.assign(reinterpret_cast<const std::byte*>(body.data()),
                     reinterpret_cast<const std::byte*>(body.data()) + body.size());
    ASSERT_TRUE(devices[i]->write(encoded(p)));
  }
  const std::string puback("\x40\x02\x00\x01", 4);
  int acknowledged = 0;
  for (int i = 0; i < kDevices; ++i) {
    if (devices[i]->read_until(puback).find(puback) != std::string::npos) ++acknowledged;
  }
  EXPECT_EQ(acknowledged, kDevices);

  // The module receives all of them from the store.
  TlsClient module(client_options(ports_.mqtt));
  ASSERT_TRUE(module.connect());
  ASSERT_TRUE(module.write(encoded(sas_connect("gw", "sink", 120))));
  ASSERT_NE(module.read_until(connack).find(connack), std::string::npos);
  proto::Subscribe s;
  s.packet_id = 1;
  s.subscriptions = {{"devices/gw/modules/sink/inputs/#", proto::QoS::at_least_once}};
  ASSERT_TRUE(module.write(encoded(s)));
  proto::Decoder decoder(1024 * 1024);
  std::set<std::string> bodies;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (static_cast<int>(bodies.size()) < kDevices &&
         std::chrono::steady_clock::now() < deadline) {
    const auto chunk = module.read_some();
    if (chunk.empty()) break;
    decoder.feed(std::span(reinterpret_cast<const std::byte*>(chunk.data()), chunk.size()));
    for (;;) {
      auto next = decoder.next();
      ASSERT_TRUE(next) << next.error().message();
      if (!*next) break;
      if (auto* pub = std::get_if<proto::Publish>(&**next)) {
        bodies.insert(
            std::string(reinterpret_cast<const char*>(pub->payload.data()), pub->payload.size()));
        ASSERT_TRUE(module.write(encoded(proto::Puback{pub->packet_id})));
      }
    }
  }
  EXPECT_EQ(static_cast<int>(bodies.size()), kDevices) << "every message delivered to the module";
  gateway->signal(SIGTERM);
  EXPECT_EQ(gateway->wait_for(30s), 0);
}

}  // namespace
}  // namespace edgehub::testing
