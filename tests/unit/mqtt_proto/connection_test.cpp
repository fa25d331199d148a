// The server connection state machine: CONNECT ordering, keep-alive with injected time, PINGREQ,
// QoS 2 refusal, packet identifiers and the inflight bound.

#include "edgehub/mqtt_proto/connection.hpp"

#include <gtest/gtest.h>

#include "hex.hpp"

namespace edgehub::mqtt_proto::test {
namespace {

using namespace std::chrono_literals;

const TimePoint kT0 = TimePoint{} + 1000h;

// CONNECT, clean session, keep-alive 60 s, client id "a".
constexpr const char* kConnect60 = "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 61";

std::string connect_hex(std::uint16_t keep_alive) {
  Connect c;
  c.keep_alive = keep_alive;
  c.client_id = "dev1";
  return to_hex(*encode(c));
}

// Readable summaries of events: "send:<hex>", "deliver:<TYPE>", "arm:<ms after kT0>",
// "close:<reason>".
std::vector<std::string> describe(const Events& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    if (const auto* s = std::get_if<SendBytes>(&e)) {
      out.push_back("send:" + to_hex(s->bytes));
    } else if (const auto* d = std::get_if<Deliver>(&e)) {
      out.push_back("deliver:" + std::string(packet_type_name(packet_type(d->packet))));
    } else if (const auto* a = std::get_if<ArmTimer>(&e)) {
      out.push_back(
          "arm:" +
          std::to_string(
              std::chrono::duration_cast<std::chrono::milliseconds>(a->deadline - kT0).count()));
    } else if (const auto* c = std::get_if<Close>(&e)) {
      out.push_back("close:" + (c->reason ? c->reason.message() : std::string("disconnect")));
    }
  }
  return out;
}

using V = std::vector<std::string>;

std::string close_of(Errc e) {
  return "close:" + core::ErrorCode(e).message();
}

class MqttConnection : public ::testing::Test {
 protected:
  MqttConnection() : conn_(limits()) {}

  static Limits limits() {
    Limits l;
    l.max_inflight = 3;
    l.connect_timeout = 10s;
    return l;
  }

  Events bytes(std::string_view h, TimePoint at = kT0) { return conn_.on_bytes(hex(h), at); }

  // Drives the connection to `connected` with keep-alive `ka`.
  void connect(std::uint16_t ka = 60) {
    conn_.start(kT0);
    auto e = bytes(connect_hex(ka));
    ASSERT_EQ(describe(e), V{"deliver:CONNECT"});
    auto accepted = conn_.accept(false, kT0);
    ASSERT_TRUE(accepted);
    ASSERT_EQ(conn_.state(), ServerConnection::State::connected);
  }

  ServerConnection conn_;
};

TEST_F(MqttConnection, StartArmsTheConnectDeadline) {
  EXPECT_EQ(describe(conn_.start(kT0)), V{"arm:10000"});
}

TEST_F(MqttConnection, ConnectIsDeliveredAndAcceptAnswersConnack) {
  conn_.start(kT0);
  auto e = bytes(kConnect60);
  ASSERT_EQ(e.size(), 1u);
  const auto& c = std::get<Connect>(std::get<Deliver>(e[0]).packet);
  EXPECT_EQ(c.client_id, "a");
  EXPECT_EQ(c.keep_alive, 60);
  EXPECT_EQ(conn_.state(), ServerConnection::State::awaiting_decision);
  auto accepted = conn_.accept(true, kT0 + 1s);
  ASSERT_TRUE(accepted);
  // CONNACK session-present, then the idle timer at 1.5 × 60 s after the CONNACK.
  EXPECT_EQ(describe(*accepted), (V{"send:20 02 01 00", "arm:91000"}));
  EXPECT_EQ(conn_.idle_timeout(), 90s);
}

TEST_F(MqttConnection, ConnectSplitAcrossReadsIsDeliveredOnce) {
  conn_.start(kT0);
  const auto wire = hex(kConnect60);
  for (std::size_t i = 0; i + 1 < wire.size(); ++i) {
    EXPECT_TRUE(conn_.on_bytes(std::span(wire).subspan(i, 1), kT0).empty());
  }
  EXPECT_EQ(describe(conn_.on_bytes(std::span(wire).last(1), kT0)), V{"deliver:CONNECT"});
}

TEST_F(MqttConnection, PublishBeforeConnectClosesWithoutConnack) {
  conn_.start(kT0);
  EXPECT_EQ(describe(bytes("30 03 00 01 74")), V{close_of(Errc::protocol_error)});
  EXPECT_EQ(conn_.state(), ServerConnection::State::closed);
  EXPECT_TRUE(bytes(kConnect60).empty());  // nothing after Close
}

TEST_F(MqttConnection, PingBeforeConnectClosesToo) {
  EXPECT_EQ(describe(bytes("c0 00")), V{close_of(Errc::protocol_error)});
}

TEST_F(MqttConnection, SecondConnectCloses) {
  connect();
  EXPECT_EQ(describe(bytes(kConnect60)), V{close_of(Errc::protocol_error)});
}

TEST_F(MqttConnection, UnacceptableProtocolLevelGetsConnack1ThenClose) {
  conn_.start(kT0);
  EXPECT_EQ(describe(bytes("10 0d 00 04 4d 51 54 54 03 02 00 3c 00 01 61")),
            (V{"send:20 02 00 01", close_of(Errc::unacceptable_protocol_version)}));
}

TEST_F(MqttConnection, BadProtocolNameClosesWithoutConnack) {
  EXPECT_EQ(describe(bytes("10 0d 00 04 4d 51 54 58 04 02 00 3c 00 01 61")),
            V{close_of(Errc::invalid_protocol_name)});
}

TEST_F(MqttConnection, EmptyClientIdWithPersistentSessionGetsConnack2) {
  EXPECT_EQ(describe(bytes("10 0c 00 04 4d 51 54 54 04 00 00 3c 00 00")),
            (V{"send:20 02 00 02", close_of(Errc::identifier_rejected)}));
}

TEST_F(MqttConnection, MalformedConnectClosesWithoutConnack) {
  EXPECT_EQ(describe(bytes("10 0d 00 04 4d 51 54 54 04 03 00 3c 00 01 61")),
            V{close_of(Errc::invalid_connect_flags)});
}

TEST_F(MqttConnection, RefuseMapsTheReasonToItsConnackCode) {
  struct Case {
    core::ErrorCode reason;
    const char* connack;
  };
  for (const Case& c : std::initializer_list<Case>{
           {Errc::not_authorized, "20 02 00 05"},
           {Errc::bad_username_or_password, "20 02 00 04"},
           {Errc::server_unavailable, "20 02 00 03"},
           {Errc::identifier_rejected, "20 02 00 02"},
           {boost::system::errc::make_error_code(boost::system::errc::permission_denied),
            "20 02 00 05"}}) {
    ServerConnection conn(limits());
    conn.on_bytes(hex(kConnect60), kT0);
    auto refused = conn.refuse(c.reason);
    ASSERT_TRUE(refused);
    EXPECT_EQ(describe(*refused),
              (V{std::string("send:") + c.connack, "close:" + c.reason.message()}));
    EXPECT_EQ(conn.state(), ServerConnection::State::closed);
  }
}

TEST_F(MqttConnection, AcceptAndRefuseNeedAPendingConnect) {
  EXPECT_EQ(conn_.accept(false, kT0).error(), Errc::invalid_state);
  EXPECT_EQ(conn_.refuse(Errc::not_authorized).error(), Errc::invalid_state);
  connect();
  EXPECT_EQ(conn_.accept(false, kT0).error(), Errc::invalid_state);
}

TEST_F(MqttConnection, PacketsAfterConnectWaitForTheDecision) {
  conn_.start(kT0);
  // CONNECT, SUBSCRIBE and PINGREQ in one read: only the CONNECT is delivered now.
  auto e = bytes(std::string(kConnect60) + " 82 06 00 01 00 01 61 01 c0 00");
  EXPECT_EQ(describe(e), V{"deliver:CONNECT"});
  EXPECT_TRUE(bytes("c0 00").empty());  // still waiting
  auto accepted = conn_.accept(false, kT0);
  ASSERT_TRUE(accepted);
  EXPECT_EQ(describe(*accepted),
            (V{"send:20 02 00 00", "arm:90000", "deliver:SUBSCRIBE", "send:d0 00", "send:d0 00"}));
}

TEST_F(MqttConnection, RefusedConnectDiscardsWhatFollowed) {
  bytes(std::string(kConnect60) + " c0 00");
  auto refused = conn_.refuse(Errc::not_authorized);
  ASSERT_TRUE(refused);
  EXPECT_EQ(describe(*refused), (V{"send:20 02 00 05", close_of(Errc::not_authorized)}));
}

TEST_F(MqttConnection, TooMuchInputWhileDecidingCloses) {
  Limits l;
  l.max_payload_bytes = 16;
  ServerConnection conn(l);
  EXPECT_EQ(describe(conn.on_bytes(hex(kConnect60), kT0)), V{"deliver:CONNECT"});
  // The bound is one maximum-size packet: 16 + 65,539 + 5 bytes.
  std::vector<std::byte> flood(16 + 65539 + 5, std::byte{0xc0});
  EXPECT_TRUE(conn.on_bytes(flood, kT0).empty());
  EXPECT_EQ(describe(conn.on_bytes(hex("c0"), kT0)), V{close_of(Errc::input_overflow)});
}

TEST_F(MqttConnection, NoConnectBeforeTheDeadlineCloses) {
  conn_.start(kT0);
  EXPECT_EQ(describe(conn_.on_timer(kT0 + 9s)), V{"arm:10000"});  // early fire: re-arm
  EXPECT_EQ(describe(conn_.on_timer(kT0 + 10s)), V{close_of(Errc::connect_timeout)});
}

TEST_F(MqttConnection, UndecidedConnectTimesOutToo) {
  conn_.start(kT0);
  bytes(kConnect60, kT0 + 1s);
  EXPECT_EQ(describe(conn_.on_timer(kT0 + 10s)), V{close_of(Errc::connect_timeout)});
}

TEST_F(MqttConnection, KeepAliveExpiresAtOneAndAHalfTimes) {
  connect(60);
  EXPECT_EQ(describe(conn_.on_timer(kT0 + 90s - 1ms)), V{"arm:90000"});
  EXPECT_EQ(describe(conn_.on_timer(kT0 + 90s)), V{close_of(Errc::keep_alive_timeout)});
}

TEST_F(MqttConnection, AnyInboundPacketResetsKeepAlive) {
  connect(60);
  EXPECT_EQ(describe(bytes("c0 00", kT0 + 80s)), V{"send:d0 00"});
  // The old deadline fires: not expired, re-armed 90 s after the PINGREQ.
  EXPECT_EQ(describe(conn_.on_timer(kT0 + 90s)), V{"arm:170000"});
  bytes("30 03 00 01 74", kT0 + 160s);  // a PUBLISH counts as traffic too
  EXPECT_EQ(describe(conn_.on_timer(kT0 + 170s)), V{"arm:250000"});
  EXPECT_EQ(describe(conn_.on_timer(kT0 + 250s)), V{close_of(Errc::keep_alive_timeout)});
}

TEST_F(MqttConnection, PartialPacketDoesNotResetKeepAlive) {
  connect(10);
  bytes("c0", kT0 + 14s);  // half a PINGREQ
  EXPECT_EQ(describe(conn_.on_timer(kT0 + 15s)), V{close_of(Errc::keep_alive_timeout)});
}

TEST_F(MqttConnection, KeepAliveIsCappedAt1767Seconds) {
  connect(1200);  // 1.5 × 1200 = 1800 s > IoT Hub's cap
  EXPECT_EQ(conn_.idle_timeout(), 1767s);
  EXPECT_EQ(describe(conn_.on_timer(kT0 + 1766s)), V{"arm:1767000"});
  EXPECT_EQ(describe(conn_.on_timer(kT0 + 1767s)), V{close_of(Errc::keep_alive_timeout)});
}

TEST_F(MqttConnection, LargestUsefulKeepAliveIsNotCapped) {
  connect(1177);
  EXPECT_EQ(conn_.idle_timeout(), 1765500ms);
}

TEST_F(MqttConnection, KeepAliveZeroMeansNoTimeout) {
  conn_.start(kT0);
  bytes(connect_hex(0));
  auto accepted = conn_.accept(false, kT0);
  ASSERT_TRUE(accepted);
  EXPECT_EQ(describe(*accepted), V{"send:20 02 00 00"});  // no timer armed
  EXPECT_TRUE(conn_.on_timer(kT0 + 100h).empty());
  EXPECT_EQ(conn_.state(), ServerConnection::State::connected);
}

TEST_F(MqttConnection, PingreqIsAnsweredAndNotDelivered) {
  connect();
  EXPECT_EQ(describe(bytes("c0 00 c0 00")), (V{"send:d0 00", "send:d0 00"}));
}

TEST_F(MqttConnection, DisconnectClosesCleanly) {
  connect();
  auto e = bytes("e0 00 c0 00");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_FALSE(std::get<Close>(e[0]).reason);
  EXPECT_EQ(conn_.state(), ServerConnection::State::closed);
}

TEST_F(MqttConnection, Qos2PublishCloses) {
  connect();
  EXPECT_EQ(describe(bytes("34 05 00 01 74 00 01")), V{close_of(Errc::qos2_not_supported)});
}

TEST_F(MqttConnection, Qos2FlowPacketsFromTheClientClose) {
  for (const char* packet : {"50 02 00 01", "62 02 00 01", "70 02 00 01"}) {
    ServerConnection conn(limits());
    conn.on_bytes(hex(kConnect60), kT0);
    ASSERT_TRUE(conn.accept(false, kT0));
    EXPECT_EQ(describe(conn.on_bytes(hex(packet), kT0)), V{close_of(Errc::protocol_error)})
        << packet;
  }
}

TEST_F(MqttConnection, ServerOnlyPacketsFromTheClientClose) {
  for (const char* packet : {"20 02 00 00", "90 03 00 01 00", "b0 02 00 01", "d0 00"}) {
    ServerConnection conn(limits());
    conn.on_bytes(hex(kConnect60), kT0);
    ASSERT_TRUE(conn.accept(false, kT0));
    EXPECT_EQ(describe(conn.on_bytes(hex(packet), kT0)), V{close_of(Errc::protocol_error)})
        << packet;
  }
}

TEST_F(MqttConnection, MalformedPacketAfterConnackClosesWithoutConnack) {
  connect();
  EXPECT_EQ(describe(bytes("30 02 00 00")), V{close_of(Errc::invalid_topic_name)});
}

TEST_F(MqttConnection, OversizePacketCloses) {
  Limits l;
  l.max_payload_bytes = 8;
  ServerConnection conn(l);
  conn.on_bytes(hex(kConnect60), kT0);
  ASSERT_TRUE(conn.accept(false, kT0));
  auto wire = encode(
      Publish{false, QoS::at_most_once, false, "t", 0, std::vector<std::byte>(9, std::byte{1})});
  EXPECT_EQ(describe(conn.on_bytes(*wire, kT0)), V{close_of(Errc::packet_too_large)});
}

TEST_F(MqttConnection, InboundQos1IsDeliveredOnceAndPubackedBySession) {
  connect();
  EXPECT_EQ(describe(bytes("32 05 00 01 74 00 07")), V{"deliver:PUBLISH"});
  EXPECT_EQ(conn_.inbound_pending(), 1u);
  // Retransmission with DUP while the first is still being committed: not delivered again.
  EXPECT_TRUE(bytes("3a 05 00 01 74 00 07").empty());
  auto ack = conn_.send(Puback{7});
  ASSERT_TRUE(ack);
  EXPECT_EQ(describe(*ack), V{"send:40 02 00 07"});
  EXPECT_EQ(conn_.inbound_pending(), 0u);
  // The id is free again: a new message with it is delivered.
  EXPECT_EQ(describe(bytes("32 05 00 01 74 00 07")), V{"deliver:PUBLISH"});
}

// One read often brings many packets (a device's pipelined QoS 1 window): all are delivered
// from that read, in order, and a packet cut at the read's end completes with the next read.
TEST_F(MqttConnection, PipelinedPacketsInOneReadAreAllDeliveredInOrder) {
  connect();
  const std::string publish_1 = "32 05 00 01 74 00 01 ";
  const std::string publish_2 = "32 05 00 01 74 00 02 ";
  const std::string ping = "c0 00 ";
  auto e = bytes(publish_1 + ping + publish_2 + "32 05 00");
  EXPECT_EQ(describe(e), (V{"deliver:PUBLISH", "send:d0 00", "deliver:PUBLISH"}));
  EXPECT_EQ(conn_.inbound_pending(), 2u);
  e = bytes("01 74 00 03 32 05");
  ASSERT_EQ(describe(e), V{"deliver:PUBLISH"});
  EXPECT_EQ(std::get<Publish>(std::get<Deliver>(e[0]).packet).packet_id, 3);
  e = bytes("00 01 74 00 04");
  ASSERT_EQ(describe(e), V{"deliver:PUBLISH"});
  EXPECT_EQ(std::get<Publish>(std::get<Deliver>(e[0]).packet).packet_id, 4);
  EXPECT_EQ(conn_.inbound_pending(), 4u);
  // The acknowledgements may come in any order the session chooses; each id only once.
  for (std::uint16_t id : {1, 2, 3, 4}) {
    EXPECT_TRUE(conn_.send(Puback{id})) << id;
  }
  EXPECT_FALSE(conn_.send(Puback{2}));
  EXPECT_EQ(conn_.inbound_pending(), 0u);
}

// CONNECT and what follows it in the same read: the rest waits for the decision, then is decoded.
TEST_F(MqttConnection, PacketsInTheConnectsReadAreDecodedAfterAccept) {
  conn_.start(kT0);
  EXPECT_EQ(describe(bytes(connect_hex(60) + " 32 05 00 01 74 00 09 c0 00")), V{"deliver:CONNECT"});
  auto accepted = conn_.accept(false, kT0);
  ASSERT_TRUE(accepted);
  EXPECT_EQ(describe(*accepted),
            (V{"send:20 02 00 00", "arm:90000", "deliver:PUBLISH", "send:d0 00"}));
  // Then reads are decoded in place again.
  EXPECT_EQ(describe(bytes("c0 00")), V{"send:d0 00"});
}

// A malformed packet after good ones in the same read: the good ones are delivered, then Close.
TEST_F(MqttConnection, MalformedPacketAfterGoodOnesInOneReadCloses) {
  connect();
  EXPECT_EQ(describe(bytes("32 05 00 01 74 00 01 c0 01 00 c0 00")),
            (V{"deliver:PUBLISH", close_of(Errc::trailing_bytes)}));
}

TEST_F(MqttConnection, ReusingAPendingIdWithoutDupCloses) {
  connect();
  bytes("32 05 00 01 74 00 07");
  EXPECT_EQ(describe(bytes("32 05 00 01 75 00 07")), V{close_of(Errc::packet_id_in_use)});
}

TEST_F(MqttConnection, PubackForAnUndeliveredIdIsACallerError) {
  connect();
  EXPECT_EQ(conn_.send(Puback{9}).error(), Errc::unknown_packet_id);
  EXPECT_EQ(conn_.state(), ServerConnection::State::connected);
}

TEST_F(MqttConnection, SendAllowsAcksAndQos0Only) {
  EXPECT_EQ(conn_.send(Suback{1, {0}}).error(), Errc::invalid_state);  // not connected
  connect();
  auto suback = conn_.send(Suback{1, {1, kSubackFailure}});
  ASSERT_TRUE(suback);
  EXPECT_EQ(describe(*suback), V{"send:90 04 00 01 01 80"});
  auto unsuback = conn_.send(Unsuback{2});
  ASSERT_TRUE(unsuback);
  EXPECT_EQ(describe(*unsuback), V{"send:b0 02 00 02"});
  auto qos0 = conn_.send(Publish{false, QoS::at_most_once, false, "t", 0, {}});
  ASSERT_TRUE(qos0);
  EXPECT_EQ(describe(*qos0), V{"send:30 03 00 01 74"});
  EXPECT_EQ(conn_.send(Publish{false, QoS::at_least_once, false, "t", 1, {}}).error(),
            Errc::invalid_state);
  EXPECT_EQ(conn_.send(Connack{}).error(), Errc::invalid_state);
  EXPECT_EQ(conn_.send(Pingreq{}).error(), Errc::invalid_state);
  EXPECT_EQ(conn_.send(Suback{1, {}}).error(), Errc::empty_subscription);
}

TEST_F(MqttConnection, OutboundQos1GetsIdsAndIsBoundedByInflight) {
  connect();
  Publish p{false, QoS::at_least_once, false, "devices/a/messages/devicebound/", 0, {}};
  std::vector<std::uint16_t> ids;
  for (int i = 0; i < 3; ++i) {
    auto sent = conn_.publish(p);
    ASSERT_TRUE(sent);
    ids.push_back(sent->packet_id);
    ASSERT_EQ(sent->events.size(), 1u);
  }
  EXPECT_EQ(ids, (std::vector<std::uint16_t>{1, 2, 3}));
  EXPECT_EQ(conn_.inflight(), 3u);
  EXPECT_EQ(conn_.publish(p).error(), Errc::inflight_full);
  // QoS 0 is not bounded by inflight.
  p.qos = QoS::at_most_once;
  auto qos0 = conn_.publish(p);
  ASSERT_TRUE(qos0);
  EXPECT_EQ(qos0->packet_id, 0);
  p.qos = QoS::at_least_once;

  // The client acknowledges id 2: it is delivered, a slot frees, the next id is 4.
  EXPECT_EQ(describe(bytes("40 02 00 02")), V{"deliver:PUBACK"});
  EXPECT_EQ(conn_.inflight(), 2u);
  auto next = conn_.publish(p);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->packet_id, 4);
  EXPECT_EQ(to_hex(std::get<SendBytes>(next->events[0]).bytes).substr(0, 2), "32");
}

TEST_F(MqttConnection, UnknownPubackIsIgnored) {
  connect();
  EXPECT_TRUE(bytes("40 02 00 05").empty());
  EXPECT_EQ(conn_.state(), ServerConnection::State::connected);
}

TEST_F(MqttConnection, PacketIdsWrapAndSkipThoseInFlight) {
  connect();
  Publish p{false, QoS::at_least_once, false, "t", 0, {}};
  // Cycle ids up to 65,535 while keeping id 1 in flight.
  auto first = conn_.publish(p);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->packet_id, 1);
  for (std::uint32_t id = 2; id <= 0xFFFF; ++id) {
    auto sent = conn_.publish(p);
    ASSERT_TRUE(sent);
    ASSERT_EQ(sent->packet_id, id);
    ASSERT_TRUE(conn_.on_bytes(*encode(Puback{static_cast<std::uint16_t>(id)}), kT0).size() == 1);
  }
  auto wrapped = conn_.publish(p);
  ASSERT_TRUE(wrapped);
  EXPECT_EQ(wrapped->packet_id, 2);  // 1 is still unacknowledged
}

TEST_F(MqttConnection, PublishChecksStateQosAndTopic) {
  EXPECT_EQ(conn_.publish(Publish{}).error(), Errc::invalid_state);
  connect();
  EXPECT_EQ(conn_.publish(Publish{false, QoS::exactly_once, false, "t", 0, {}}).error(),
            Errc::invalid_qos);
  EXPECT_EQ(conn_.publish(Publish{false, QoS::at_least_once, false, "a/#", 0, {}}).error(),
            Errc::invalid_topic_name);
  EXPECT_EQ(conn_.inflight(), 0u);
  auto ok = conn_.publish(Publish{false, QoS::at_least_once, false, "t", 0, {}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->packet_id, 1);  // the failed attempt did not consume an id
}

TEST_F(MqttConnection, SubscribeAndUnsubscribeAreDelivered) {
  connect();
  auto e = bytes("82 06 00 01 00 01 61 01 a2 05 00 02 00 01 61");
  ASSERT_EQ(describe(e), (V{"deliver:SUBSCRIBE", "deliver:UNSUBSCRIBE"}));
  EXPECT_EQ(std::get<Subscribe>(std::get<Deliver>(e[0]).packet).subscriptions[0].filter, "a");
}

TEST_F(MqttConnection, EventsStopAfterClose) {
  connect();
  bytes("e0 00");
  EXPECT_TRUE(bytes("c0 00").empty());
  EXPECT_TRUE(conn_.on_timer(kT0 + 1000h).empty());
  EXPECT_EQ(conn_.send(Puback{1}).error(), Errc::invalid_state);
}

}  // namespace
}  // namespace edgehub::mqtt_proto::test
