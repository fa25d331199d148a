#include "edgehub/amqp_core/message_codec.hpp"

#include <gtest/gtest.h>

#include "edgehub/amqp_core/errors.hpp"
#include "test_messages.hpp"

namespace edgehub::amqp_core {
namespace {

using core::SystemProperty;
using testing::b;
using testing::encode;

TEST(AmqpMessageCodec, TelemetryAsNodeSendsIt) {
  auto bytes = encode([](pn_message_t* m) {
    pn_data_put_string(pn_message_id(m), b("msg-1"));
    pn_data_put_string(pn_message_correlation_id(m), b("corr-1"));
    pn_message_set_address(m, "/devices/dev1/messages/events");
    pn_message_set_content_type(m, "application/json");
    pn_message_set_content_encoding(m, "utf-8");
    pn_message_set_expiry_time(m, 1893456000000);  // 2030-01-01T00:00:00Z
    testing::put_string_map(pn_message_properties(m),
                            {{"alert", "high temp"},
                             {"iothub-outputname", "out1"},
                             {"iothub-creation-time-utc", "2026-11-29T10:00:00Z"}});
    testing::put_string_map(pn_message_annotations(m),
                            {{"iothub-interface-id", "urn:x"}, {"dt-subject", "thermostat1"}},
                            true);
    testing::set_data_body(m, R"({"temp":81})");
  });
  auto d = decode_message(bytes);
  ASSERT_TRUE(d) << d.error().message();
  const auto& msg = d->message;
  EXPECT_EQ(msg.sys_prop(SystemProperty::message_id), "msg-1");
  EXPECT_EQ(d->message_id->type, MessageId::Type::string);
  EXPECT_EQ(msg.sys_prop(SystemProperty::correlation_id), "corr-1");
  EXPECT_EQ(msg.sys_prop(SystemProperty::to), "/devices/dev1/messages/events");
  EXPECT_EQ(msg.sys_prop(SystemProperty::content_type), "application/json");
  EXPECT_EQ(msg.sys_prop(SystemProperty::content_encoding), "utf-8");
  EXPECT_EQ(msg.sys_prop(SystemProperty::absolute_expiry_time), "2030-01-01T00:00:00.000Z");
  EXPECT_EQ(msg.sys_prop(SystemProperty::output_name), "out1");
  EXPECT_EQ(msg.sys_prop(SystemProperty::creation_time), "2026-11-29T10:00:00Z");
  EXPECT_EQ(msg.sys_prop(SystemProperty::interface_id), "urn:x");
  EXPECT_EQ(msg.sys_prop(SystemProperty::component), "thermostat1");
  ASSERT_EQ(msg.app.size(), 1u);
  EXPECT_EQ(msg.app[0].name, "alert");
  EXPECT_EQ(msg.app[0].value, "high temp");
  EXPECT_EQ(msg.body_text(), R"({"temp":81})");
}

TEST(AmqpMessageCodec, MessageIdsOfEveryType) {
  auto with_id = [](auto put) {
    return decode_message(encode([&](pn_message_t* m) { put(pn_message_id(m)); }));
  };
  auto s = with_id([](pn_data_t* d) { pn_data_put_string(d, b("abc")); });
  EXPECT_EQ(s->message_id, (MessageId{MessageId::Type::string, "abc"}));
  auto u = with_id([](pn_data_t* d) { pn_data_put_ulong(d, 18446744073709551615ull); });
  EXPECT_EQ(u->message_id, (MessageId{MessageId::Type::ulong, "18446744073709551615"}));
  auto id = with_id([](pn_data_t* d) {
    pn_uuid_t uuid;
    const unsigned char raw[16] = {0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67, 0x89,
                                   0x0A, 0xBC, 0xDE, 0xF0, 0x12, 0x34, 0x56, 0x78};
    std::memcpy(uuid.bytes, raw, 16);
    pn_data_put_uuid(d, uuid);
  });
  EXPECT_EQ(id->message_id,
            (MessageId{MessageId::Type::uuid, "abcdef01-2345-6789-0abc-def012345678"}));
  EXPECT_EQ(id->message.sys_prop(SystemProperty::message_id),
            "abcdef01-2345-6789-0abc-def012345678");
  auto bin = with_id([](pn_data_t* d) { pn_data_put_binary(d, b("\x01\x02")); });
  EXPECT_EQ(bin->message_id, (MessageId{MessageId::Type::binary, "\x01\x02"}));
}

TEST(AmqpMessageCodec, ScalarApplicationPropertiesBecomeText) {
  auto d = decode_message(encode([](pn_message_t* m) {
    auto* p = pn_message_properties(m);
    pn_data_put_map(p);
    pn_data_enter(p);
    pn_data_put_string(p, b("IoThub-status"));
    pn_data_put_int(p, 200);
    pn_data_put_string(p, b("flag"));
    pn_data_put_bool(p, true);
    pn_data_put_string(p, b("nothing"));
    pn_data_put_null(p);
    pn_data_exit(p);
  }));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->message.find_app("iothub-status")->value, "200");
  EXPECT_EQ(d->message.find_app("flag")->value, "true");
  ASSERT_NE(d->message.find_app("nothing"), nullptr);
  EXPECT_FALSE(d->message.find_app("nothing")->value);
}

TEST(AmqpMessageCodec, CompositePropertyValueIsRefused) {
  auto d = decode_message(encode([](pn_message_t* m) {
    auto* p = pn_message_properties(m);
    pn_data_put_map(p);
    pn_data_enter(p);
    pn_data_put_string(p, b("list"));
    pn_data_put_list(p);
    pn_data_exit(p);
  }));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error(), Errc::invalid_property);
}

TEST(AmqpMessageCodec, StringBodyAndGarbage) {
  auto d = decode_message(
      encode([](pn_message_t* m) { pn_data_put_string(pn_message_body(m), b("token")); }));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->message.body_text(), "token");
  const std::byte garbage[] = {std::byte{0x00}, std::byte{0x53}, std::byte{0x77}, std::byte{0xff}};
  auto bad = decode_message(garbage);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), Errc::malformed_message);
  // An empty transfer (Proton's decoder would abort on it; found by fuzz_amqp_connection).
  EXPECT_EQ(decode_message({}).error(), Errc::malformed_message);
}

TEST(AmqpMessageCodec, EncodeForAModuleInputRoundTrips) {
  core::Message msg;
  msg.set_body("hello");
  msg.sys_prop(SystemProperty::message_id) = "0f8fad5b-d9cb-469f-a165-70867728950e";
  msg.sys_prop(SystemProperty::correlation_id) = "corr";
  msg.sys_prop(SystemProperty::content_type) = "application/json";
  msg.sys_prop(SystemProperty::connection_device_id) = "dev1";
  msg.sys_prop(SystemProperty::output_name) = "never-sent";
  msg.set_app("k", "v");
  OutboundExtras extras;
  extras.annotations.emplace_back("x-opt-input-name", std::string("in1"));
  auto bytes = encode_message(msg, extras);
  ASSERT_TRUE(bytes);
  auto d = decode_message(*bytes);
  ASSERT_TRUE(d);
  // A UUID-shaped id travels as an AMQP uuid and reads back as the same text.
  EXPECT_EQ(d->message_id->type, MessageId::Type::uuid);
  EXPECT_EQ(d->message.sys_prop(SystemProperty::message_id),
            msg.sys_prop(SystemProperty::message_id));
  EXPECT_EQ(d->correlation_id->type, MessageId::Type::string);
  EXPECT_EQ(d->message.body_text(), "hello");
  EXPECT_EQ(d->message.find_app("k")->value, "v");
  EXPECT_EQ(d->message.find_app("iothub-outputname"), nullptr);
  EXPECT_EQ(*d->annotation("x-opt-input-name"), "in1");
  EXPECT_EQ(*d->annotation("iothub-connection-device-id"), "dev1");
}

TEST(AmqpMessageCodec, Timestamps) {
  EXPECT_EQ(format_timestamp_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(parse_timestamp_ms("2030-01-01T00:00:00.000Z"), 1893456000000);
  EXPECT_EQ(parse_timestamp_ms("2030-01-01T00:00:00Z"), 1893456000000);
  EXPECT_EQ(parse_timestamp_ms("2030-01-01T00:00:00.5Z"), 1893456000500);
  EXPECT_FALSE(parse_timestamp_ms("2030-01-01 00:00:00Z"));
  EXPECT_FALSE(parse_timestamp_ms("soon"));
}

}  // namespace
}  // namespace edgehub::amqp_core
