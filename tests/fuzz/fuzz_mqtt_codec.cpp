// libFuzzer target: mqtt_proto's Decoder and ServerConnection on arbitrary bytes. Invariants
// checked (abort = finding):
//  - every packet the decoder returns encodes, and the encoding decodes to an equal packet;
//  - chunking does not matter: the same bytes fed whole or byte-split decode to the same packets
//    and the same final outcome;
//  - every SendBytes the server emits decodes (in the client role) as valid packets;
//  - after Close no call produces events; inflight never exceeds max_inflight.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "edgehub/mqtt_proto/connection.hpp"

namespace {

using namespace edgehub::mqtt_proto;

// Small limits so the fuzzer reaches the size and inflight rules with small inputs.
constexpr std::uint32_t kMaxPayload = 512;
constexpr std::uint16_t kMaxInflight = 2;

struct Decoded {
  std::vector<Packet> packets;
  edgehub::core::ErrorCode error;
};

Decoded decode_all(std::span<const std::byte> in, std::size_t chunk) {
  Decoded out;
  Decoder d(kMaxPayload);
  for (std::size_t at = 0; at < in.size() && !out.error; at += chunk) {
    d.feed(in.subspan(at, std::min(chunk, in.size() - at)));
    while (true) {
      auto next = d.next();
      if (!next) {
        out.error = next.error();
        break;
      }
      if (!*next) break;
      out.packets.push_back(std::move(**next));
    }
  }
  return out;
}

void check_round_trip(const Packet& p) {
  auto wire = encode(p);
  if (!wire) std::abort();
  Decoder d(kMaxPayload);
  d.feed(*wire);
  auto again = d.next();
  if (!again || !*again || !(**again == p) || d.buffered() != 0) std::abort();
}

void check_server_output(const Events& events, bool& closed) {
  for (const auto& e : events) {
    if (closed) std::abort();  // nothing may follow Close
    if (const auto* s = std::get_if<SendBytes>(&e)) {
      const auto decoded = decode_all(s->bytes, s->bytes.size());
      if (decoded.error || decoded.packets.empty()) std::abort();
    } else if (std::holds_alternative<Close>(e)) {
      closed = true;
    }
  }
}

void drive_server(std::span<const std::byte> in) {
  using namespace std::chrono_literals;
  Limits limits;
  limits.max_payload_bytes = kMaxPayload;
  limits.max_inflight = kMaxInflight;
  ServerConnection conn(limits);
  TimePoint now{};
  bool closed = false;
  check_server_output(conn.start(now), closed);

  // The last input byte picks the read size (the first is almost always CONNECT's 0x10), so the
  // fuzzer explores several packets per read as well as packets split across reads.
  const std::size_t chunk = in.empty() ? 1 : (std::to_integer<std::size_t>(in.back()) % 64) + 1;
  // A later packet of the same read may already have closed the connection; a session's sends
  // then fail with invalid_state, which is the only acceptable failure.
  auto sent_or_closed = [&](const auto& result) {
    if (!result && conn.state() != ServerConnection::State::closed) std::abort();
  };
  for (std::size_t at = 0; at < in.size(); at += chunk) {
    now += 7s;
    auto events = conn.on_bytes(in.subspan(at, std::min(chunk, in.size() - at)), now);
    check_server_output(events, closed);
    // Act as a session would: accept CONNECTs, acknowledge QoS 1, answer subscriptions, and
    // push a QoS 1 message for every delivered packet.
    for (const auto& e : events) {
      const auto* d = std::get_if<Deliver>(&e);
      if (d == nullptr) continue;
      if (std::holds_alternative<Connect>(d->packet)) {
        // The low bit of the second byte decides between accepting and refusing.
        const bool refuse = in.size() > 1 && (std::to_integer<unsigned>(in[1]) & 1) != 0;
        auto r = refuse ? conn.refuse(Errc::not_authorized) : conn.accept(false, now);
        if (!r) std::abort();  // a delivered CONNECT always awaits the decision
        check_server_output(*r, closed);
        if (refuse && !closed) std::abort();
      } else if (const auto* p = std::get_if<Publish>(&d->packet)) {
        if (p->qos == QoS::at_least_once) {
          auto r = conn.send(Puback{p->packet_id});
          sent_or_closed(r);
          if (r) check_server_output(*r, closed);
        }
      } else if (const auto* u = std::get_if<Unsubscribe>(&d->packet)) {
        auto r = conn.send(Unsuback{u->packet_id});
        sent_or_closed(r);
        if (r) check_server_output(*r, closed);
      } else if (const auto* s = std::get_if<Subscribe>(&d->packet)) {
        Suback ack{s->packet_id, std::vector<std::uint8_t>(s->subscriptions.size(), 1)};
        auto r = conn.send(ack);
        sent_or_closed(r);
        if (r) check_server_output(*r, closed);
      }
      auto sent = conn.publish(Publish{false, QoS::at_least_once, false, "t", 0, {}});
      if (sent) check_server_output(sent->events, closed);
      if (conn.inflight() > kMaxInflight) std::abort();
    }
    check_server_output(conn.on_timer(now), closed);
  }
  check_server_output(conn.on_timer(now + 10000s), closed);
  if (closed && (!conn.on_bytes(in, now).empty() || !conn.on_timer(now).empty())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);

  const auto whole = decode_all(in, in.empty() ? 1 : in.size());
  for (const auto& p : whole.packets)
    check_round_trip(p);
  const auto split = decode_all(in, 1);
  if (split.packets != whole.packets || split.error != whole.error) std::abort();

  drive_server(in);
  return 0;
}
