#pragma once

// Hex fixtures for wire-level tests: "10 0d 00 04" <-> bytes.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edgehub::mqtt_proto::test {

inline std::vector<std::byte> hex(std::string_view text) {
  std::vector<std::byte> out;
  int high = -1;
  for (char c : text) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) continue;  // spaces separate bytes for readability
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::byte>(high * 16 + v));
      high = -1;
    }
  }
  return out;
}

inline std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::byte b : bytes) {
    if (!out.empty()) out += ' ';
    out += kDigits[std::to_integer<int>(b) >> 4];
    out += kDigits[std::to_integer<int>(b) & 0xF];
  }
  return out;
}

inline std::vector<std::byte> bytes_of(std::string_view text) {
  const auto* p = reinterpret_cast<const std::byte*>(text.data());
  return {p, p + text.size()};
}

}  // namespace edgehub::mqtt_proto::test
