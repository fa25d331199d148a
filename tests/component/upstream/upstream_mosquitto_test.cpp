// The $upstream endpoint end to end against a real mosquitto standing in for IoT Hub's MQTT
// endpoint: real TLS (test PKI), real Paho connections (one per identity), a real SQLite store
// and the hub's forwarder. A Paho observer on the broker's plain listener sees what IoT Hub
// would receive. Time-based behaviour (back-off, TTL) is driven by outcomes, never asserted as
// durations: the back-off arithmetic is covered with a manual scheduler in the hub's tests.

#include <gtest/gtest.h>
#include <mqtt/async_client.h>

#include <boost/asio/io_context.hpp>
#include <map>
#include <set>

#include "component/upstream/mosquitto_broker.hpp"
#include "edgehub/hub/device_channels.hpp"
#include "edgehub/hub/errors.hpp"
#include "edgehub/hub/forwarder.hpp"
#include "edgehub/hub/method_router.hpp"
#include "edgehub/routing/route_table.hpp"
#include "edgehub/store/sqlite_store.hpp"
#include "edgehub/upstream/upstream_client.hpp"
#include "support/hub/hub_test_support.hpp"

namespace edgehub::upstream::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kDeviceKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr const char* kEdgeHubKey = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
const store::QueueId kUpstreamQueue{"iothub", store::kDefaultPriority};

// The real time plus an offset the test moves forward (message TTLs).
class OffsetClock final : public core::Clock {
 public:
  core::SystemTime now() const override { return std::chrono::system_clock::now() + offset; }
  core::SteadyTime steady_now() const override { return std::chrono::steady_clock::now() + offset; }
  std::chrono::seconds offset{0};
};

// Subscribes to telemetry on the broker's plain listener and collects what arrives.
class Observer {
 public:
  explicit Observer(std::uint16_t port)
      : client_("tcp://127.0.0.1:" + std::to_string(port), "observer",
                ::mqtt::create_options(MQTTVERSION_3_1_1)) {
    client_.start_consuming();
    // A persistent session that reconnects by itself: across a broker restart nothing the
    // gateway publishes meanwhile is missed (the broker queues it).
    auto options = ::mqtt::connect_options_builder()
                       .clean_session(false)
                       .automatic_reconnect(std::chrono::milliseconds(100), 1s)
                       .finalize();
    client_.connect(options)->wait_for(10s);
    client_.subscribe("devices/+/messages/events/#", 1)->wait_for(10s);
    client_.subscribe("devices/+/modules/+/messages/events/#", 1)->wait_for(10s);
    client_.subscribe("$iothub/methods/res/#", 0)->wait_for(10s);
  }
  ~Observer() {
    try {
      client_.disconnect()->wait_for(5s);
    } catch (const std::exception&) {
    }
  }
  // Waits (bounded) for `n` more messages. Paho queues an empty message when the connection to
  // the broker drops; that is skipped.
  std::vector<::mqtt::const_message_ptr> take(std::size_t n) {
    std::vector<::mqtt::const_message_ptr> out;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      ::mqtt::const_message_ptr m;
      if (client_.try_consume_message_for(&m, 1s) && m) out.push_back(m);
    }
    return out;
  }
  void publish(const std::string& topic, const std::string& payload, bool retain) {
    client_.publish(topic, payload.data(), payload.size(), 1, retain)->wait_for(10s);
  }

 private:
  ::mqtt::async_client client_;
};

class UpstreamMosquitto : public ::testing::Test {
 protected:
  explicit UpstreamMosquitto(bool refuse_all = false) : broker_(refuse_all) {}

  void SetUp() override {
    std::string diagnostic;
    std::filesystem::create_directories(broker_.dir() / "state");
    config::StoreConfig sc;
    auto s = store::open_sqlite_store(store::Options::from_config(sc, broker_.dir() / "state"),
                                      registry_, clock_, ioc_.get_executor(), diagnostic);
    ASSERT_TRUE(s) << diagnostic;
    store_ = std::move(*s);
    methods_ = std::make_unique<hub::MethodRouter>(channels_, scheduler_, registry_, clock_,
                                                   ioc_.get_executor());
    forwarders_ = std::make_unique<hub::Forwarders>(*store_, channels_, scheduler_, registry_,
                                                    ioc_.get_executor(), "gw");
  }

  void TearDown() override {
    if (client_) client_->stop();
    if (forwarders_) forwarders_->stop_all();
    if (store_) hub::testing::settle(ioc_, *store_);
    forwarders_.reset();
    client_.reset();
    methods_->shutdown(hub::Errc::shutting_down);
    methods_.reset();
    store_.reset();
  }

  UpstreamOptions options() {
    UpstreamOptions o;
    o.iothub_hostname = "myhub.azure-devices.net";
    o.edge_device_id = "gw";
    o.dial_host = "localhost";
    o.port = broker_.tls_port();
    o.trust_bundle = broker_.root_cert();
    o.device_key = kDeviceKey;
    o.edgehub_module_key = kEdgeHubKey;
    o.probe_interval = 1s;
    return o;
  }

  void start_upstream() {
    client_ = std::make_unique<UpstreamClient>(
        options(), UpstreamDeps{channels_, methods_.get(), nullptr, registry_, clock_},
        ioc_.get_executor());
    auto fo = upstream_forwarder_options();
    // Short pauses so the test's bounded waits cover several retries; the policy's 1 s -> 60 s
    // arithmetic is the hub's unit of test.
    fo.retry_delay = 100ms;
    fo.max_retry_delay = 400ms;
    fo.jitter = 0ms;
    ASSERT_TRUE(
        forwarders_->add_endpoint("iothub", client_->make_sink(), {store::kDefaultPriority}, fo));
    client_->start();
  }

  core::Message message(core::ClientId origin, const std::string& body) {
    core::Message m;
    m.origin = std::move(origin);
    m.set_body(body);
    m.sys_prop(core::SystemProperty::message_id) = body;
    m.set_app("seq", body);
    return m;
  }

  void append(std::vector<core::Message> messages,
              std::optional<std::chrono::seconds> ttl = std::nullopt) {
    store::AppendBatch batch;
    for (auto& m : messages)
      batch.push_back({std::move(m), {store::Target{kUpstreamQueue, ttl}}});
    bool done = false;
    store_->async_append(std::move(batch), [&](core::Result<store::AppendResult> r) {
      ASSERT_TRUE(r) << r.error().message();
      done = true;
    });
    ASSERT_TRUE(hub::testing::run_until(ioc_, [&] { return done; }));
    forwarders_->on_committed({kUpstreamQueue});
  }

  std::uint64_t queue_length() {
    std::uint64_t n = 0;
    bool done = false;
    store_->async_stats([&](core::Result<store::StoreStats> r) {
      if (r)
        for (const auto& q : r->queues)
          if (q.queue == kUpstreamQueue) n = q.length;
      done = true;
    });
    EXPECT_TRUE(hub::testing::run_until(ioc_, [&] { return done; }));
    return n;
  }

  bool drained() {
    return hub::testing::run_until(ioc_, [&] {
      std::uint64_t n = 1;
      bool done = false;
      store_->async_stats([&](core::Result<store::StoreStats> r) {
        n = 0;
        if (r)
          for (const auto& q : r->queues)
            if (q.queue == kUpstreamQueue) n = q.length;
        done = true;
      });
      while (!done) {
        ioc_.restart();
        ioc_.poll();
      }
      return n == 0;
    });
  }

  // Runs the loop while the observer waits for `n` messages on its own thread.
  std::vector<::mqtt::const_message_ptr> observe(Observer& observer, std::size_t n) {
    std::vector<::mqtt::const_message_ptr> got;
    std::atomic<bool> finished{false};
    std::thread t([&] {
      got = observer.take(n);
      finished = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!finished && std::chrono::steady_clock::now() < deadline) {
      ioc_.restart();
      if (ioc_.poll() == 0) std::this_thread::sleep_for(1ms);
    }
    t.join();
    return got;
  }

  std::uint64_t counter(const std::string& name, std::vector<std::string> labels,
                        const std::vector<std::string>& values) {
    return registry_.counter(name, "", std::move(labels)).with(values).value();
  }

  MosquittoBroker broker_;
  OffsetClock clock_;
  ops::Registry registry_;
  boost::asio::io_context ioc_;
  hub::DeviceChannels channels_{registry_};
  hub::AsioScheduler scheduler_;
  std::unique_ptr<store::MessageStore> store_;
  std::unique_ptr<hub::MethodRouter> methods_;
  std::unique_ptr<hub::Forwarders> forwarders_;
  std::unique_ptr<UpstreamClient> client_;
};

std::map<std::string, std::vector<std::string>> bodies_by_topic_identity(
    const std::vector<::mqtt::const_message_ptr>& messages) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& m : messages) {
    const auto& t = m->get_topic();
    const auto events = t.find("/messages/events/");
    out[t.substr(0, events)].push_back(m->get_payload_str());
  }
  return out;
}

TEST_F(UpstreamMosquitto, EachIdentityPublishesOnItsOwnTopicInOrderAndIsCheckpointedAfterPuback) {
  broker_.start();
  Observer observer(broker_.plain_port());
  start_upstream();
  std::vector<core::Message> batch;
  const core::ClientId ids[] = {{"gw", ""}, {"sensor-1", ""}, {"gw", "filter"}};
  for (int i = 0; i < 30; ++i)
    batch.push_back(message(ids[i % 3], "m" + std::to_string(i)));
  batch[1].sys_prop(core::SystemProperty::content_type) = "application/json";
  batch[1].set_app("alert", "high temp");
  append(std::move(batch));

  const auto got = observe(observer, 30);
  ASSERT_EQ(got.size(), 30u);
  for (const auto& m : got)
    EXPECT_EQ(m->get_qos(), 1) << "published with QoS 1: " << m->get_topic();
  const auto by_identity = bodies_by_topic_identity(got);
  ASSERT_EQ(by_identity.size(), 3u);
  std::vector<std::string> expected[3];
  for (int i = 0; i < 30; ++i)
    expected[i % 3].push_back("m" + std::to_string(i));
  EXPECT_EQ(by_identity.at("devices/gw"), expected[0]);
  EXPECT_EQ(by_identity.at("devices/sensor-1"), expected[1]);
  EXPECT_EQ(by_identity.at("devices/gw/modules/filter"), expected[2]);
  for (const auto& m : got) {
    if (m->get_payload_str() == "m1") {
      EXPECT_EQ(m->get_topic(),
                "devices/sensor-1/messages/events/"
                "%24.mid=m1&%24.ct=application%2Fjson&seq=m1&alert=high%20temp");
    }
  }
  EXPECT_TRUE(drained()) << "every PUBACK advanced the checkpoint";
  EXPECT_EQ(counter("edgehub_messages_sent_total",
                    {"from", "to", "from_route_output", "to_route_input", "priority"},
                    {"sensor-1", "upstream", "", "", std::to_string(store::kDefaultPriority)}),
            10u);
  EXPECT_EQ(counter("edgehubd_upstream_connects_total", {"result"}, {"success"}), 3u)
      << "one connection per identity";
}

TEST_F(UpstreamMosquitto, AnOutageIsBridgedInOrderAndCountedAsOneOfflinePeriod) {
  broker_.start();
  auto observer = std::make_unique<Observer>(broker_.plain_port());
  start_upstream();
  append({message({"sensor-1", ""}, "before")});
  ASSERT_EQ(observe(*observer, 1).size(), 1u);
  ASSERT_TRUE(drained());

  broker_.stop();
  std::vector<core::Message> during;
  for (int i = 0; i < 20; ++i)
    during.push_back(message({i % 2 ? "sensor-1" : "sensor-2", ""}, "d" + std::to_string(i)));
  append(std::move(during));
  auto& online = registry_.gauge("edgehubd_upstream_online", "").with(std::vector<std::string>{});
  ASSERT_TRUE(hub::testing::run_until(ioc_, [&] { return online.value() == 0; }))
      << "a refused connection makes the gateway offline";
  EXPECT_EQ(queue_length(), 20u) << "nothing is lost or acknowledged while offline";

  broker_.start();
  // At least once: resends after the outage may duplicate; order is that of first arrivals.
  auto got = observe(*observer, 20);
  std::set<std::string> distinct;
  for (const auto& m : got)
    distinct.insert(m->get_payload_str());
  while (distinct.size() < 20) {
    auto more = observe(*observer, 1);
    if (more.empty()) break;
    distinct.insert(more[0]->get_payload_str());
    got.push_back(more[0]);
  }
  ASSERT_EQ(distinct.size(), 20u);
  std::vector<::mqtt::const_message_ptr> firsts;
  std::set<std::string> seen;
  for (const auto& m : got)
    if (seen.insert(m->get_payload_str()).second) firsts.push_back(m);
  const auto by_identity = bodies_by_topic_identity(firsts);
  std::vector<std::string> odd, even;
  for (int i = 0; i < 20; ++i)
    (i % 2 ? odd : even).push_back("d" + std::to_string(i));
  EXPECT_EQ(by_identity.at("devices/sensor-1"), odd);
  EXPECT_EQ(by_identity.at("devices/sensor-2"), even);
  EXPECT_TRUE(drained());
  EXPECT_EQ(online.value(), 1);
  EXPECT_EQ(counter("edgehub_offline_count_total", {"id"}, {"gw/$edgeHub"}), 1u);
  EXPECT_EQ(registry_.summary("edgehub_offline_duration_seconds", "", {"id"})
                .with({"gw/$edgeHub"})
                .snapshot()
                .count,
            1u);
}

TEST_F(UpstreamMosquitto, ExpiredMessagesAreNeverSentAndCountAsTtlDrops) {
  // IoT Hub unreachable at first: the messages wait, then outlive their TTL.
  start_upstream();
  append({message({"sensor-1", ""}, "old1"), message({"sensor-1", ""}, "old2")}, 60s);
  auto& online = registry_.gauge("edgehubd_upstream_online", "").with(std::vector<std::string>{});
  ASSERT_TRUE(hub::testing::run_until(ioc_, [&] { return online.value() == 0; }));
  clock_.offset = 120s;
  broker_.start();
  Observer observer(broker_.plain_port());
  append({message({"sensor-1", ""}, "fresh")}, 60s);
  const auto got = observe(observer, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->get_payload_str(), "fresh")
      << "the older messages of the same identity would have arrived first had they been sent";
  EXPECT_TRUE(drained());
  EXPECT_EQ(counter("edgehub_messages_dropped_total", {"reason", "from", "from_route_output"},
                    {"ttl_expiry", "sensor-1", ""}),
            2u);
}

// Records cloud-to-device traffic and answers method calls.
class RecordingChannel final : public hub::DeviceChannel {
 public:
  RecordingChannel(boost::asio::any_io_executor ex, hub::MethodRouter& methods, core::ClientId id)
      : executor_(std::move(ex)), methods_(methods), id_(std::move(id)) {}
  boost::asio::any_io_executor executor() const override { return executor_; }
  void deliver_input(core::Message, std::string, hub::DoneCallback done) override {
    done(hub::Errc::not_supported);
  }
  void deliver_c2d(core::Message message, hub::DoneCallback done) override {
    c2d.push_back(std::move(message));
    done({});
  }
  void deliver_method(hub::MethodRequest request, hub::DoneCallback done) override {
    done({});
    methods_.on_method_response(id_, request.request_id, 200,
                                "{\"method\":\"" + request.method_name + "\"}");
  }
  void deliver_desired(hub::DesiredPatch) override {}
  void close(core::ErrorCode) override {}

  std::vector<core::Message> c2d;

 private:
  boost::asio::any_io_executor executor_;
  hub::MethodRouter& methods_;
  core::ClientId id_;
};

TEST_F(UpstreamMosquitto, CloudToDeviceMessagesAndMethodCallsReachTheConnectedDevice) {
  broker_.start();
  Observer observer(broker_.plain_port());
  // Retained, so the broker hands them over whenever the gateway's subscription is in place.
  observer.publish(
      "devices/sensor-1/messages/devicebound/%24.mid=c2d-1&%24.to=%2Fdevices%2Fsensor-"
      "1%2Fmessages%2Fdevicebound&color=blue%20green",
      "hello device", true);
  observer.publish("$iothub/methods/POST/reboot/?$rid=77", "{\"delay\":1}", true);
  start_upstream();
  const core::ClientId id{"sensor-1", ""};
  auto channel = std::make_shared<RecordingChannel>(ioc_.get_executor(), *methods_, id);
  auto registration = channels_.attach(
      id, channel, hub::Subscriptions(hub::Subscription::c2d) | hub::Subscription::methods);

  ASSERT_TRUE(hub::testing::run_until(ioc_, [&] { return !channel->c2d.empty(); }));
  const auto& m = channel->c2d.front();
  EXPECT_EQ(m.body_text(), "hello device");
  EXPECT_EQ(m.sys_prop(core::SystemProperty::message_id), "c2d-1");
  EXPECT_EQ(m.sys_prop(core::SystemProperty::to), "/devices/sensor-1/messages/devicebound");
  ASSERT_NE(m.find_app("color"), nullptr);
  EXPECT_EQ(m.find_app("color")->value, "blue green");

  const auto response = observe(observer, 1);
  ASSERT_EQ(response.size(), 1u);
  EXPECT_EQ(response[0]->get_topic(), "$iothub/methods/res/200/?$rid=77");
  EXPECT_EQ(response[0]->get_payload_str(), "{\"method\":\"reboot\"}");
  EXPECT_EQ(
      counter("edgehubd_upstream_cloud_to_device_total", {"kind", "result"}, {"c2d", "delivered"}),
      1u);
  // Clear the retained messages for the next run of the broker (it has no persistence anyway).
  observer.publish("devices/sensor-1/messages/devicebound/%24.mid=c2d-1", "", true);
}

class RefusingUpstream : public UpstreamMosquitto {
 protected:
  RefusingUpstream() : UpstreamMosquitto(true) {}
};

TEST_F(RefusingUpstream, ANotAuthorisedIdentityIsDroppedCountedAndNotRetried) {
  broker_.start();
  start_upstream();
  append({message({"disabled-1", ""}, "x1"), message({"disabled-1", ""}, "x2"),
          message({"disabled-1", ""}, "x3")});
  EXPECT_TRUE(drained()) << "CONNACK 5 is final: the queue moves on";
  EXPECT_EQ(counter("edgehub_messages_dropped_total", {"reason", "from", "from_route_output"},
                    {"not_authorized", "disabled-1", ""}),
            3u);
  EXPECT_GE(counter("edgehubd_upstream_connects_total", {"result"}, {"refused"}), 1u);
  auto& online = registry_.gauge("edgehubd_upstream_online", "").with(std::vector<std::string>{});
  EXPECT_EQ(online.value(), 1) << "a refusal is an answer: IoT Hub is reachable";
}

}  // namespace
}  // namespace edgehub::upstream::testing
