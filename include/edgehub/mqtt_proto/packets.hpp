#pragma once

// MQTT 3.1.1 control packets as plain values (style P1: the codec and the state machine trade
// these, never sockets). Role-agnostic: the same types are decoded by a server and encoded by a
// client. Strings are UTF-8 as decoded; binary fields are bytes.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace edgehub::mqtt_proto {

/// The fixed-header packet type (MQTT 3.1.1 §2.2.1). 0 and 15 are reserved.
enum class PacketType : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
};

std::string_view packet_type_name(PacketType t) noexcept;

enum class QoS : std::uint8_t { at_most_once = 0, at_least_once = 1, exactly_once = 2 };

/// CONNACK return codes (MQTT 3.1.1 §3.2.2.3).
enum class ConnectReturnCode : std::uint8_t {
  accepted = 0x00,
  unacceptable_protocol_version = 0x01,
  identifier_rejected = 0x02,
  server_unavailable = 0x03,
  bad_username_or_password = 0x04,
  not_authorized = 0x05,
};

/// SUBACK failure return code; success codes are the granted QoS (0, 1, 2).
inline constexpr std::uint8_t kSubackFailure = 0x80;

struct Will {
  std::string topic;
  std::vector<std::byte> payload;
  QoS qos = QoS::at_most_once;
  bool retain = false;
  friend bool operator==(const Will&, const Will&) = default;
};

/// Protocol name "MQTT" and level 4 are implied: anything else does not decode.
struct Connect {
  bool clean_session = true;
  std::uint16_t keep_alive = 0;  ///< seconds; 0 = no keep-alive
  std::string client_id;
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<std::vector<std::byte>> password;  ///< binary data; needs a username in 3.1.1
  friend bool operator==(const Connect&, const Connect&) = default;
};

struct Connack {
  bool session_present = false;
  ConnectReturnCode return_code = ConnectReturnCode::accepted;
  friend bool operator==(const Connack&, const Connack&) = default;
};

struct Publish {
  bool dup = false;
  QoS qos = QoS::at_most_once;
  bool retain = false;
  std::string topic;
  std::uint16_t packet_id = 0;  ///< 0 for QoS 0 (absent on the wire), non-zero otherwise
  std::vector<std::byte> payload;
  friend bool operator==(const Publish&, const Publish&) = default;
};

struct Puback {
  std::uint16_t packet_id = 0;
  friend bool operator==(const Puback&, const Puback&) = default;
};
struct Pubrec {
  std::uint16_t packet_id = 0;
  friend bool operator==(const Pubrec&, const Pubrec&) = default;
};
struct Pubrel {
  std::uint16_t packet_id = 0;
  friend bool operator==(const Pubrel&, const Pubrel&) = default;
};
struct Pubcomp {
  std::uint16_t packet_id = 0;
  friend bool operator==(const Pubcomp&, const Pubcomp&) = default;
};

struct Subscription {
  std::string filter;
  QoS qos = QoS::at_most_once;
  friend bool operator==(const Subscription&, const Subscription&) = default;
};

struct Subscribe {
  std::uint16_t packet_id = 0;
  std::vector<Subscription> subscriptions;  ///< at least one
  friend bool operator==(const Subscribe&, const Subscribe&) = default;
};

struct Suback {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> return_codes;  ///< 0, 1, 2 or kSubackFailure, one per filter
  friend bool operator==(const Suback&, const Suback&) = default;
};

struct Unsubscribe {
  std::uint16_t packet_id = 0;
  std::vector<std::string> filters;  ///< at least one
  friend bool operator==(const Unsubscribe&, const Unsubscribe&) = default;
};

struct Unsuback {
  std::uint16_t packet_id = 0;
  friend bool operator==(const Unsuback&, const Unsuback&) = default;
};

struct Pingreq {
  friend bool operator==(const Pingreq&, const Pingreq&) = default;
};
struct Pingresp {
  friend bool operator==(const Pingresp&, const Pingresp&) = default;
};
struct Disconnect {
  friend bool operator==(const Disconnect&, const Disconnect&) = default;
};

/// Alternatives are in PacketType order: index() + 1 == the packet type.
using Packet = std::variant<Connect, Connack, Publish, Puback, Pubrec, Pubrel, Pubcomp, Subscribe,
                            Suback, Unsubscribe, Unsuback, Pingreq, Pingresp, Disconnect>;

inline PacketType packet_type(const Packet& p) noexcept {
  return static_cast<PacketType>(p.index() + 1);
}

}  // namespace edgehub::mqtt_proto
