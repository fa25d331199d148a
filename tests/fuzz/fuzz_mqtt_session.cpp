// libFuzzer target (issue 12): the MQTT session's decisions without sockets. mqtt_proto's
// ServerConnection is driven with arbitrary bytes and every delivered packet is decided as
// mqtt::Session decides it, with the same naming-layer calls: CONNECT (user name, client id, hub
// host, will topic), PUBLISH (topic kind, authorisation, telemetry conversion) and SUBSCRIBE /
// UNSUBSCRIBE (filter kind, authorisation, granted QoS). Invariants (abort = finding):
//  - an admitted CONNECT names one identity: the client id is exactly the user name's identity;
//  - an identity is authorised only inside its own space: telemetry topics, C2D and module
//    filters it may use name its own device and module;
//  - a telemetry message converts without touching the gateway-owned markers a device could
//    forge (mqtt-retain is present exactly when the PUBLISH was retained);
//  - the SUBACK has one return code per filter and encodes;
//  - nothing follows Close.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "edgehub/core/message.hpp"
#include "edgehub/mqtt/iothub_topics.hpp"
#include "edgehub/mqtt/telemetry.hpp"
#include "edgehub/mqtt/username.hpp"
#include "edgehub/mqtt_proto/connection.hpp"

namespace {

using namespace edgehub;
using namespace edgehub::mqtt_proto;

constexpr std::string_view kHub = "hub.azure-devices.net";
constexpr std::string_view kGateway = "gw.example.local";

class FuzzSession {
 public:
  FuzzSession() : conn_(limits()) {}

  void run(std::span<const std::byte> in) {
    using namespace std::chrono_literals;
    TimePoint now{};
    execute(conn_.start(now));
    const std::size_t chunk = in.empty() ? 1 : (std::to_integer<std::size_t>(in.back()) % 48) + 1;
    for (std::size_t at = 0; at < in.size() && !closed_; at += chunk) {
      now += 3s;
      execute(conn_.on_bytes(in.subspan(at, std::min(chunk, in.size() - at)), now));
      execute(conn_.on_timer(now));
    }
    if (closed_ && (!conn_.on_bytes(in, now).empty() || !conn_.on_timer(now).empty())) {
      std::abort();
    }
  }

 private:
  static Limits limits() {
    Limits l;
    l.max_payload_bytes = 1024;
    l.max_inflight = 4;
    return l;
  }

  void execute(Events events) {
    for (auto& e : events) {
      if (closed_) std::abort();  // nothing may follow Close
      if (auto* d = std::get_if<Deliver>(&e)) {
        decide(std::move(d->packet));
      } else if (std::holds_alternative<Close>(e)) {
        closed_ = true;
      }
    }
  }

  void decide(Packet&& packet) {
    if (auto* c = std::get_if<Connect>(&packet)) return on_connect(*c);
    if (auto* p = std::get_if<Publish>(&packet)) return on_publish(*p);
    if (auto* s = std::get_if<Subscribe>(&packet)) return on_subscribe(*s);
    if (auto* u = std::get_if<Unsubscribe>(&packet)) {
      return send(Unsuback{u->packet_id});
    }
  }

  // The order of mqtt::Session::on_connect; the credential check itself is identity's (its own
  // fuzzer covers SAS tokens), so any password is taken as valid here.
  void on_connect(const Connect& connect) {
    auto refuse = [&](Errc why) {
      auto r = conn_.refuse(why);
      if (!r) std::abort();
      execute(std::move(*r));
      if (!closed_) std::abort();
    };
    auto username = mqtt::parse_username(connect.username.value_or(""));
    if (!username) return refuse(Errc::not_authorized);
    if (!mqtt::check_client_id(*username, connect.client_id)) return refuse(Errc::not_authorized);
    if (!core::iequals(username->host, kHub) && !core::iequals(username->host, kGateway)) {
      return refuse(Errc::not_authorized);
    }
    // One identity per connection: the client id is the user name's identity, both parts valid.
    if (username->identity.to_string() != connect.client_id) std::abort();
    if (username->identity.device.empty()) std::abort();
    if (connect.will) {
      const auto topic = mqtt::classify_publish_topic(connect.will->topic);
      if (topic.kind != mqtt::TopicKind::telemetry ||
          !mqtt::may_publish(topic, username->identity)) {
        return refuse(Errc::not_authorized);
      }
      check_telemetry(topic, connect.will->payload, connect.will->retain,
                      mqtt::TelemetrySource::will);
    }
    identity_ = username->identity;
    auto accepted = conn_.accept(false, TimePoint{});
    if (!accepted) std::abort();
    execute(std::move(*accepted));
  }

  void on_publish(const Publish& publish) {
    if (!identity_) std::abort();  // nothing but CONNECT is delivered before accept()
    const auto topic = mqtt::classify_publish_topic(publish.topic);
    if (topic.kind == mqtt::TopicKind::unknown) {
      if (mqtt::may_publish(topic, *identity_)) std::abort();
      return;
    }
    if (topic.kind == mqtt::TopicKind::telemetry) {
      if (!mqtt::may_publish(topic, *identity_)) return;  // the session closes
      // Authorised telemetry names exactly the connection's identity.
      if (topic.device != identity_->device || topic.module != identity_->module) std::abort();
      check_telemetry(topic, publish.payload, publish.retain, mqtt::TelemetrySource::publish);
    } else if (topic.rid.empty()) {
      std::abort();  // twin and method topics are classified only with a $rid
    }
    if (publish.qos == QoS::at_least_once) send(Puback{publish.packet_id});
  }

  static void check_telemetry(const mqtt::InboundTopic& topic, std::span<const std::byte> payload,
                              bool retain, mqtt::TelemetrySource source) {
    auto message = mqtt::telemetry_message(topic, payload, retain, source);
    if (!message) return;  // a malformed bag: the session closes
    if (message->body.size() != payload.size()) std::abort();
    const auto* marker = message->find_app(mqtt::kRetainProperty);
    if (retain != (marker != nullptr && marker->value == std::optional<std::string>("true"))) {
      std::abort();
    }
    const auto* type = message->find_app(mqtt::kMessageTypeProperty);
    const bool will_marker = type != nullptr && type->value == std::optional<std::string>("Will");
    if (source == mqtt::TelemetrySource::will && !will_marker) std::abort();
  }

  void on_subscribe(const Subscribe& subscribe) {
    if (!identity_) std::abort();
    Suback ack;
    ack.packet_id = subscribe.packet_id;
    for (const auto& s : subscribe.subscriptions) {
      const auto filter = mqtt::classify_subscription(s.filter);
      if (filter.kind == mqtt::FilterKind::unknown || !mqtt::may_subscribe(filter, *identity_)) {
        ack.return_codes.push_back(kSubackFailure);
        continue;
      }
      check_own_filter(filter);
      const auto granted = mqtt::granted_qos(s.qos);
      if (granted == QoS::exactly_once) std::abort();  // IoT Hub grants QoS 2 as QoS 1
      ack.return_codes.push_back(static_cast<std::uint8_t>(granted));
    }
    if (ack.return_codes.size() != subscribe.subscriptions.size()) std::abort();
    send(ack);
  }

  void check_own_filter(const mqtt::SubscriptionFilter& filter) const {
    switch (filter.kind) {
      case mqtt::FilterKind::c2d:
        if (identity_->is_module()) std::abort();
        if (!filter.any_device && filter.device != identity_->device) std::abort();
        break;
      case mqtt::FilterKind::module_inputs:
      case mqtt::FilterKind::module_c2d:
        if (filter.device != identity_->device || filter.module != identity_->module) {
          std::abort();
        }
        break;
      default:
        break;
    }
  }

  void send(const Packet& packet) {
    auto r = conn_.send(packet);
    // A later packet of the same read may have closed the connection already.
    if (!r) {
      if (conn_.state() != ServerConnection::State::closed) std::abort();
      return;
    }
    execute(std::move(*r));
  }

  ServerConnection conn_;
  std::optional<core::ClientId> identity_;
  bool closed_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzSession session;
  session.run({reinterpret_cast<const std::byte*>(data), size});
  return 0;
}
