#include "amqp_core/inbound_frame_guard.hpp"

#include <algorithm>
#include <cstring>

namespace edgehub::amqp_core::detail {

namespace {

constexpr std::size_t kFrameHeaderBytes = 8;
constexpr std::uint8_t kAmqpFrameType = 0;
constexpr int kMaxNesting = 32;
constexpr const char* kDecodeError = "amqp:decode-error";
constexpr const char* kIllegalState = "amqp:illegal-state";

// Performative descriptors (AMQP 1.0 part 2.7).
constexpr std::uint64_t kOpen = 0x10;
constexpr std::uint64_t kBegin = 0x11;
constexpr std::uint64_t kAttach = 0x12;
constexpr std::uint64_t kTransfer = 0x14;
constexpr std::uint64_t kDetach = 0x16;
constexpr std::uint64_t kEnd = 0x17;
constexpr std::uint64_t kClose = 0x18;

std::uint64_t read_be(std::span<const std::byte> b, std::size_t width) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i)
    v = (v << 8) | std::to_integer<std::uint64_t>(b[i]);
  return v;
}

enum class Parse { ok, need_more, bad };

/// Reads AMQP-encoded values from a prefix of a frame body; `need_more` when the prefix ends
/// inside the value.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> bytes) : bytes_(bytes) {}

  std::size_t at() const { return at_; }
  bool has(std::size_t n) const { return bytes_.size() - at_ >= n; }
  std::uint8_t peek() const { return std::to_integer<std::uint8_t>(bytes_[at_]); }
  std::span<const std::byte> take(std::size_t n) {
    auto s = bytes_.subspan(at_, n);
    at_ += n;
    return s;
  }

  /// Skips one value of any type, including described values and compound types.
  Parse skip(int depth = 0) {
    if (depth > kMaxNesting) return Parse::bad;
    if (!has(1)) return Parse::need_more;
    const std::uint8_t code = peek();
    if (code == 0x00) {
      ++at_;
      if (auto p = skip(depth + 1); p != Parse::ok) return p;
      return skip(depth + 1);
    }
    ++at_;
    const std::size_t width = fixed_width(code);
    if (width != kVariable) return advance(width);
    const std::size_t size_bytes = (code & 0x10) ? 4 : 1;  // 0xa0/0xc0/0xe0 vs 0xb0/0xd0/0xf0
    if (!has(size_bytes)) return Parse::need_more;
    return advance(read_be(take(size_bytes), size_bytes));
  }

 private:
  static constexpr std::size_t kVariable = static_cast<std::size_t>(-1);

  static std::size_t fixed_width(std::uint8_t code) {
    switch (code >> 4) {
      case 0x4:
        return 0;
      case 0x5:
        return 1;
      case 0x6:
        return 2;
      case 0x7:
        return 4;
      case 0x8:
        return 8;
      case 0x9:
        return 16;
      default:
        return kVariable;
    }
  }

  Parse advance(std::size_t n) {
    if (!has(n)) return Parse::need_more;
    at_ += n;
    return Parse::ok;
  }

  std::span<const std::byte> bytes_;
  std::size_t at_ = 0;
};

/// A field of a performative list as the guard classifies it.
struct Field {
  enum Kind { absent, uint, boolean, other } kind = absent;
  std::uint32_t value = 0;  ///< uint value, or 1/0 for a boolean
};

Field classify(std::span<const std::byte> encoded) {
  const auto code = std::to_integer<std::uint8_t>(encoded[0]);
  switch (code) {
    case 0x40:
      return {Field::absent, 0};
    case 0x43:
      return {Field::uint, 0};
    case 0x52:
      return {Field::uint, static_cast<std::uint32_t>(read_be(encoded.subspan(1), 1))};
    case 0x70:
      return {Field::uint, static_cast<std::uint32_t>(read_be(encoded.subspan(1), 4))};
    case 0x41:
      return {Field::boolean, 1};
    case 0x42:
      return {Field::boolean, 0};
    case 0x56:
      return {Field::boolean, encoded[1] != std::byte{0} ? 1u : 0u};
    default:
      return {Field::other, 0};
  }
}

/// The performative at the start of an AMQP frame body: its descriptor and list fields.
struct Performative {
  std::uint64_t code = 0;
  std::vector<std::span<const std::byte>> fields;  ///< encoded fields, in order

  Field field(std::size_t i) const { return i < fields.size() ? classify(fields[i]) : Field{}; }
};

Parse parse_performative(std::span<const std::byte> body, Performative& out) {
  Reader r(body);
  if (!r.has(1)) return Parse::need_more;
  if (r.peek() != 0x00) return Parse::bad;
  r.take(1);
  if (!r.has(1)) return Parse::need_more;
  switch (r.peek()) {  // Proton dispatches on an unsigned-long descriptor only
    case 0x44:
      r.take(1);
      out.code = 0;
      break;
    case 0x53:
      if (!r.has(2)) return Parse::need_more;
      out.code = std::to_integer<std::uint8_t>(r.take(2)[1]);
      break;
    case 0x80:
      if (!r.has(9)) return Parse::need_more;
      out.code = read_be(r.take(9).subspan(1), 8);
      break;
    default:
      return Parse::bad;
  }
  if (!r.has(1)) return Parse::need_more;
  std::uint32_t count = 0;
  switch (r.peek()) {
    case 0x45:
      r.take(1);
      break;
    case 0xc0:
      if (!r.has(3)) return Parse::need_more;
      count = static_cast<std::uint32_t>(read_be(r.take(3).subspan(2), 1));
      break;
    case 0xd0:
      if (!r.has(9)) return Parse::need_more;
      count = static_cast<std::uint32_t>(read_be(r.take(9).subspan(5), 4));
      break;
    default:
      return Parse::bad;
  }
  // Only the leading fields of the performatives tracked here matter (aborted is field 9).
  const std::uint32_t wanted = std::min<std::uint32_t>(count, 10);
  out.fields.clear();
  for (std::uint32_t i = 0; i < wanted; ++i) {
    const auto start = r.at();
    if (auto p = r.skip(); p != Parse::ok) return p;
    out.fields.push_back(body.subspan(start, r.at() - start));
  }
  return Parse::ok;
}

}  // namespace

InboundFrameGuard::Verdict InboundFrameGuard::inspect(std::span<const std::byte> bytes) {
  std::size_t pos = 0;
  std::size_t frame_start = 0;  // where the frame being read began in `bytes` (0: earlier)
  auto hold = [&](std::size_t want) {
    const auto n = std::min(want - held_.size(), bytes.size() - pos);
    held_.insert(held_.end(), bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                 bytes.begin() + static_cast<std::ptrdiff_t>(pos + n));
    pos += n;
    return held_.size() == want;
  };
  while (pos < bytes.size() && state_ != State::passive) {
    switch (state_) {
      case State::boundary:
        if (held_.empty()) frame_start = pos;
        if (!hold(4)) break;
        if (std::memcmp(held_.data(), "AMQP", 4) == 0) {
          state_ = State::header;
        } else {
          // Before any protocol header this is Proton's "unknown protocol", not a frame.
          state_ = header_seen_ ? State::frame_head : State::passive;
        }
        break;
      case State::header:
        if (!hold(kFrameHeaderBytes)) break;
        header_seen_ = true;
        held_.clear();
        state_ = State::boundary;
        break;
      case State::frame_head: {
        if (!hold(kFrameHeaderBytes)) break;
        frame_size_ = static_cast<std::uint32_t>(read_be(held_, 4));
        const std::uint32_t data_offset = 4 * std::to_integer<std::uint32_t>(held_[4]);
        const auto type = std::to_integer<std::uint8_t>(held_[5]);
        oversized_ = max_frame_bytes_ != 0 && frame_size_ > max_frame_bytes_;
        if (oversized_ || data_offset < kFrameHeaderBytes || data_offset > frame_size_) {
          state_ = State::passive;  // Proton's framing error; it reads nothing after it
          break;
        }
        if (type != kAmqpFrameType || frame_size_ == data_offset) {
          left_in_frame_ = frame_size_ - kFrameHeaderBytes;
          held_.clear();
          state_ = left_in_frame_ == 0 ? State::boundary : State::skip;
          break;
        }
        body_offset_ = data_offset;  // where the body starts
        state_ = State::performative;
        break;
      }
      case State::performative: {
        const bool whole_frame = hold(frame_size_);
        Refusal refusal;
        const auto check = check_performative(refusal);
        if (check == Check::incomplete && !whole_frame) break;
        if (check != Check::passed) {
          if (check == Check::incomplete) {
            refusal = {kDecodeError, "a performative runs past the end of its frame",
                       "decode_error"};
          }
          state_ = State::passive;
          held_.clear();
          return {frame_start, std::move(refusal)};
        }
        left_in_frame_ = frame_size_ - static_cast<std::uint32_t>(held_.size());
        held_.clear();
        state_ = left_in_frame_ == 0 ? State::boundary : State::skip;
        break;
      }
      case State::skip: {
        const auto n = std::min<std::size_t>(left_in_frame_, bytes.size() - pos);
        pos += n;
        left_in_frame_ -= static_cast<std::uint32_t>(n);
        if (left_in_frame_ == 0) state_ = State::boundary;
        break;
      }
      case State::passive:
        break;
    }
  }
  return {bytes.size(), std::nullopt};
}

InboundFrameGuard::Check InboundFrameGuard::check_performative(Refusal& refusal) {
  const auto channel = static_cast<std::uint16_t>(read_be(std::span(held_).subspan(6), 2));
  if (held_.size() <= body_offset_) return Check::incomplete;  // still in the extended header
  const auto body = std::span<const std::byte>(held_).subspan(body_offset_);
  Performative p;
  switch (parse_performative(body, p)) {
    case Parse::need_more:
      return Check::incomplete;
    case Parse::bad:
      refusal = {kDecodeError, "a frame whose performative cannot be decoded", "decode_error"};
      return Check::refused;
    case Parse::ok:
      break;
  }
  // AMQP 1.0 2.4.1: OPEN comes first, once. Unknown descriptors are left to Proton.
  const bool known = p.code >= kOpen && p.code <= kClose;
  if (known && p.code == kOpen && opened_) {
    refusal = {kIllegalState, "a second OPEN on the connection", "illegal_state"};
    return Check::refused;
  }
  if (known && p.code != kOpen && !opened_) {
    refusal = {kIllegalState, "a performative before OPEN", "illegal_state"};
    return Check::refused;
  }
  switch (p.code) {
    case kOpen:
      opened_ = true;
      return Check::passed;
    case kTransfer: {
      const Field handle = p.field(0);
      const Field delivery_id = p.field(1);
      const Field more = p.field(5);
      const Field aborted = p.field(9);
      if (handle.kind == Field::other || delivery_id.kind == Field::other ||
          more.kind == Field::other || aborted.kind == Field::other) {
        refusal = {kDecodeError, "a transfer field of the wrong type", "decode_error"};
        return Check::refused;
      }
      const bool continues = more.value != 0 && aborted.value == 0;
      if (!track_transfer(channel, handle.value, delivery_id.kind == Field::uint, continues)) {
        refusal = {"amqp:invalid-field",
                   "the first transfer of a multi-frame delivery has no delivery-id",
                   "invalid_field"};
        return Check::refused;
      }
      return Check::passed;
    }
    case kAttach:
    case kDetach: {
      // A handle attached again starts with no delivery in progress, as in Proton.
      const auto handle = p.field(p.code == kAttach ? 1 : 0);
      if (handle.kind == Field::uint) {
        continuing_.erase({channel, handle.value});
      } else {
        forget_channel(channel);
      }
      return Check::passed;
    }
    case kBegin:
    case kEnd:
      forget_channel(channel);
      return Check::passed;
    default:
      return Check::passed;
  }
}

bool InboundFrameGuard::track_transfer(std::uint16_t channel, std::uint32_t handle,
                                       bool has_delivery_id, bool continues) {
  const std::pair key{channel, handle};
  if (continues && !has_delivery_id && !continuing_.contains(key)) return false;
  if (continues) {
    continuing_.insert(key);
  } else {
    continuing_.erase(key);
  }
  return true;
}

void InboundFrameGuard::forget_channel(std::uint16_t channel) {
  continuing_.erase(continuing_.lower_bound({channel, 0}),
                    continuing_.upper_bound({channel, UINT32_MAX}));
}

}  // namespace edgehub::amqp_core::detail
