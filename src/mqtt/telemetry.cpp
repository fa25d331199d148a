#include "edgehub/mqtt/telemetry.hpp"

#include "edgehub/mqtt/property_bag.hpp"

namespace edgehub::mqtt {

core::Result<core::Message> telemetry_message(const InboundTopic& topic,
                                              std::span<const std::byte> payload, bool retain,
                                              TelemetrySource source) {
  if (topic.kind != TopicKind::telemetry) return NamingErrc::not_telemetry;
  core::Message m;
  if (auto ok = decode_property_bag(topic.bag, m); !ok) return ok.error();
  m.body.assign(payload.begin(), payload.end());
  // Set after the bag so a device cannot suppress or fake these markers with its own properties.
  if (retain) m.set_app(std::string(kRetainProperty), "true");
  if (source == TelemetrySource::will) m.set_app(std::string(kMessageTypeProperty), "Will");
  return m;
}

}  // namespace edgehub::mqtt
