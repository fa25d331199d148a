#pragma once

// AMQP 1.0 at the byte level for the issue 12 suites: an encoder for the few types and
// performatives the cases need (so a case can get any one field wrong) and a reader that splits
// what the gateway sends into protocol headers and frames, decoding each performative with
// Proton's own codec to name the condition the gateway closed, detached or rejected with.

#include <proton/codec.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/amqp/amqp_test_client.hpp"
#include "support/tls/tls_client.hpp"

namespace edgehub::testing::amqp_wire {

// --- encoding (AMQP 1.0 part 1) -------------------------------------------------------------

inline std::string be(std::uint64_t v, int width) {
  std::string out(static_cast<std::size_t>(width), '\0');
  for (int i = width - 1; i >= 0; --i, v >>= 8)
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

inline std::string null() {
  return "\x40";
}
inline std::string boolean(bool b) {
  return b ? "\x41" : "\x42";
}
inline std::string ushort(std::uint16_t v) {
  return "\x60" + be(v, 2);
}
inline std::string uint(std::uint32_t v) {
  return "\x70" + be(v, 4);
}
inline std::string variable(char code8, char code32, const std::string& bytes) {
  if (bytes.size() < 256) return std::string(1, code8) + be(bytes.size(), 1) + bytes;
  return std::string(1, code32) + be(bytes.size(), 4) + bytes;
}
inline std::string binary(const std::string& b) {
  return variable('\xa0', '\xb0', b);
}
inline std::string string(const std::string& s) {
  return variable('\xa1', '\xb1', s);
}
inline std::string symbol(const std::string& s) {
  return variable('\xa3', '\xb3', s);
}
/// A list32 of already encoded fields.
inline std::string list(const std::vector<std::string>& fields) {
  std::string body;
  for (const auto& f : fields)
    body += f;
  return "\xd0" + be(body.size() + 4, 4) + be(fields.size(), 4) + body;
}
/// A value described by a small unsigned long (every descriptor of the core specification).
inline std::string described(std::uint8_t code, const std::string& value) {
  return std::string("\x00\x53", 2) + static_cast<char>(code) + value;
}

// --- frames ---------------------------------------------------------------------------------

inline constexpr std::uint8_t kOpen = 0x10, kBegin = 0x11, kAttach = 0x12, kFlow = 0x13,
                              kTransfer = 0x14, kDisposition = 0x15, kDetach = 0x16, kEnd = 0x17,
                              kClose = 0x18;
inline constexpr std::uint8_t kSaslMechanisms = 0x40, kSaslInit = 0x41, kSaslResponse = 0x43,
                              kSaslOutcome = 0x44;

/// An AMQP frame (type 0) holding one performative and, for a transfer, its payload.
inline std::string frame(std::uint16_t channel, std::uint8_t performative,
                         const std::vector<std::string>& fields, const std::string& payload = "") {
  return amqp_frame(kAmqpFrameType, channel, described(performative, list(fields)) + payload);
}

inline std::string open_frame(const std::string& container = "malformed-test") {
  return frame(0, kOpen, {string(container), string("gw.test.local")});
}
inline std::string begin_frame(std::uint16_t channel = 0) {
  return frame(channel, kBegin, {null(), uint(0), uint(2048), uint(2048)});
}
/// ATTACH of a client sender (role false) whose target is `address`.
inline std::string attach_sender_frame(std::uint16_t channel, std::uint32_t handle,
                                       const std::string& address) {
  return frame(
      channel, kAttach,
      {string("link-" + std::to_string(handle)), uint(handle), boolean(false), null(), null(),
       described(0x28, list({string("source")})), described(0x29, list({string(address)}))});
}
/// A TRANSFER whose payload is one data section of `body`.
inline std::string transfer_frame(std::uint16_t channel, std::uint32_t handle,
                                  std::uint32_t delivery_id, const std::string& body,
                                  bool more = false) {
  return frame(channel, kTransfer,
               {uint(handle), uint(delivery_id), binary(be(delivery_id, 4)), uint(0),
                boolean(false), boolean(more)},
               described(0x75, binary(body)));
}
inline std::string close_frame() {
  return frame(0, kClose, {});
}

inline std::string sasl_init_frame(const std::string& mechanism, const std::string& response) {
  return amqp_frame(
      kSaslFrameType, 0,
      described(kSaslInit, list({symbol(mechanism), binary(response), string("gw.test.local")})));
}

// --- what the gateway sends -----------------------------------------------------------------

/// One frame the gateway sent, as far as the suites look into it.
struct Frame {
  std::uint8_t type = 0;
  std::uint16_t channel = 0;
  std::uint64_t performative = 0;  ///< descriptor code; 0 when the body was not a performative
  std::string condition;           ///< the first error condition inside it (CLOSE, DETACH, ...)
  std::string description;
  int sasl_code = -1;  ///< sasl-outcome code
  bool empty = false;  ///< a frame with no body (heartbeat)
};

namespace detail {

// Finds the first described error (0x1d) in what `data` holds from its current position.
inline bool find_error(pn_data_t* data, Frame& out) {
  while (pn_data_next(data)) {
    switch (pn_data_type(data)) {
      case PN_DESCRIBED: {
        pn_data_enter(data);
        pn_data_next(data);
        const bool is_error = pn_data_type(data) == PN_ULONG && pn_data_get_ulong(data) == 0x1d;
        if (is_error && pn_data_next(data) && pn_data_type(data) == PN_LIST) {
          pn_data_enter(data);
          if (pn_data_next(data) && pn_data_type(data) == PN_SYMBOL) {
            const auto s = pn_data_get_symbol(data);
            out.condition.assign(s.start, s.size);
          }
          if (pn_data_next(data) && pn_data_type(data) == PN_STRING) {
            const auto s = pn_data_get_string(data);
            out.description.assign(s.start, s.size);
          }
          return true;
        }
        const bool found = find_error(data, out);
        pn_data_exit(data);
        if (found) return true;
        break;
      }
      case PN_LIST:
      case PN_MAP:
      case PN_ARRAY: {
        pn_data_enter(data);
        const bool found = find_error(data, out);
        pn_data_exit(data);
        if (found) return true;
        break;
      }
      default:
        break;
    }
  }
  return false;
}

inline Frame decode(std::uint8_t type, std::uint16_t channel, const std::string& body) {
  Frame f;
  f.type = type;
  f.channel = channel;
  f.empty = body.empty();
  if (body.empty()) return f;
  std::unique_ptr<pn_data_t, decltype(&pn_data_free)> data(pn_data(16), &pn_data_free);
  if (pn_data_decode(data.get(), body.data(), body.size()) < 0) return f;
  pn_data_rewind(data.get());
  if (!pn_data_next(data.get()) || pn_data_type(data.get()) != PN_DESCRIBED) return f;
  pn_data_enter(data.get());
  pn_data_next(data.get());
  if (pn_data_type(data.get()) == PN_ULONG) f.performative = pn_data_get_ulong(data.get());
  pn_data_next(data.get());
  if (pn_data_type(data.get()) != PN_LIST) return f;
  if (f.performative == kSaslOutcome) {
    pn_data_enter(data.get());
    if (pn_data_next(data.get()) && pn_data_type(data.get()) == PN_UBYTE) {
      f.sasl_code = pn_data_get_ubyte(data.get());
    }
    pn_data_exit(data.get());
  }
  pn_data_enter(data.get());
  find_error(data.get(), f);
  return f;
}

}  // namespace detail

/// A connection to the AMQP port that sends bytes as given and reads the gateway's answer
/// frame by frame.
class RawConnection {
 public:
  explicit RawConnection(TlsClientOptions options) : tls_(std::move(options)) {}

  bool connect() { return tls_.connect(); }
  bool write(const std::string& bytes) { return tls_.write(bytes); }
  const std::string& error() const { return tls_.error(); }

  /// Reads until `done` holds for the frames so far, or the gateway closed the connection or
  /// sent nothing within the client's read timeout; returns done().
  bool read_until(const std::function<bool(const RawConnection&)>& done) {
    while (!done(*this)) {
      if (eof_) return false;
      const auto more = tls_.read_some();
      if (more.empty()) {
        // Closed, or silent for the whole read timeout: only a closed socket reads EOF now.
        eof_ = true;
        closed_ = tls_.wait_closed(std::chrono::milliseconds(200));
        return done(*this);
      }
      bytes_ += more;
      parse();
    }
    return true;
  }
  /// Reads until a frame with this performative arrived; returns it.
  std::optional<Frame> read_until_performative(std::uint64_t performative) {
    read_until([&](const RawConnection& c) { return c.find(performative) != nullptr; });
    if (const auto* f = find(performative)) return *f;
    return std::nullopt;
  }
  /// True when the gateway closed the connection (EOF) within `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout) {
    if (!closed_ && !eof_) closed_ = tls_.wait_closed(timeout);
    return closed_;
  }
  /// A read ended because the gateway closed the connection (not because it stayed silent).
  bool closed() const { return closed_; }

  const Frame* find(std::uint64_t performative) const {
    for (const auto& f : frames_) {
      if (f.performative == performative) return &f;
    }
    return nullptr;
  }
  const std::vector<std::string>& headers() const { return headers_; }
  const std::vector<Frame>& frames() const { return frames_; }
  /// Bytes that did not form a whole header or frame (should be none when the gateway is done).
  std::size_t unparsed() const { return bytes_.size() - parsed_; }
  /// The performatives received, for failure messages ("AMQP3 0x40 0x44").
  std::string summary() const {
    std::string out;
    for (const auto& h : headers_)
      out += "AMQP" + std::to_string(static_cast<int>(h[4])) + " ";
    for (const auto& f : frames_) {
      char code[16];
      std::snprintf(code, sizeof code, "0x%02llx", static_cast<unsigned long long>(f.performative));
      out += code;
      if (!f.condition.empty()) out += "(" + f.condition + ": " + f.description + ")";
      if (f.sasl_code >= 0) out += "(code " + std::to_string(f.sasl_code) + ")";
      out += " ";
    }
    return out;
  }

 private:
  void parse() {
    for (;;) {
      const auto left = bytes_.size() - parsed_;
      if (left >= 8 && bytes_.compare(parsed_, 4, "AMQP") == 0) {
        headers_.push_back(bytes_.substr(parsed_, 8));
        parsed_ += 8;
        continue;
      }
      if (left < 8) return;
      const auto byte_at = [&](std::size_t i) {
        return static_cast<std::uint32_t>(static_cast<std::uint8_t>(bytes_[parsed_ + i]));
      };
      const std::size_t size =
          (byte_at(0) << 24) | (byte_at(1) << 16) | (byte_at(2) << 8) | byte_at(3);
      const std::size_t offset = 4 * byte_at(4);
      if (size < 8 || left < size || offset > size) return;
      const auto type = static_cast<std::uint8_t>(byte_at(5));
      const auto channel = static_cast<std::uint16_t>((byte_at(6) << 8) | byte_at(7));
      frames_.push_back(
          detail::decode(type, channel, bytes_.substr(parsed_ + offset, size - offset)));
      parsed_ += size;
    }
  }

  TlsClient tls_;
  std::string bytes_;
  std::size_t parsed_ = 0;
  std::vector<std::string> headers_;
  std::vector<Frame> frames_;
  bool eof_ = false;
  bool closed_ = false;
};

}  // namespace edgehub::testing::amqp_wire
