#pragma once

// The server side of one MQTT 3.1.1 connection as a sans-I/O state machine (style P1): bytes and
// time in, events out. It owns the protocol rules — CONNECT first and once, keep-alive, PINGREQ,
// QoS 2 refusal, packet identifiers and the outbound inflight bound — and nothing else: who may
// connect, publish or subscribe is the session's decision (module mqtt).
//
// Driving it: call start() once, then on_bytes() for every read, on_timer() when the last
// ArmTimer deadline passes (firing early or late is harmless: on_timer re-arms), and accept() /
// refuse() after a Deliver(Connect). Execute the returned events in order: write every SendBytes,
// then honour Close (after the preceding writes are flushed). After Close every call returns no
// events. Not thread-safe: one executor per connection.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/mqtt_proto/codec.hpp"
#include "edgehub/mqtt_proto/errors.hpp"
#include "edgehub/mqtt_proto/packets.hpp"

namespace edgehub::mqtt_proto {

using TimePoint = core::SteadyTime;

/// IoT Hub's idle timeout cap: 1.5 × keep-alive, at most 1767 s.
inline constexpr std::chrono::seconds kMaxIdleTimeout{1767};

/// Bounds of one connection; the session fills them from [gateway.limits].
struct Limits {
  std::uint32_t max_payload_bytes = kDefaultMaxPayloadBytes;
  std::uint16_t max_inflight = 64;  ///< unacknowledged outbound QoS 1 PUBLISHes (≥ 1)
  std::chrono::milliseconds connect_timeout{30000};  ///< accept → CONNACK decision
  std::chrono::milliseconds max_idle_timeout = kMaxIdleTimeout;
};

/// Write these bytes to the peer.
struct SendBytes {
  std::vector<std::byte> bytes;
};
/// A packet for the session: Connect, Publish (QoS 0/1), Puback (of an outbound QoS 1 PUBLISH),
/// Subscribe or Unsubscribe. PINGREQ, duplicates and protocol errors never reach the session.
struct Deliver {
  Packet packet;
};
/// (Re)arm the connection's single timer; replaces any earlier deadline.
struct ArmTimer {
  TimePoint deadline;
};
/// Close the connection after writing the SendBytes before it. `reason` is empty when the client
/// sent DISCONNECT (discard its will); otherwise it says which rule was broken or why the session
/// refused (publish the will).
struct Close {
  core::ErrorCode reason;
};

using Event = std::variant<SendBytes, Deliver, ArmTimer, Close>;
using Events = std::vector<Event>;

/// What publish() did: the packet identifier given to a QoS 1 PUBLISH (0 for QoS 0) and the events.
struct Published {
  std::uint16_t packet_id = 0;
  Events events;
};

class ServerConnection {
 public:
  enum class State { awaiting_connect, awaiting_decision, connected, closed };

  explicit ServerConnection(const Limits& limits);

  /// Starts the connect deadline: returns ArmTimer(now + connect_timeout).
  Events start(TimePoint now);

  /// Bytes from the peer. While a CONNECT decision is pending the bytes are only buffered (at most
  /// one maximum-size packet, else Close(input_overflow)) and decoded after accept().
  Events on_bytes(std::span<const std::byte> bytes, TimePoint now);

  /// The timer armed by the last ArmTimer fired.
  Events on_timer(TimePoint now);

  /// Accepts the delivered CONNECT: CONNACK 0, keep-alive starts, buffered packets are decoded.
  /// Errors: invalid_state unless a CONNECT awaits a decision.
  core::Result<Events> accept(bool session_present, TimePoint now);

  /// Refuses the delivered CONNECT with the CONNACK code wire_reaction(reason) gives (if any),
  /// then Close(reason). Errors: invalid_state unless a CONNECT awaits a decision.
  core::Result<Events> refuse(core::ErrorCode reason);

  /// Sends PUBACK (for a delivered QoS 1 PUBLISH, once it is durable), SUBACK, UNSUBACK or a QoS 0
  /// PUBLISH. Errors: invalid_state (not connected, or a packet a server does not send this way:
  /// QoS 1 PUBLISH goes through publish()), unknown_packet_id (PUBACK for an id not awaiting one),
  /// or the encoder's validation error.
  core::Result<Events> send(const Packet& packet);

  /// Sends a PUBLISH. For QoS 1 the connection chooses the packet identifier (any given one is
  /// ignored) and holds it until the client's PUBACK is delivered. Errors: inflight_full when
  /// max_inflight identifiers are held (wait for a PUBACK; nothing was sent), invalid_state,
  /// invalid_qos for QoS 2, or the encoder's validation error.
  core::Result<Published> publish(Publish packet);

  State state() const noexcept { return state_; }
  /// Seconds from CONNECT (0 before), and the idle timeout applied (zero = none).
  std::uint16_t keep_alive() const noexcept { return keep_alive_; }
  std::chrono::milliseconds idle_timeout() const noexcept { return idle_timeout_; }
  /// Outbound QoS 1 PUBLISHes awaiting PUBACK.
  std::size_t inflight() const noexcept { return inflight_.size(); }
  /// Inbound QoS 1 PUBLISHes delivered and not yet PUBACKed: a driver applies backpressure (stops
  /// reading) when this grows past its bound. The packet-id space caps it at 65,535.
  std::size_t inbound_pending() const noexcept { return inbound_pending_.size(); }

 private:
  void drain(TimePoint now, Events& out);
  std::span<const std::byte> decode_in_place(std::span<const std::byte> in, TimePoint now,
                                             Events& out);
  void release_decoder_if_empty();
  void handle(Packet&& packet, TimePoint now, Events& out);
  void fail(core::ErrorCode reason, Events& out);
  void arm_idle_timer(Events& out) const;
  std::uint16_t allocate_packet_id();

  Limits limits_;
  State state_ = State::awaiting_connect;
  Decoder decoder_;
  TimePoint connect_deadline_ = TimePoint::max();
  TimePoint last_activity_{};
  std::uint16_t keep_alive_ = 0;
  std::chrono::milliseconds idle_timeout_{0};
  std::uint16_t next_packet_id_ = 1;
  std::vector<std::uint16_t> inflight_;  // ≤ max_inflight: a linear scan is cheap
  // In PUBLISH order. Drivers stop reading at their bound of pending messages (the session's is
  // max_inflight_per_connection), so it stays short and a scan beats a hash set, which allocated
  // a node per message and kept its buckets on an idle connection.
  std::vector<std::uint16_t> inbound_pending_;
};

}  // namespace edgehub::mqtt_proto
