// MQTT 3.1.1 codec: golden wire forms of every packet type and one test per validation rule.

#include "edgehub/mqtt_proto/codec.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "hex.hpp"

namespace edgehub::mqtt_proto::test {
namespace {

constexpr std::uint32_t kBig = 1u << 30;  // a payload limit that never triggers

// Decodes exactly one packet from a complete buffer.
core::Result<Packet> decode_one(const std::vector<std::byte>& wire,
                                std::uint32_t max_payload = kDefaultMaxPayloadBytes) {
  Decoder d(max_payload);
  d.feed(wire);
  auto next = d.next();
  if (!next) return next.error();
  if (!*next) return Errc::truncated_packet;  // the test expected a whole packet
  if (d.buffered() != 0) return Errc::trailing_bytes;
  return std::move(**next);
}

core::ErrorCode decode_error(std::string_view wire_hex,
                             std::uint32_t max_payload = kDefaultMaxPayloadBytes) {
  auto r = decode_one(hex(wire_hex), max_payload);
  return r ? core::ErrorCode{} : r.error();
}

core::ErrorCode encode_error(const Packet& p) {
  std::vector<std::byte> out;
  return encode(p, out).error();
}

std::vector<std::byte> payload(std::string_view s) {
  return bytes_of(s);
}

struct Golden {
  const char* name;
  Packet packet;
  const char* wire;
};

std::vector<Golden> goldens() {
  Connect full;
  full.clean_session = false;
  full.keep_alive = 180;
  full.client_id = "d1";
  full.will = Will{"w", payload("x"), QoS::at_least_once, true};
  full.username = "u";
  full.password = payload("p");

  Connect minimal;
  minimal.keep_alive = 60;
  minimal.client_id = "a";

  Connect empty_id;  // clean session with a zero-length client id is allowed (MQTT-3.1.3-6)

  Publish qos0{false, QoS::at_most_once, false, "a/b", 0, payload("hi")};
  Publish qos1{true, QoS::at_least_once, true, "a/b", 10, payload("hi")};
  Publish empty{false, QoS::at_most_once, false, "t", 0, {}};

  return {
      {"connect_minimal", minimal, "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 61"},
      {"connect_full", full,
       "10 1a 00 04 4d 51 54 54 04 ec 00 b4 00 02 64 31 00 01 77 00 01 78 00 01 75 00 01 70"},
      {"connect_empty_client_id", empty_id, "10 0c 00 04 4d 51 54 54 04 02 00 00 00 00"},
      {"connack_session_present", Connack{true, ConnectReturnCode::accepted}, "20 02 01 00"},
      {"connack_not_authorized", Connack{false, ConnectReturnCode::not_authorized}, "20 02 00 05"},
      {"publish_qos0", qos0, "30 07 00 03 61 2f 62 68 69"},
      {"publish_qos1_dup_retain", qos1, "3b 09 00 03 61 2f 62 00 0a 68 69"},
      {"publish_empty_payload", empty, "30 03 00 01 74"},
      {"puback", Puback{10}, "40 02 00 0a"},
      {"pubrec", Pubrec{10}, "50 02 00 0a"},
      {"pubrel", Pubrel{10}, "62 02 00 0a"},
      {"pubcomp", Pubcomp{0xBEEF}, "70 02 be ef"},
      {"subscribe", Subscribe{1, {{"a/#", QoS::at_least_once}, {"+/b", QoS::at_most_once}}},
       "82 0e 00 01 00 03 61 2f 23 01 00 03 2b 2f 62 00"},
      {"suback", Suback{1, {1, kSubackFailure}}, "90 04 00 01 01 80"},
      {"unsubscribe", Unsubscribe{2, {"a/#"}}, "a2 07 00 02 00 03 61 2f 23"},
      {"unsuback", Unsuback{2}, "b0 02 00 02"},
      {"pingreq", Pingreq{}, "c0 00"},
      {"pingresp", Pingresp{}, "d0 00"},
      {"disconnect", Disconnect{}, "e0 00"},
  };
}

TEST(MqttCodec, EveryPacketTypeEncodesToItsGoldenBytes) {
  for (const auto& g : goldens()) {
    auto wire = encode(g.packet);
    ASSERT_TRUE(wire) << g.name << ": " << wire.error().message();
    EXPECT_EQ(to_hex(*wire), to_hex(hex(g.wire))) << g.name;
  }
}

TEST(MqttCodec, EveryPacketTypeDecodesFromItsGoldenBytes) {
  for (const auto& g : goldens()) {
    auto packet = decode_one(hex(g.wire));
    ASSERT_TRUE(packet) << g.name << ": " << packet.error().message();
    EXPECT_EQ(*packet, g.packet) << g.name;
  }
}

TEST(MqttCodec, AllFourteenPacketTypesAreCovered) {
  std::set<PacketType> seen;
  for (const auto& g : goldens())
    seen.insert(packet_type(g.packet));
  EXPECT_EQ(seen.size(), 14u);
  EXPECT_EQ(packet_type_name(PacketType::unsubscribe), "UNSUBSCRIBE");
}

TEST(MqttCodec, NodeSdkConnectDecodes) {
  // What azure-iot-device-mqtt 1.16.4 sends: clean session 0, keep-alive 180, user + password.
  const std::string user =
      "myhub.azure-devices.net/dev1/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1."
      "18.4";
  Connect c;
  c.clean_session = false;
  c.keep_alive = 180;
  c.client_id = "dev1";
  c.username = user;
  c.password = payload("SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1&sig=x");
  auto wire = encode(c);
  ASSERT_TRUE(wire);
  EXPECT_EQ(std::to_integer<int>((*wire)[0]), 0x10);
  auto back = decode_one(*wire);
  ASSERT_TRUE(back);
  EXPECT_EQ(std::get<Connect>(*back), c);
}

// --- Remaining length ---------------------------------------------------------------------------

TEST(MqttCodec, RemainingLengthUsesOneToFourBytes) {
  struct Case {
    std::uint32_t value;
    const char* encoded;
  };
  for (const Case& c : std::initializer_list<Case>{{0, "00"},
                                                   {127, "7f"},
                                                   {128, "80 01"},
                                                   {16383, "ff 7f"},
                                                   {16384, "80 80 01"},
                                                   {2097151, "ff ff 7f"},
                                                   {2097152, "80 80 80 01"},
                                                   {268435455, "ff ff ff 7f"}}) {
    auto header = parse_fixed_header(hex(std::string("30 ") + c.encoded), kBig);
    ASSERT_TRUE(header) << c.encoded;
    ASSERT_TRUE(*header) << c.encoded;
    EXPECT_EQ((*header)->remaining_length, c.value) << c.encoded;
    EXPECT_EQ((*header)->header_size, 1 + hex(c.encoded).size());
  }
}

TEST(MqttCodec, EncoderWritesMultiByteRemainingLength) {
  Publish p{false, QoS::at_most_once, false, "t", 0, std::vector<std::byte>(200, std::byte{'x'})};
  auto wire = encode(p);
  ASSERT_TRUE(wire);
  ASSERT_EQ(wire->size(), 1 + 2 + 203u);
  EXPECT_EQ(to_hex(std::span(*wire).first(6)), "30 cb 01 00 01 74");
}

TEST(MqttCodec, FifthRemainingLengthByteIsMalformed) {
  EXPECT_EQ(decode_error("30 ff ff ff ff 01", kBig), Errc::malformed_remaining_length);
  EXPECT_EQ(decode_error("30 80 80 80 80 00", kBig), Errc::malformed_remaining_length);
}

TEST(MqttCodec, IncompleteRemainingLengthWaitsForMoreBytes) {
  auto header = parse_fixed_header(hex("30 ff ff"), kBig);
  ASSERT_TRUE(header);
  EXPECT_FALSE(*header);
}

// --- Size limit ---------------------------------------------------------------------------------

TEST(MqttCodec, RemainingLengthOverTheLimitIsRefusedFromTheHeaderAlone) {
  // 256 KiB + 65,539 is the largest body; one more is refused before any body byte arrives.
  const std::uint32_t limit = max_remaining_length(kDefaultMaxPayloadBytes);
  EXPECT_EQ(limit, 262144u + 65539u);
  auto encode_len = [](std::uint32_t v) {
    std::string s = "30";
    do {
      std::uint8_t d = v % 128;
      v /= 128;
      if (v) d |= 0x80;
      char buf[4];
      std::snprintf(buf, sizeof buf, " %02x", d);
      s += buf;
    } while (v);
    return s;
  };
  auto at = parse_fixed_header(hex(encode_len(limit)), kDefaultMaxPayloadBytes);
  ASSERT_TRUE(at);
  ASSERT_TRUE(*at);
  auto over = parse_fixed_header(hex(encode_len(limit + 1)), kDefaultMaxPayloadBytes);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), Errc::packet_too_large);
}

TEST(MqttCodec, PublishPayloadOverTheLimitIsTooLargeEvenWithAShortTopic) {
  Publish p{false, QoS::at_most_once, false, "t", 0, std::vector<std::byte>(101, std::byte{1})};
  auto wire = encode(p);
  ASSERT_TRUE(wire);
  EXPECT_EQ(decode_one(*wire, 101).error(), core::ErrorCode{});
  EXPECT_EQ(decode_one(*wire, 100).error(), Errc::packet_too_large);
}

TEST(MqttCodec, DefaultLimitAcceptsA256KiBPayload) {
  Publish p{false, QoS::at_least_once,
            false, "devices/d/messages/events/",
            7,     std::vector<std::byte>(kDefaultMaxPayloadBytes, std::byte{'a'})};
  auto wire = encode(p);
  ASSERT_TRUE(wire);
  auto back = decode_one(*wire);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(std::get<Publish>(*back).payload.size(), kDefaultMaxPayloadBytes);
  p.payload.push_back(std::byte{'a'});
  EXPECT_EQ(decode_one(*encode(p)).error(), Errc::packet_too_large);
}

// --- Fixed header -------------------------------------------------------------------------------

TEST(MqttCodec, ReservedPacketTypesAreRefused) {
  EXPECT_EQ(decode_error("00 00"), Errc::reserved_packet_type);
  EXPECT_EQ(decode_error("f0 00"), Errc::reserved_packet_type);
}

TEST(MqttCodec, ReservedFlagsMustMatchThePacketType) {
  EXPECT_EQ(decode_error("11 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 61"),
            Errc::invalid_fixed_header_flags);
  EXPECT_EQ(decode_error("21 02 00 00"), Errc::invalid_fixed_header_flags);
  EXPECT_EQ(decode_error("42 02 00 0a"), Errc::invalid_fixed_header_flags);
  EXPECT_EQ(decode_error("60 02 00 0a"), Errc::invalid_fixed_header_flags);  // PUBREL needs 0010
  EXPECT_EQ(decode_error("80 06 00 01 00 01 61 00"), Errc::invalid_fixed_header_flags);
  EXPECT_EQ(decode_error("a0 05 00 02 00 01 61"), Errc::invalid_fixed_header_flags);
  EXPECT_EQ(decode_error("c1 00"), Errc::invalid_fixed_header_flags);
  EXPECT_EQ(decode_error("e8 00"), Errc::invalid_fixed_header_flags);
}

TEST(MqttCodec, PublishWithBothQosBitsIsRefused) {
  EXPECT_EQ(decode_error("36 05 00 01 74 00 01"), Errc::invalid_qos);
}

TEST(MqttCodec, DupOnQos0PublishIsRefused) {
  EXPECT_EQ(decode_error("38 03 00 01 74"), Errc::invalid_fixed_header_flags);
  EXPECT_EQ(encode_error(Publish{true, QoS::at_most_once, false, "t", 0, {}}),
            Errc::invalid_fixed_header_flags);
}

// --- Bodies -------------------------------------------------------------------------------------

TEST(MqttCodec, TruncatedBodiesAreRefused) {
  // Remaining length promises more than the fields carry.
  EXPECT_EQ(decode_error("10 05 00 04 4d 51 54"), Errc::truncated_packet);  // inside the name
  EXPECT_EQ(decode_error("30 03 00 05 74"), Errc::truncated_packet);        // topic length
  EXPECT_EQ(decode_error("32 03 00 01 74"), Errc::truncated_packet);        // QoS 1, no id
  EXPECT_EQ(decode_error("40 01 00"), Errc::truncated_packet);
  EXPECT_EQ(decode_error("20 01 00"), Errc::truncated_packet);
  EXPECT_EQ(decode_error("82 04 00 01 00 01"), Errc::truncated_packet);     // filter cut short
  EXPECT_EQ(decode_error("82 05 00 01 00 01 61"), Errc::truncated_packet);  // no QoS byte
}

TEST(MqttCodec, PartialPacketsWaitForTheRest) {
  Decoder d;
  const auto wire = hex("3b 09 00 03 61 2f 62 00 0a 68 69");
  for (std::size_t i = 0; i + 1 < wire.size(); ++i) {
    d.feed(std::span(wire).subspan(i, 1));
    auto next = d.next();
    ASSERT_TRUE(next);
    EXPECT_FALSE(*next) << "after byte " << i;
  }
  d.feed(std::span(wire).last(1));
  auto next = d.next();
  ASSERT_TRUE(next);
  ASSERT_TRUE(*next);
  EXPECT_EQ(std::get<Publish>(**next).packet_id, 10);
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(MqttCodec, SeveralPacketsInOneChunkComeOutInOrder) {
  Decoder d;
  d.feed(hex("c0 00 40 02 00 0a e0 00 c0"));
  std::vector<PacketType> types;
  while (true) {
    auto next = d.next();
    ASSERT_TRUE(next);
    if (!*next) break;
    types.push_back(packet_type(**next));
  }
  EXPECT_EQ(types, (std::vector<PacketType>{PacketType::pingreq, PacketType::puback,
                                            PacketType::disconnect}));
  EXPECT_EQ(d.buffered(), 1u);
}

TEST(MqttCodec, DecoderErrorIsFinal) {
  Decoder d;
  d.feed(hex("f0 00"));
  EXPECT_EQ(d.next().error(), Errc::reserved_packet_type);
  d.feed(hex("c0 00"));
  EXPECT_EQ(d.next().error(), Errc::reserved_packet_type);
}

TEST(MqttCodec, TrailingBytesAreRefused) {
  EXPECT_EQ(decode_error("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 01 61 00"), Errc::trailing_bytes);
  EXPECT_EQ(decode_error("40 03 00 0a 00"), Errc::trailing_bytes);
  EXPECT_EQ(decode_error("20 03 00 00 00"), Errc::trailing_bytes);
  EXPECT_EQ(decode_error("c0 01 00"), Errc::trailing_bytes);
  EXPECT_EQ(decode_error("e0 01 00"), Errc::trailing_bytes);
}

TEST(MqttCodec, PacketIdZeroIsRefused) {
  EXPECT_EQ(decode_error("32 05 00 01 74 00 00"), Errc::zero_packet_id);
  EXPECT_EQ(decode_error("40 02 00 00"), Errc::zero_packet_id);
  EXPECT_EQ(decode_error("62 02 00 00"), Errc::zero_packet_id);
  EXPECT_EQ(decode_error("82 06 00 00 00 01 61 00"), Errc::zero_packet_id);
  EXPECT_EQ(decode_error("a2 05 00 00 00 01 61"), Errc::zero_packet_id);
  EXPECT_EQ(decode_error("90 03 00 00 00"), Errc::zero_packet_id);
  EXPECT_EQ(encode_error(Publish{false, QoS::at_least_once, false, "t", 0, {}}),
            Errc::zero_packet_id);
  EXPECT_EQ(encode_error(Puback{0}), Errc::zero_packet_id);
  EXPECT_EQ(encode_error(Subscribe{0, {{"a", QoS::at_most_once}}}), Errc::zero_packet_id);
}

// --- UTF-8 (MQTT-1.5.3) -------------------------------------------------------------------------

TEST(MqttCodec, Utf8RulesRefuseIllFormedNulAndSurrogates) {
  EXPECT_TRUE(validate_utf8("plain ascii"));
  EXPECT_TRUE(validate_utf8("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_TRUE(validate_utf8("\xf4\x8f\xbf\xbf"));                                 // U+10FFFF
  EXPECT_TRUE(validate_utf8("\xef\xbb\xbf"));                         // U+FEFF is allowed and kept
  for (std::string_view bad : {std::string_view("a\0b", 3),           // U+0000
                               std::string_view("\xed\xa0\x80"),      // U+D800 surrogate
                               std::string_view("\xed\xbf\xbf"),      // U+DFFF surrogate
                               std::string_view("\xc0\xaf"),          // overlong '/'
                               std::string_view("\xe0\x80\xaf"),      // overlong
                               std::string_view("\xf0\x80\x80\xaf"),  // overlong
                               std::string_view("\xf4\x90\x80\x80"),  // > U+10FFFF
                               std::string_view("\xff"), std::string_view("\x80"),
                               std::string_view("\xc3"),  // truncated sequence
                               std::string_view("\xe2\x82"), std::string_view("\xc3\x28")}) {
    EXPECT_EQ(validate_utf8(bad).error(), Errc::invalid_utf8) << to_hex(bytes_of(bad));
  }
}

TEST(MqttCodec, InvalidUtf8InAnyStringFieldIsRefused) {
  // Topic with a surrogate, client id with U+0000, filter with a lone continuation byte.
  EXPECT_EQ(decode_error("30 05 00 03 ed a0 80"), Errc::invalid_utf8);
  EXPECT_EQ(decode_error("10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 00"), Errc::invalid_utf8);
  EXPECT_EQ(decode_error("82 06 00 01 00 01 80 00"), Errc::invalid_utf8);
  EXPECT_EQ(decode_error("a2 05 00 01 00 01 ff"), Errc::invalid_utf8);
  EXPECT_EQ(encode_error(Publish{false, QoS::at_most_once, false, "\xff", 0, {}}),
            Errc::invalid_utf8);
}

// --- Topic names and filters --------------------------------------------------------------------

TEST(MqttCodec, TopicNameRules) {
  for (std::string_view ok :
       {"a", "/", "a/b/c", "devices/d/messages/events/", "$iothub/twin/GET/?$rid=1", "a//b", " "}) {
    EXPECT_TRUE(validate_topic_name(ok)) << ok;
  }
  for (std::string_view bad : {"", "a/+/b", "a/#", "+", "#", "a+b"}) {
    EXPECT_EQ(validate_topic_name(bad).error(), Errc::invalid_topic_name) << bad;
  }
}

TEST(MqttCodec, PublishTopicWithWildcardOrEmptyIsRefused) {
  EXPECT_EQ(decode_error("30 03 00 01 23"), Errc::invalid_topic_name);
  EXPECT_EQ(decode_error("30 05 00 03 61 2f 2b"), Errc::invalid_topic_name);
  EXPECT_EQ(decode_error("30 02 00 00"), Errc::invalid_topic_name);
}

TEST(MqttCodec, TopicFilterRules) {
  for (std::string_view ok : {"#", "+", "a/#", "a/+/b", "+/+", "/#", "a//b", "$iothub/twin/res/#",
                              "devices/+/messages/devicebound/#", "+/#"}) {
    EXPECT_TRUE(validate_topic_filter(ok)) << ok;
  }
  for (std::string_view bad : {"", "a#", "a/#/b", "#/", "a/b#", "a+", "a/+b/c", "++", "##"}) {
    EXPECT_EQ(validate_topic_filter(bad).error(), Errc::invalid_topic_filter) << bad;
  }
}

TEST(MqttCodec, SubscribeWithBadWildcardIsRefused) {
  EXPECT_EQ(decode_error("82 07 00 01 00 02 61 23 00"), Errc::invalid_topic_filter);     // "a#"
  EXPECT_EQ(decode_error("82 08 00 01 00 03 23 2f 61 00"), Errc::invalid_topic_filter);  // "#/a"
  EXPECT_EQ(decode_error("a2 06 00 01 00 02 2b 61"), Errc::invalid_topic_filter);        // "+a"
  EXPECT_EQ(decode_error("82 05 00 01 00 00 00"), Errc::invalid_topic_filter);           // ""
}

// --- SUBSCRIBE / UNSUBSCRIBE / SUBACK ------------------------------------------------------------

TEST(MqttCodec, SubscribeAndUnsubscribeNeedAFilter) {
  EXPECT_EQ(decode_error("82 02 00 01"), Errc::empty_subscription);
  EXPECT_EQ(decode_error("a2 02 00 01"), Errc::empty_subscription);
  EXPECT_EQ(decode_error("90 02 00 01"), Errc::empty_subscription);
  EXPECT_EQ(encode_error(Subscribe{1, {}}), Errc::empty_subscription);
  EXPECT_EQ(encode_error(Unsubscribe{1, {}}), Errc::empty_subscription);
}

TEST(MqttCodec, RequestedQos3OrReservedBitsAreRefused) {
  EXPECT_EQ(decode_error("82 06 00 01 00 01 61 03"), Errc::invalid_qos);
  EXPECT_EQ(decode_error("82 06 00 01 00 01 61 04"), Errc::invalid_qos);
  EXPECT_EQ(decode_error("82 06 00 01 00 01 61 81"), Errc::invalid_qos);
  // QoS 2 is a valid request at the codec level (the session grants QoS 1).
  auto p = decode_one(hex("82 06 00 01 00 01 61 02"));
  ASSERT_TRUE(p);
  EXPECT_EQ(std::get<Subscribe>(*p).subscriptions[0].qos, QoS::exactly_once);
}

TEST(MqttCodec, SubackReturnCodesAreChecked) {
  EXPECT_EQ(decode_error("90 03 00 01 03"), Errc::invalid_return_code);
  EXPECT_EQ(decode_error("90 03 00 01 81"), Errc::invalid_return_code);
  EXPECT_EQ(encode_error(Suback{1, {7}}), Errc::invalid_return_code);
}

// --- CONNECT / CONNACK --------------------------------------------------------------------------

TEST(MqttCodec, ConnectProtocolLevelOtherThan4IsUnacceptable) {
  EXPECT_EQ(decode_error("10 0d 00 04 4d 51 54 54 05 02 00 3c 00 01 61"),
            Errc::unacceptable_protocol_version);
  EXPECT_EQ(decode_error("10 0d 00 04 4d 51 54 54 03 02 00 3c 00 01 61"),
            Errc::unacceptable_protocol_version);
  // MQTT 3.1 ("MQIsdp", level 3) gets the same answer.
  EXPECT_EQ(decode_error("10 0f 00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 61"),
            Errc::unacceptable_protocol_version);
}

TEST(MqttCodec, ConnectProtocolNameOtherThanMqttIsRefused) {
  EXPECT_EQ(decode_error("10 0d 00 04 4d 51 54 53 04 02 00 3c 00 01 61"),
            Errc::invalid_protocol_name);
  EXPECT_EQ(decode_error("10 0d 00 04 6d 71 74 74 04 02 00 3c 00 01 61"),
            Errc::invalid_protocol_name);
}

TEST(MqttCodec, ConnectReservedFlagBitIsRefused) {
  EXPECT_EQ(decode_error("10 0d 00 04 4d 51 54 54 04 03 00 3c 00 01 61"),
            Errc::invalid_connect_flags);
}

TEST(MqttCodec, ConnectWillFlagsMustBeConsistent) {
  // Will QoS 1 without the will flag; will retain without it; will QoS 3 with it.
  EXPECT_EQ(decode_error("10 0d 00 04 4d 51 54 54 04 0a 00 3c 00 01 61"),
            Errc::invalid_connect_flags);
  EXPECT_EQ(decode_error("10 0d 00 04 4d 51 54 54 04 22 00 3c 00 01 61"),
            Errc::invalid_connect_flags);
  EXPECT_EQ(decode_error("10 13 00 04 4d 51 54 54 04 1e 00 3c 00 01 61 00 01 77 00 01 78"),
            Errc::invalid_qos);
  // Will flag set but the will fields are missing.
  EXPECT_EQ(decode_error("10 0d 00 04 4d 51 54 54 04 06 00 3c 00 01 61"), Errc::truncated_packet);
  // A will topic must be a valid topic name.
  EXPECT_EQ(decode_error("10 13 00 04 4d 51 54 54 04 06 00 3c 00 01 61 00 01 23 00 01 78"),
            Errc::invalid_topic_name);
}

TEST(MqttCodec, PasswordWithoutUserNameIsRefused) {
  EXPECT_EQ(decode_error("10 10 00 04 4d 51 54 54 04 42 00 3c 00 01 61 00 01 70"),
            Errc::invalid_connect_flags);
  Connect c;
  c.client_id = "a";
  c.password = payload("p");
  EXPECT_EQ(encode_error(c), Errc::invalid_connect_flags);
}

TEST(MqttCodec, ConnackFlagsAndCodesAreChecked) {
  EXPECT_EQ(decode_error("20 02 02 00"), Errc::invalid_connect_flags);
  EXPECT_EQ(decode_error("20 02 00 06"), Errc::invalid_return_code);
  EXPECT_EQ(decode_error("20 02 01 05"), Errc::invalid_return_code);  // MQTT-3.2.2-4
  EXPECT_EQ(encode_error(Connack{true, ConnectReturnCode::not_authorized}),
            Errc::invalid_return_code);
}

// --- Encoder limits -----------------------------------------------------------------------------

TEST(MqttCodec, StringsOver65535BytesDoNotEncode) {
  Connect c;
  c.client_id = std::string(65536, 'a');
  EXPECT_EQ(encode_error(c), Errc::value_too_long);
  c.client_id = std::string(65535, 'a');
  EXPECT_EQ(encode_error(c), core::ErrorCode{});
  Publish p{false, QoS::at_most_once, false, std::string(65536, 't'), 0, {}};
  EXPECT_EQ(encode_error(p), Errc::value_too_long);
}

TEST(MqttCodec, EncodeLeavesOutputUntouchedOnError) {
  std::vector<std::byte> out = hex("c0 00");
  EXPECT_FALSE(encode(Puback{0}, out));
  EXPECT_EQ(to_hex(out), "c0 00");
  EXPECT_TRUE(encode(Pingresp{}, out));
  EXPECT_EQ(to_hex(out), "c0 00 d0 00");
}

// --- Errors --------------------------------------------------------------------------------------

TEST(MqttErrors, CategoryNameAndMessages) {
  const core::ErrorCode ec = Errc::qos2_not_supported;
  EXPECT_STREQ(ec.category().name(), "edgehub.mqtt");
  EXPECT_EQ(ec.message(), "QoS 2 PUBLISH is not supported");
  for (int v = 1; v <= static_cast<int>(Errc::value_too_long); ++v) {
    EXPECT_NE(core::ErrorCode(v, mqtt_category()).message(), "unknown MQTT error") << v;
  }
}

TEST(MqttErrors, WireReactionTable) {
  auto code = [](core::ErrorCode ec) { return wire_reaction(ec).connack; };
  EXPECT_EQ(code(Errc::unacceptable_protocol_version), 0x01);
  EXPECT_EQ(code(Errc::identifier_rejected), 0x02);
  EXPECT_EQ(code(Errc::server_unavailable), 0x03);
  EXPECT_EQ(code(Errc::bad_username_or_password), 0x04);
  EXPECT_EQ(code(Errc::not_authorized), 0x05);
  // An authentication error from another module (here a stand-in category) is "not authorized".
  EXPECT_EQ(code(boost::system::errc::make_error_code(boost::system::errc::permission_denied)),
            0x05);
  for (Errc closing : {Errc::malformed_remaining_length, Errc::invalid_utf8, Errc::protocol_error,
                       Errc::qos2_not_supported, Errc::keep_alive_timeout, Errc::packet_too_large,
                       Errc::invalid_protocol_name}) {
    EXPECT_FALSE(wire_reaction(closing).connack) << core::ErrorCode(closing).message();
    EXPECT_TRUE(wire_reaction(closing).close);
  }
  for (Errc local :
       {Errc::inflight_full, Errc::unknown_packet_id, Errc::invalid_state, Errc::value_too_long}) {
    EXPECT_FALSE(wire_reaction(local).close);
  }
}

}  // namespace
}  // namespace edgehub::mqtt_proto::test
