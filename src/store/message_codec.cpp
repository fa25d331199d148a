#include "store/message_codec.hpp"

#include <chrono>
#include <cstring>
#include <string>

#include "edgehub/store/errors.hpp"

namespace edgehub::store {
namespace {

void put_varint(std::uint64_t v, std::vector<std::byte>& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::byte>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::byte>(v));
}

void put_bytes(const void* data, std::size_t n, std::vector<std::byte>& out) {
  put_varint(n, out);
  const auto* p = static_cast<const std::byte*>(data);
  out.insert(out.end(), p, p + n);
}

void put_string(const std::string& s, std::vector<std::byte>& out) {
  put_bytes(s.data(), s.size(), out);
}

class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}

  bool u8(std::uint8_t& v) {
    if (pos_ >= in_.size()) return false;
    v = static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      std::uint8_t b = 0;
      if (!u8(b)) return false;
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;  // more than 10 bytes: not a varint we wrote
  }
  bool i64(std::int64_t& v) {
    if (in_.size() - pos_ < 8) return false;
    std::uint64_t u = 0;
    for (int i = 0; i < 8; ++i)
      u |= static_cast<std::uint64_t>(in_[pos_ + i]) << (8 * i);
    pos_ += 8;
    v = static_cast<std::int64_t>(u);
    return true;
  }
  bool length(std::size_t& n) {
    std::uint64_t v = 0;
    if (!varint(v) || v > in_.size() - pos_) return false;
    n = static_cast<std::size_t>(v);
    return true;
  }
  bool string(std::string& s) {
    std::size_t n = 0;
    if (!length(n)) return false;
    s.assign(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  bool bytes(std::vector<std::byte>& b) {
    std::size_t n = 0;
    if (!length(n)) return false;
    b.assign(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
             in_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return true;
  }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
};

std::size_t varint_size(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

std::size_t field_size(std::size_t n) noexcept {
  return varint_size(n) + n;
}

}  // namespace

std::size_t encoded_size(const core::Message& m) noexcept {
  std::size_t n =
      2 + field_size(m.origin.device.size()) + field_size(m.origin.module.size()) + 8 + 1;
  for (const auto& v : m.sys)
    n += v ? 1 + field_size(v->size()) : 0;
  n += varint_size(m.app.size());
  for (const auto& p : m.app)
    n += field_size(p.name.size()) + 1 + (p.value ? field_size(p.value->size()) : 0);
  return n + field_size(m.body.size());
}

void encode_message(const core::Message& m, std::vector<std::byte>& out) {
  out.clear();
  out.reserve(encoded_size(m));
  out.push_back(static_cast<std::byte>(kMessageFormat));
  out.push_back(static_cast<std::byte>(m.kind));
  put_string(m.origin.device, out);
  put_string(m.origin.module, out);
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(m.enqueued_at.time_since_epoch())
          .count();
  const auto u = static_cast<std::uint64_t>(us);
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<std::byte>((u >> (8 * i)) & 0xff));
  std::uint8_t present = 0;
  for (const auto& v : m.sys)
    present += v ? 1 : 0;
  out.push_back(static_cast<std::byte>(present));
  for (std::size_t i = 0; i < m.sys.size(); ++i) {
    if (!m.sys[i]) continue;
    out.push_back(static_cast<std::byte>(i));
    put_string(*m.sys[i], out);
  }
  put_varint(m.app.size(), out);
  for (const auto& p : m.app) {
    put_string(p.name, out);
    out.push_back(static_cast<std::byte>(p.value ? 1 : 0));
    if (p.value) put_string(*p.value, out);
  }
  put_bytes(m.body.data(), m.body.size(), out);
}

std::vector<std::byte> encode_message(const core::Message& message) {
  std::vector<std::byte> out;
  encode_message(message, out);
  return out;
}

core::Result<core::Message> decode_message(std::span<const std::byte> in) {
  Reader r(in);
  core::Message m;
  std::uint8_t format = 0;
  std::uint8_t kind = 0;
  if (!r.u8(format) || format != kMessageFormat) return Errc::corrupt;
  if (!r.u8(kind) ||
      kind > static_cast<std::uint8_t>(core::MessageKind::twin_change_notification)) {
    return Errc::corrupt;
  }
  m.kind = static_cast<core::MessageKind>(kind);
  std::int64_t us = 0;
  if (!r.string(m.origin.device) || !r.string(m.origin.module) || !r.i64(us)) return Errc::corrupt;
  // Only times the clock can represent (about +-292 years around 1970 in nanoseconds); the
  // conversion of anything else would overflow.
  constexpr auto kLimit =
      std::chrono::duration_cast<std::chrono::microseconds>(core::SystemTime::duration::max())
          .count();
  if (us > kLimit || us < -kLimit) return Errc::corrupt;
  m.enqueued_at = core::SystemTime(
      std::chrono::duration_cast<core::SystemTime::duration>(std::chrono::microseconds(us)));
  std::uint8_t present = 0;
  if (!r.u8(present) || present > core::kSystemPropertyCount) return Errc::corrupt;
  for (std::uint8_t i = 0; i < present; ++i) {
    std::uint8_t index = 0;
    if (!r.u8(index) || index >= core::kSystemPropertyCount || m.sys[index]) return Errc::corrupt;
    std::string value;
    if (!r.string(value)) return Errc::corrupt;
    m.sys[index] = std::move(value);
  }
  std::uint64_t count = 0;
  if (!r.varint(count) || count > in.size()) return Errc::corrupt;
  m.app.reserve(static_cast<std::size_t>(count));
  for (std::uint64_t i = 0; i < count; ++i) {
    core::Property p;
    std::uint8_t has_value = 0;
    if (!r.string(p.name) || !r.u8(has_value) || has_value > 1) return Errc::corrupt;
    if (has_value) {
      std::string value;
      if (!r.string(value)) return Errc::corrupt;
      p.value = std::move(value);
    }
    m.app.push_back(std::move(p));
  }
  if (!r.bytes(m.body) || !r.at_end()) return Errc::corrupt;
  return m;
}

}  // namespace edgehub::store
