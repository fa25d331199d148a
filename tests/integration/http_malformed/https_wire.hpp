#pragma once

// Raw HTTP/1.1 and RFC 6455 on a TlsClient, for the issue 12 suites on 443: requests are written
// byte for byte (so they can be broken on purpose), answers and WebSocket frames are parsed just
// enough to assert the gateway's exact reaction.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/tls/tls_client.hpp"

namespace edgehub::testing {

struct WireReply {
  int status = 0;
  std::string head;
  std::string body;

  /// The header's value (case-insensitive name), empty when absent.
  std::string header(std::string name) const {
    const auto lower = [](std::string s) {
      for (auto& ch : s)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return s;
    };
    const auto h = lower(head);
    const auto at = h.find("\r\n" + lower(name) + ":");
    if (at == std::string::npos) return {};
    auto start = at + 3 + name.size();
    while (start < head.size() && head[start] == ' ')
      ++start;
    return head.substr(start, head.find("\r\n", start) - start);
  }

  /// "{name}" of IoT Hub's {"Message":"ErrorCode:{name};…"} body, or what the body was instead.
  std::string error_code() const {
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("Message") || !j["Message"].is_string()) {
      return "(no IoT Hub error body: " + body + ")";
    }
    const auto m = j["Message"].get<std::string>();
    const auto colon = m.find(':');
    return m.substr(colon + 1, m.find(';') - colon - 1);
  }
};

/// One response with a Content-Length body (every answer of the gateway and of Beast has one);
/// nullopt when the connection closes or times out first.
inline std::optional<WireReply> read_reply(TlsClient& c, std::string& pending) {
  while (pending.find("\r\n\r\n") == std::string::npos) {
    const auto more = c.read_some();
    if (more.empty()) return std::nullopt;
    pending += more;
  }
  const auto end = pending.find("\r\n\r\n");
  if (pending.rfind("HTTP/1.", 0) != 0 || end < 12) return std::nullopt;
  WireReply r;
  r.status = std::stoi(pending.substr(9, 3));
  r.head = pending.substr(0, end);
  const auto length_text = r.header("Content-Length");
  const std::size_t length = length_text.empty() ? 0 : std::stoul(length_text);
  pending.erase(0, end + 4);
  while (pending.size() < length) {
    const auto more = c.read_some();
    if (more.empty()) return std::nullopt;
    pending += more;
  }
  r.body = pending.substr(0, length);
  pending.erase(0, length);
  return r;
}

inline std::optional<WireReply> read_reply(TlsClient& c) {
  std::string pending;
  return read_reply(c, pending);
}

inline std::string http_request(const std::string& method, const std::string& target,
                                const std::vector<std::string>& headers, const std::string& body) {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: gw.test.local\r\n";
  for (const auto& h : headers)
    out += h + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return out;
}

/// A WebSocket upgrade as the Azure IoT SDKs send it; `drop` removes a header by its name.
inline std::string ws_upgrade(const std::string& path = "/$iothub/websocket",
                              const std::string& protocol = "mqtt",
                              const std::string& version = "13", const std::string& drop = "") {
  std::vector<std::string> headers = {"Host: gw.test.local",
                                      "Upgrade: websocket",
                                      "Connection: Upgrade",
                                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                                      "Sec-WebSocket-Version: " + version,
                                      "Sec-WebSocket-Protocol: " + protocol};
  std::string out = "GET " + path + " HTTP/1.1\r\n";
  for (const auto& h : headers) {
    if (drop.empty() || h.rfind(drop + ":", 0) != 0) out += h + "\r\n";
  }
  return out + "\r\n";
}

namespace ws {

inline constexpr std::uint8_t kText = 0x1, kBinary = 0x2, kClose = 0x8, kPing = 0x9;

/// One frame as a client sends it: FIN set, masked unless `masked` is false, `first_bits` ORed
/// into the first byte (RSV bits). `announced` overrides the length in the header.
inline std::string frame(std::uint8_t opcode, const std::string& payload, bool masked = true,
                         std::uint8_t first_bits = 0,
                         std::optional<std::uint64_t> announced = std::nullopt) {
  const std::uint64_t n = announced.value_or(payload.size());
  std::string out;
  out += static_cast<char>(0x80 | first_bits | opcode);
  const char mask_bit = masked ? '\x80' : '\x00';
  if (n < 126) {
    out += static_cast<char>(mask_bit | static_cast<char>(n));
  } else if (n <= 0xffff) {
    out += static_cast<char>(mask_bit | 126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xff);
  } else {
    out += static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8)
      out += static_cast<char>((n >> shift) & 0xff);
  }
  const char key[4] = {'\x12', '\x34', '\x56', '\x78'};
  if (masked) out.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    out += masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
  return out;
}

inline std::string close_frame(std::uint16_t code) {
  return frame(kClose, std::string{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)});
}

struct Frame {
  std::uint8_t opcode = 0;
  std::string payload;
  /// The status code of a close frame (1005 when it carries none).
  std::uint16_t close_code() const {
    if (payload.size() < 2) return 1005;
    return static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                      static_cast<unsigned char>(payload[1]));
  }
};

/// The next (unmasked, as a server sends it) frame; nullopt on close or time-out.
inline std::optional<Frame> read_frame(TlsClient& c, std::string& pending) {
  const auto need = [&](std::size_t n) {
    while (pending.size() < n) {
      const auto more = c.read_some();
      if (more.empty()) return false;
      pending += more;
    }
    return true;
  };
  if (!need(2)) return std::nullopt;
  Frame f;
  f.opcode = static_cast<std::uint8_t>(pending[0]) & 0x0f;
  std::uint64_t n = static_cast<std::uint8_t>(pending[1]) & 0x7f;
  std::size_t header = 2;
  if (n == 126 || n == 127) {
    const std::size_t width = n == 126 ? 2 : 8;
    if (!need(2 + width)) return std::nullopt;
    n = 0;
    for (std::size_t i = 0; i < width; ++i)
      n = (n << 8) | static_cast<std::uint8_t>(pending[2 + i]);
    header += width;
  }
  if (!need(header + n)) return std::nullopt;
  f.payload = pending.substr(header, n);
  pending.erase(0, header + n);
  return f;
}

}  // namespace ws
}  // namespace edgehub::testing
