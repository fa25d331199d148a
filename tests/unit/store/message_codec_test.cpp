#include "store/message_codec.hpp"

#include <gtest/gtest.h>

#include "edgehub/store/errors.hpp"

namespace edgehub::store {
namespace {

core::Message full_message() {
  core::Message m;
  m.kind = core::MessageKind::twin_change_notification;
  m.origin = core::ClientId{"sensor-1", "filter"};
  m.body = {std::byte{0}, std::byte{0xff}, std::byte{0x80}, std::byte{'x'}};
  m.sys_prop(core::SystemProperty::message_id) = "mid-1";
  m.sys_prop(core::SystemProperty::output_name) = "out1";
  m.sys_prop(core::SystemProperty::version) = "";  // present but empty is not absent
  m.app.push_back(core::Property{"temp", "21.5"});
  m.app.push_back(core::Property{"flag", std::nullopt});
  m.app.push_back(core::Property{"empty", ""});
  // Whole microseconds: the stored precision.
  m.enqueued_at = core::SystemTime(std::chrono::microseconds(1'700'000'000'123'456LL));
  return m;
}

void expect_same(const core::Message& a, const core::Message& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.origin, b.origin);
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(a.sys, b.sys);
  EXPECT_EQ(a.app, b.app);
  EXPECT_EQ(a.enqueued_at, b.enqueued_at);
}

TEST(MessageCodec, RoundTripsEveryField) {
  const auto m = full_message();
  auto decoded = decode_message(encode_message(m));
  ASSERT_TRUE(decoded) << decoded.error().message();
  expect_same(*decoded, m);
  ASSERT_TRUE(decoded->app[1].value == std::nullopt);
  ASSERT_TRUE(decoded->app[2].value.has_value());
}

TEST(MessageCodec, EncodedSizeIsExact) {
  core::Message big;
  big.body.assign(300'000, std::byte{7});
  big.app.push_back(core::Property{std::string(200, 'k'), std::nullopt});
  for (const auto& m : {full_message(), core::Message{}, big}) {
    EXPECT_EQ(encoded_size(m), encode_message(m).size());
  }
}

TEST(MessageCodec, RoundTripsEmptyMessage) {
  core::Message m;
  auto decoded = decode_message(encode_message(m));
  ASSERT_TRUE(decoded);
  expect_same(*decoded, m);
}

TEST(MessageCodec, RoundTripsLargeBodyWithMultiByteLengths) {
  core::Message m;
  m.body.assign(300'000, std::byte{7});
  m.app.push_back(core::Property{std::string(200, 'k'), std::string(20'000, 'v')});
  auto decoded = decode_message(encode_message(m));
  ASSERT_TRUE(decoded);
  expect_same(*decoded, m);
}

TEST(MessageCodec, EveryTruncationIsRejected) {
  const auto bytes = encode_message(full_message());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_message(std::span(bytes).first(n));
    ASSERT_FALSE(r) << "prefix " << n << " decoded";
    EXPECT_EQ(r.error(), Errc::corrupt);
  }
}

TEST(MessageCodec, TrailingBytesAreRejected) {
  auto bytes = encode_message(full_message());
  bytes.push_back(std::byte{0});
  EXPECT_EQ(decode_message(bytes).error(), Errc::corrupt);
}

TEST(MessageCodec, UnknownFormatAndBadFieldsAreRejected) {
  auto bytes = encode_message(full_message());
  auto bad_format = bytes;
  bad_format[0] = std::byte{2};
  EXPECT_EQ(decode_message(bad_format).error(), Errc::corrupt);
  auto bad_kind = bytes;
  bad_kind[1] = std::byte{9};
  EXPECT_EQ(decode_message(bad_kind).error(), Errc::corrupt);

  core::Message m;
  m.sys_prop(core::SystemProperty::to) = "x";
  auto one = encode_message(m);
  // Layout: format, kind, 0 (device len), 0 (module len), 8 time bytes, count, index...
  ASSERT_EQ(one[12], std::byte{1});
  auto bad_index = one;
  bad_index[13] = std::byte{200};
  EXPECT_EQ(decode_message(bad_index).error(), Errc::corrupt);
  auto overlong_varint = one;
  overlong_varint[2] = std::byte{0xff};
  EXPECT_EQ(decode_message(overlong_varint).error(), Errc::corrupt);
}

TEST(MessageCodec, UnrepresentableTimeIsRejected) {
  // Found by fuzz_store_codec: converting such a time to the clock's nanoseconds overflowed.
  auto bytes = encode_message(core::Message{});
  for (int i = 0; i < 8; ++i)
    bytes[4 + i] = std::byte{0};
  bytes[11] = std::byte{0x7f};  // about +2^62 microseconds
  EXPECT_EQ(decode_message(bytes).error(), Errc::corrupt);
  bytes[11] = std::byte{0x80};  // negative, far before 1970
  EXPECT_EQ(decode_message(bytes).error(), Errc::corrupt);
}

}  // namespace
}  // namespace edgehub::store
