#pragma once

// Why an MQTT connection was refused or closed. Every codec and state-machine rule has its own
// value so that logs and metrics say which rule a client broke; wire_reaction() is the one place
// that turns an error into what the peer sees (a CONNACK return code, or only a closed socket:
// MQTT 3.1.1 has no error packet after CONNACK).

#include <boost/system/error_code.hpp>
#include <cstdint>
#include <optional>
#include <type_traits>

namespace edgehub::mqtt_proto {

enum class Errc {
  // Framing (fixed header)
  reserved_packet_type = 1,    ///< packet type 0 or 15
  invalid_fixed_header_flags,  ///< reserved flag bits differ from MQTT 3.1.1 §2.2.2
  malformed_remaining_length,  ///< a fifth length byte (value above 268,435,455)
  packet_too_large,            ///< over Limits::max_payload_bytes (see docs/mqtt.md)
  // Packet bodies
  truncated_packet,               ///< a field runs past the end of the packet
  trailing_bytes,                 ///< bytes left after the last field
  invalid_utf8,                   ///< not well-formed UTF-8, U+0000 or a surrogate (MQTT-1.5.3)
  invalid_topic_name,             ///< empty, or a wildcard in a PUBLISH/will topic
  invalid_topic_filter,           ///< empty, or '#'/'+' not alone in a level, '#' not last
  zero_packet_id,                 ///< packet identifier 0 where one is required (MQTT-2.3.1-1)
  invalid_qos,                    ///< QoS 3, DUP set on QoS 0, or reserved subscription bits
  empty_subscription,             ///< SUBSCRIBE/UNSUBSCRIBE without a topic filter
  invalid_protocol_name,          ///< CONNECT protocol name other than "MQTT"/"MQIsdp"
  unacceptable_protocol_version,  ///< not level 4 (CONNACK 0x01)
  invalid_connect_flags,  ///< reserved bit, will flags without a will, password w/o user name
  invalid_return_code,    ///< CONNACK/SUBACK return code MQTT 3.1.1 does not define
  // Connection state
  identifier_rejected,  ///< client identifier refused (CONNACK 0x02)
  protocol_error,       ///< a packet not allowed now: before CONNECT, second CONNECT, ...
  packet_id_in_use,     ///< a new QoS 1 PUBLISH reuses an unacknowledged packet identifier
  qos2_not_supported,   ///< QoS 2 PUBLISH: IoT Hub closes the connection
  keep_alive_timeout,   ///< nothing received for 1.5 × keep-alive (capped at 1767 s)
  connect_timeout,      ///< no CONNECT, or no CONNACK decision, before the connect deadline
  input_overflow,       ///< bytes buffered while the CONNECT decision was pending exceeded a packet
  // Session decisions (passed to ServerConnection::refuse)
  server_unavailable,        ///< CONNACK 0x03
  bad_username_or_password,  ///< CONNACK 0x04
  not_authorized,            ///< CONNACK 0x05
  // Local (caller) errors: never caused by the peer
  inflight_full,      ///< max_inflight QoS 1 PUBLISHes await PUBACK: wait, then retry
  unknown_packet_id,  ///< PUBACK for a packet identifier that is not awaiting one
  invalid_state,      ///< call not allowed in this connection state
  value_too_long,     ///< a string over 65,535 bytes or a packet over the length limit
};

const boost::system::error_category& mqtt_category() noexcept;

inline boost::system::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), mqtt_category()};
}

/// What the peer sees for an error. `connack` is set only for errors that have a CONNACK return
/// code; it may be sent only in answer to the first CONNECT. `close` is always true for errors
/// raised by the peer; false for local errors (inflight_full, unknown_packet_id, invalid_state,
/// value_too_long) where the connection stays usable.
struct WireReaction {
  std::optional<std::uint8_t> connack;
  bool close = true;
};

/// The one error → wire mapping (docs/mqtt.md has the table). Errors of other categories (the
/// identity module's authentication refusals) map to CONNACK 0x05, IoT Hub's answer to any
/// credential problem.
WireReaction wire_reaction(const boost::system::error_code& ec) noexcept;

}  // namespace edgehub::mqtt_proto

template <>
struct boost::system::is_error_code_enum<edgehub::mqtt_proto::Errc> : std::true_type {};
