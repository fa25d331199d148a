#include "edgehub/mqtt_proto/errors.hpp"

#include <string>

#include "edgehub/mqtt_proto/packets.hpp"

namespace edgehub::mqtt_proto {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "edgehub.mqtt"; }

  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::reserved_packet_type:
        return "reserved MQTT packet type";
      case Errc::invalid_fixed_header_flags:
        return "invalid fixed-header flags for the packet type";
      case Errc::malformed_remaining_length:
        return "malformed remaining length (more than 4 bytes)";
      case Errc::packet_too_large:
        return "packet exceeds the maximum packet size";
      case Errc::truncated_packet:
        return "packet shorter than its fields";
      case Errc::trailing_bytes:
        return "unexpected bytes after the last field of the packet";
      case Errc::invalid_utf8:
        return "string is not valid MQTT UTF-8";
      case Errc::invalid_topic_name:
        return "invalid topic name";
      case Errc::invalid_topic_filter:
        return "invalid topic filter";
      case Errc::zero_packet_id:
        return "packet identifier 0";
      case Errc::invalid_qos:
        return "invalid QoS or QoS flags";
      case Errc::empty_subscription:
        return "SUBSCRIBE/UNSUBSCRIBE without topic filters";
      case Errc::invalid_protocol_name:
        return "CONNECT protocol name is not MQTT";
      case Errc::unacceptable_protocol_version:
        return "unsupported MQTT protocol level (only 3.1.1 is accepted)";
      case Errc::invalid_connect_flags:
        return "invalid CONNECT flags";
      case Errc::invalid_return_code:
        return "undefined return code";
      case Errc::identifier_rejected:
        return "client identifier rejected";
      case Errc::protocol_error:
        return "packet not allowed in this connection state";
      case Errc::packet_id_in_use:
        return "packet identifier reused before it was acknowledged";
      case Errc::qos2_not_supported:
        return "QoS 2 PUBLISH is not supported";
      case Errc::keep_alive_timeout:
        return "keep-alive timeout";
      case Errc::connect_timeout:
        return "no CONNECT within the connect timeout";
      case Errc::input_overflow:
        return "too much input while the CONNECT was being decided";
      case Errc::server_unavailable:
        return "server unavailable";
      case Errc::bad_username_or_password:
        return "bad user name or password";
      case Errc::not_authorized:
        return "not authorized";
      case Errc::inflight_full:
        return "too many unacknowledged QoS 1 messages in flight";
      case Errc::unknown_packet_id:
        return "no message awaits acknowledgement with this packet identifier";
      case Errc::invalid_state:
        return "operation not allowed in this connection state";
      case Errc::value_too_long:
        return "value too long to encode";
    }
    return "unknown MQTT error";
  }
};

}  // namespace

const boost::system::error_category& mqtt_category() noexcept {
  static const Category category;
  return category;
}

WireReaction wire_reaction(const boost::system::error_code& ec) noexcept {
  using Code = ConnectReturnCode;
  auto connack = [](Code c) { return WireReaction{static_cast<std::uint8_t>(c), true}; };
  if (!ec) return WireReaction{std::nullopt, false};
  if (ec.category() != mqtt_category()) return connack(Code::not_authorized);
  switch (static_cast<Errc>(ec.value())) {
    case Errc::unacceptable_protocol_version:
      return connack(Code::unacceptable_protocol_version);
    case Errc::identifier_rejected:
      return connack(Code::identifier_rejected);
    case Errc::server_unavailable:
      return connack(Code::server_unavailable);
    case Errc::bad_username_or_password:
      return connack(Code::bad_username_or_password);
    case Errc::not_authorized:
      return connack(Code::not_authorized);
    case Errc::inflight_full:
    case Errc::unknown_packet_id:
    case Errc::invalid_state:
    case Errc::value_too_long:
      return WireReaction{std::nullopt, false};
    default:
      return WireReaction{std::nullopt, true};
  }
}

}  // namespace edgehub::mqtt_proto
