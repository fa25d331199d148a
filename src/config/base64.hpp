#pragma once

// Standard base64 (RFC 4648 §4, padded), for IoT Hub symmetric keys. Strict on purpose: a key
// with stray characters is a mistake to report, not to repair.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgehub::config {

std::optional<std::vector<std::uint8_t>> decode_base64(std::string_view text);
std::string encode_base64(const std::vector<std::uint8_t>& bytes);

}  // namespace edgehub::config
