// libFuzzer target: the IoT Hub naming layer on arbitrary text. Invariants checked (abort =
// finding):
//  - percent_decode(percent_encode(x)) == x;
//  - a bag that decodes re-encodes (device and module-input targets) to a bag that decodes to the
//    same application properties and the same user-settable system properties;
//  - topic/filter classification and user-name parsing never crash, and what they extract is a
//    part of the input; a telemetry topic is publishable by the identity it names, an unknown
//    filter by nobody; telemetry_message always adds the will/retain markers.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "edgehub/mqtt/iothub_topics.hpp"
#include "edgehub/mqtt/property_bag.hpp"
#include "edgehub/mqtt/telemetry.hpp"
#include "edgehub/mqtt/username.hpp"

namespace {

using namespace edgehub;
using core::SystemProperty;

bool within(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void check_bag(std::string_view text) {
  core::Message m;
  if (!mqtt::decode_property_bag(text, m)) return;
  for (auto target : {mqtt::BagTarget::device, mqtt::BagTarget::module_input}) {
    const auto bag = mqtt::encode_property_bag(m, target);
    if (bag.find('/') != std::string::npos || bag.find('$') != std::string::npos) std::abort();
    core::Message back;
    if (!mqtt::decode_property_bag(bag, back)) std::abort();
    if (back.app != m.app) std::abort();
    for (auto p :
         {SystemProperty::message_id, SystemProperty::correlation_id, SystemProperty::user_id,
          SystemProperty::to, SystemProperty::content_type, SystemProperty::content_encoding,
          SystemProperty::absolute_expiry_time, SystemProperty::ack}) {
      if (back.sys_prop(p) != m.sys_prop(p)) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (mqtt::percent_decode(mqtt::percent_encode(text), false) != text) std::abort();
  check_bag(text);

  const auto topic = mqtt::classify_publish_topic(text);
  if (!within(topic.device, text) || !within(topic.module, text) || !within(topic.bag, text) ||
      !within(topic.rid, text)) {
    std::abort();
  }
  if (topic.kind == mqtt::TopicKind::telemetry) {
    check_bag(topic.bag);
    const core::ClientId self{std::string(topic.device), std::string(topic.module)};
    if (!mqtt::may_publish(topic, self)) std::abort();
    auto will = mqtt::telemetry_message(topic, {}, true, mqtt::TelemetrySource::will);
    if (will && (!will->find_app("mqtt-retain") || !will->find_app("iothub-MessageType"))) {
      std::abort();
    }
  }
  const auto filter = mqtt::classify_subscription(text);
  if (!within(filter.device, text) || !within(filter.module, text)) std::abort();
  if (filter.kind == mqtt::FilterKind::unknown &&
      mqtt::may_subscribe(filter, core::ClientId{"dev1", ""})) {
    std::abort();
  }

  if (auto user = mqtt::parse_username(text)) {
    if (user->identity.device.empty() || user->host.empty()) std::abort();
    if (!mqtt::check_client_id(*user, user->identity.to_string())) std::abort();
  }
  return 0;
}
