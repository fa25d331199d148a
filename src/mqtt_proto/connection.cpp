#include "edgehub/mqtt_proto/connection.hpp"

#include <algorithm>
#include <cassert>

namespace edgehub::mqtt_proto {
namespace {

void send_packet(const Packet& packet, Events& out) {
  SendBytes bytes;
  [[maybe_unused]] const auto ok = encode(packet, bytes.bytes);
  assert(ok && "CONNACK and PINGRESP built here always satisfy the encoder's rules");
  out.emplace_back(std::move(bytes));
}

}  // namespace

ServerConnection::ServerConnection(const Limits& limits)
    : limits_(limits), decoder_(limits.max_payload_bytes) {
  if (limits_.max_inflight == 0) limits_.max_inflight = 1;
}

Events ServerConnection::start(TimePoint now) {
  Events out;
  if (state_ != State::awaiting_connect) return out;
  connect_deadline_ = now + limits_.connect_timeout;
  out.emplace_back(ArmTimer{connect_deadline_});
  return out;
}

Events ServerConnection::on_bytes(std::span<const std::byte> bytes, TimePoint now) {
  Events out;
  if (state_ == State::closed) return out;
  if (decoder_.buffered() == 0) {
    // The common case: every packet of the read decoded where it lies; only an incomplete tail
    // (or what arrives while a CONNECT awaits its decision) is copied into the decoder.
    bytes = decode_in_place(bytes, now, out);
    if (state_ == State::closed || bytes.empty()) return out;
  }
  decoder_.feed(bytes);
  if (state_ == State::awaiting_decision) {
    // The session decides a CONNECT before it reads on, so more than one maximum-size packet of
    // early input means the driver is not holding back: refuse to buffer without bound.
    if (decoder_.buffered() > max_remaining_length(limits_.max_payload_bytes) + 5) {
      fail(Errc::input_overflow, out);
    }
    return out;
  }
  drain(now, out);
  return out;
}

std::span<const std::byte> ServerConnection::decode_in_place(std::span<const std::byte> in,
                                                             TimePoint now, Events& out) {
  while (!in.empty() && (state_ == State::awaiting_connect || state_ == State::connected)) {
    auto header = parse_fixed_header(in, limits_.max_payload_bytes);
    if (!header) {
      fail(header.error(), out);
      return {};
    }
    if (!*header || in.size() - (*header)->header_size < (*header)->remaining_length) break;
    const FixedHeader h = **header;
    auto packet =
        decode_packet(h, in.subspan(h.header_size, h.remaining_length), limits_.max_payload_bytes);
    if (!packet) {
      fail(packet.error(), out);
      return {};
    }
    in = in.subspan(h.header_size + h.remaining_length);
    handle(std::move(*packet), now, out);
  }
  return in;
}

void ServerConnection::release_decoder_if_empty() {
  // The decoder keeps its buffer's capacity; an idle connection should hold none.
  if (decoder_.buffered() == 0 && state_ != State::closed) {
    decoder_ = Decoder(limits_.max_payload_bytes);
  }
}

void ServerConnection::drain(TimePoint now, Events& out) {
  while (state_ == State::awaiting_connect || state_ == State::connected) {
    auto next = decoder_.next();
    if (!next) {
      fail(next.error(), out);
      return;
    }
    if (!*next) return release_decoder_if_empty();
    handle(std::move(**next), now, out);
  }
}

void ServerConnection::handle(Packet&& packet, TimePoint now, Events& out) {
  last_activity_ = now;
  if (state_ == State::awaiting_connect) {
    auto* connect = std::get_if<Connect>(&packet);
    if (connect == nullptr) {
      fail(Errc::protocol_error, out);  // MQTT-3.1.0-1: CONNECT comes first
      return;
    }
    if (connect->client_id.empty() && !connect->clean_session) {
      fail(Errc::identifier_rejected, out);  // MQTT-3.1.3-8
      return;
    }
    keep_alive_ = connect->keep_alive;
    if (keep_alive_ > 0) {
      // IoT Hub's idle rule: 1.5 × keep-alive, capped.
      idle_timeout_ = std::min(std::chrono::milliseconds{std::int64_t{keep_alive_} * 1500},
                               limits_.max_idle_timeout);
    }
    state_ = State::awaiting_decision;
    out.emplace_back(Deliver{std::move(packet)});
    return;
  }

  switch (packet_type(packet)) {
    case PacketType::connect:
      fail(Errc::protocol_error, out);  // MQTT-3.1.0-2: a second CONNECT
      return;
    case PacketType::publish: {
      const auto& publish = std::get<Publish>(packet);
      if (publish.qos == QoS::exactly_once) {
        fail(Errc::qos2_not_supported, out);
        return;
      }
      if (publish.qos == QoS::at_least_once) {
        if (std::find(inbound_pending_.begin(), inbound_pending_.end(), publish.packet_id) !=
            inbound_pending_.end()) {
          // A retransmission of a message the session is still committing: its PUBACK will answer
          // both. The same id on a new message (no DUP) means the client broke MQTT-2.3.1-2.
          if (!publish.dup) fail(Errc::packet_id_in_use, out);
          return;
        }
        inbound_pending_.push_back(publish.packet_id);
      }
      out.emplace_back(Deliver{std::move(packet)});
      return;
    }
    case PacketType::puback: {
      const auto id = std::get<Puback>(packet).packet_id;
      const auto it = std::find(inflight_.begin(), inflight_.end(), id);
      // A PUBACK for nothing in flight is ignored (as mosquitto does): a late duplicate is
      // harmless.
      if (it == inflight_.end()) return;
      inflight_.erase(it);
      out.emplace_back(Deliver{std::move(packet)});
      return;
    }
    case PacketType::subscribe:
    case PacketType::unsubscribe:
      out.emplace_back(Deliver{std::move(packet)});
      return;
    case PacketType::pingreq:
      send_packet(Pingresp{}, out);
      return;
    case PacketType::disconnect:
      state_ = State::closed;
      out.emplace_back(Close{});
      return;
    case PacketType::pubrec:
    case PacketType::pubrel:
    case PacketType::pubcomp:
      // The server never sends QoS 2 and refuses it inbound, so no QoS 2 flow can exist.
    case PacketType::connack:
    case PacketType::suback:
    case PacketType::unsuback:
    case PacketType::pingresp:
      // Server-to-client packets.
      fail(Errc::protocol_error, out);
      return;
  }
}

void ServerConnection::fail(core::ErrorCode reason, Events& out) {
  if (state_ == State::closed) return;
  // Only the answer to the first CONNECT may be a CONNACK (MQTT-3.2.0-1); later errors just close.
  if (state_ == State::awaiting_connect || state_ == State::awaiting_decision) {
    if (const auto reaction = wire_reaction(reason); reaction.connack) {
      send_packet(Connack{false, static_cast<ConnectReturnCode>(*reaction.connack)}, out);
    }
  }
  state_ = State::closed;
  out.emplace_back(Close{reason});
}

void ServerConnection::arm_idle_timer(Events& out) const {
  if (idle_timeout_.count() > 0) out.emplace_back(ArmTimer{last_activity_ + idle_timeout_});
}

Events ServerConnection::on_timer(TimePoint now) {
  Events out;
  switch (state_) {
    case State::awaiting_connect:
    case State::awaiting_decision:
      if (now >= connect_deadline_) {
        fail(Errc::connect_timeout, out);
      } else if (connect_deadline_ != TimePoint::max()) {
        out.emplace_back(ArmTimer{connect_deadline_});
      }
      break;
    case State::connected:
      if (idle_timeout_.count() == 0) break;
      if (now >= last_activity_ + idle_timeout_) {
        fail(Errc::keep_alive_timeout, out);
      } else {
        arm_idle_timer(out);
      }
      break;
    case State::closed:
      break;
  }
  return out;
}

core::Result<Events> ServerConnection::accept(bool session_present, TimePoint now) {
  if (state_ != State::awaiting_decision) return Errc::invalid_state;
  Events out;
  send_packet(Connack{session_present, ConnectReturnCode::accepted}, out);
  state_ = State::connected;
  connect_deadline_ = TimePoint::max();
  last_activity_ = now;
  arm_idle_timer(out);
  drain(now, out);
  return out;
}

core::Result<Events> ServerConnection::refuse(core::ErrorCode reason) {
  if (state_ != State::awaiting_decision) return Errc::invalid_state;
  if (!reason) reason = Errc::not_authorized;
  Events out;
  fail(reason, out);
  return out;
}

core::Result<Events> ServerConnection::send(const Packet& packet) {
  if (state_ != State::connected) return Errc::invalid_state;
  Events out;
  switch (packet_type(packet)) {
    case PacketType::puback: {
      const auto id = std::get<Puback>(packet).packet_id;
      // PUBACKs go out in PUBLISH order, so the id is usually the first.
      const auto it = std::find(inbound_pending_.begin(), inbound_pending_.end(), id);
      if (it == inbound_pending_.end()) return Errc::unknown_packet_id;
      SendBytes bytes;
      if (auto ok = encode(packet, bytes.bytes); !ok) return ok.error();
      inbound_pending_.erase(it);
      if (inbound_pending_.empty() && inbound_pending_.capacity() > 16) {
        inbound_pending_.shrink_to_fit();  // a burst's worth is not kept by an idle connection
      }
      out.emplace_back(std::move(bytes));
      return out;
    }
    case PacketType::publish:
      if (std::get<Publish>(packet).qos != QoS::at_most_once) return Errc::invalid_state;
      [[fallthrough]];
    case PacketType::suback:
    case PacketType::unsuback: {
      SendBytes bytes;
      if (auto ok = encode(packet, bytes.bytes); !ok) return ok.error();
      out.emplace_back(std::move(bytes));
      return out;
    }
    default:
      return Errc::invalid_state;
  }
}

std::uint16_t ServerConnection::allocate_packet_id() {
  // At most max_inflight (< 65,535) ids are held, so a free one is always found.
  while (true) {
    const std::uint16_t id = next_packet_id_;
    next_packet_id_ = next_packet_id_ == 0xFFFF ? 1 : static_cast<std::uint16_t>(id + 1);
    if (std::find(inflight_.begin(), inflight_.end(), id) == inflight_.end()) return id;
  }
}

core::Result<Published> ServerConnection::publish(Publish packet) {
  if (state_ != State::connected) return Errc::invalid_state;
  if (packet.qos == QoS::exactly_once) return Errc::invalid_qos;
  Published result;
  if (packet.qos == QoS::at_least_once) {
    if (inflight_.size() >= limits_.max_inflight) return Errc::inflight_full;
    const std::uint16_t saved = next_packet_id_;
    packet.packet_id = allocate_packet_id();
    SendBytes bytes;
    if (auto ok = encode(packet, bytes.bytes); !ok) {
      next_packet_id_ = saved;
      return ok.error();
    }
    inflight_.push_back(packet.packet_id);
    result.packet_id = packet.packet_id;
    result.events.emplace_back(std::move(bytes));
    return result;
  }
  packet.packet_id = 0;
  SendBytes bytes;
  if (auto ok = encode(packet, bytes.bytes); !ok) return ok.error();
  result.events.emplace_back(std::move(bytes));
  return result;
}

}  // namespace edgehub::mqtt_proto
