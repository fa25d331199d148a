// Issue 12: kill -9 edgehubd under QoS 1 load, round after round, and lose no PUBACKed message.
// Two devices publish pipelined QoS 1 telemetry with a per-device sequence number; a route sends
// every message to the input of a module whose client drains it concurrently. After each restart
// every message acknowledged so far must have reached the module (from the store), and each
// device's messages must arrive in the order they were sent. Duplicates are allowed (QoS 1).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "integration/mqtt_malformed/gateway_under_test.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;
namespace proto = mqtt_proto;

#if defined(__SANITIZE_ADDRESS__)
// Under ASan+UBSan a daemon start costs several times more; fewer rounds keep the test short.
constexpr int kRounds = 6;
#else
constexpr int kRounds = 20;
#endif
constexpr int kPublishers = 2;
constexpr int kWindow = 16;  // QoS 1 PUBLISHes written before waiting for their PUBACKs

std::vector<proto::Packet> decode_all(proto::Decoder& decoder, const std::string& chunk) {
  std::vector<proto::Packet> out;
  decoder.feed(std::span(reinterpret_cast<const std::byte*>(chunk.data()), chunk.size()));
  for (;;) {
    auto next = decoder.next();
    if (!next || !*next) break;
    out.push_back(std::move(**next));
  }
  return out;
}

/// What the module received, in arrival order, shared with the main thread.
struct Deliveries {
  std::mutex mutex;
  std::vector<std::string> bodies;
  std::set<std::string> distinct;

  void add(std::string body) {
    std::lock_guard lock(mutex);
    distinct.insert(body);
    bodies.push_back(std::move(body));
  }
  bool contains_all(const std::set<std::string>& wanted) {
    std::lock_guard lock(mutex);
    for (const auto& w : wanted) {
      if (!distinct.contains(w)) return false;
    }
    return true;
  }
};

/// Connects the module, subscribes to its inputs and acknowledges every delivery until the
/// connection ends.
void run_sink(GatewayUnderTest& gw, Deliveries& out, std::atomic<bool>& subscribed) {
  auto sink = connect_mqtt(gw, sas_connect("gw", "sink", 0));
  if (!sink) return;
  proto::Subscribe s;
  s.packet_id = 1;
  s.subscriptions = {{"devices/gw/modules/sink/inputs/#", proto::QoS::at_least_once}};
  if (!sink->write(encoded(s))) return;
  proto::Decoder decoder(1024 * 1024);
  for (;;) {
    const auto chunk = sink->read_some();
    if (chunk.empty()) return;
    for (auto& packet : decode_all(decoder, chunk)) {
      if (std::holds_alternative<proto::Suback>(packet)) subscribed = true;
      if (auto* pub = std::get_if<proto::Publish>(&packet)) {
        out.add(
            std::string(reinterpret_cast<const char*>(pub->payload.data()), pub->payload.size()));
        if (pub->qos == proto::QoS::at_least_once &&
            !sink->write(encoded(proto::Puback{pub->packet_id}))) {
          return;
        }
      }
    }
  }
}

struct Publisher {
  std::string device;
  std::uint64_t next_seq = 0;
  std::set<std::string> acknowledged;  // bodies the gateway PUBACKed

  static std::string body(const std::string& device, std::uint64_t seq) {
    return device + ":" + std::to_string(seq);
  }

  /// Publishes windows of QoS 1 messages until the connection breaks (the kill).
  void run(GatewayUnderTest& gw) {
    auto c = connect_mqtt(gw, sas_connect(device, "", 0));
    if (!c) return;
    proto::Decoder decoder(1024 * 1024);
    for (;;) {
      std::map<std::uint16_t, std::uint64_t> window;  // packet id -> seq
      std::string batch;
      for (int i = 0; i < kWindow; ++i) {
        const auto seq = next_seq++;
        const auto id = static_cast<std::uint16_t>(seq % 65535 + 1);
        window[id] = seq;
        batch += telemetry(device, id, body(device, seq));
      }
      if (!c->write(batch)) return;
      while (!window.empty()) {
        const auto chunk = c->read_some();
        if (chunk.empty()) return;
        for (auto& packet : decode_all(decoder, chunk)) {
          if (auto* ack = std::get_if<proto::Puback>(&packet)) {
            if (auto it = window.find(ack->packet_id); it != window.end()) {
              acknowledged.insert(body(device, it->second));
              window.erase(it);
            }
          }
        }
      }
    }
  }
};

TEST(MqttKill9, NoAcknowledgedMessageIsLostAcrossRepeatedSigkills) {
  GatewayUnderTestOptions o;
  for (int i = 0; i < kPublishers; ++i)
    o.identities += sas_device_entry("pub" + std::to_string(i));
  o.identities += std::string("[[module]]\nid = \"sink\"\nprimary_key = \"") + kTestKey + "\"\n";
  o.tail =
      "[gateway.routes]\nsink = \"FROM /messages/* INTO "
      "BrokeredEndpoint(\\\"/modules/sink/inputs/in\\\")\"\n";
  GatewayUnderTest gw(std::move(o));

  std::vector<Publisher> publishers;
  publishers.resize(kPublishers);
  for (int i = 0; i < kPublishers; ++i)
    publishers[i].device = "pub" + std::to_string(i);
  Deliveries delivered;
  std::mt19937 random(12);
  std::uniform_int_distribution<int> load_ms(300, 900);

  auto all_acknowledged = [&] {
    std::set<std::string> all;
    for (const auto& p : publishers)
      all.insert(p.acknowledged.begin(), p.acknowledged.end());
    return all;
  };

  for (int round = 0; round <= kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    if (round > 0) {
      ASSERT_TRUE(gw.start()) << gw.process().stderr_text();
    }
    std::atomic<bool> subscribed{false};
    std::thread sink([&] { run_sink(gw, delivered, subscribed); });
    // Everything acknowledged before the last kill must come back from the store.
    const auto wanted = all_acknowledged();
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!delivered.contains_all(wanted) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_TRUE(delivered.contains_all(wanted))
        << "a PUBACKed message was lost by the kill before round " << round;
    if (round == kRounds) {
      gw.process().signal(SIGTERM);
      EXPECT_EQ(gw.process().wait_for(20s), 0);
      sink.join();
      break;
    }
    std::vector<std::thread> load;
    for (auto& p : publishers)
      load.emplace_back([&gw, &p] { p.run(gw); });
    std::this_thread::sleep_for(std::chrono::milliseconds(load_ms(random)));
    gw.process().signal(SIGKILL);
    ASSERT_TRUE(gw.process().wait_for(10s).has_value());
    for (auto& t : load)
      t.join();
    sink.join();
  }

  // Order per publisher: the first arrival of each message follows the send order.
  std::size_t acknowledged = 0;
  for (const auto& p : publishers)
    acknowledged += p.acknowledged.size();
  std::map<std::string, std::int64_t> last_seq;
  std::set<std::string> seen;
  std::size_t duplicates = 0;
  for (const auto& body : delivered.bodies) {
    if (!seen.insert(body).second) {
      ++duplicates;
      continue;
    }
    const auto colon = body.find(':');
    const auto device = body.substr(0, colon);
    const auto seq = std::stoll(body.substr(colon + 1));
    auto [it, fresh] = last_seq.try_emplace(device, -1);
    EXPECT_GT(seq, it->second) << body << " arrived after a later message of " << device;
    it->second = seq;
  }
  std::cout << "[ kill -9 ] rounds=" << kRounds << " acknowledged=" << acknowledged
            << " recovered=" << seen.size() << " duplicates=" << duplicates << "\n";
  EXPECT_GT(acknowledged, static_cast<std::size_t>(kRounds)) << "the load acknowledged messages";
  EXPECT_GE(seen.size(), acknowledged);
}

}  // namespace
}  // namespace edgehub::testing
