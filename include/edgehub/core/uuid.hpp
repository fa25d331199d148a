#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace edgehub::core {

/// A random (version 4) UUID as 16 bytes, from the operating system's entropy source.
std::array<std::uint8_t, 16> random_uuid_bytes();

/// Lower-case 8-4-4-4-12 text of 16 bytes.
std::string format_uuid(const std::array<std::uint8_t, 16>& bytes);

/// A new random UUID as text, e.g. for instance numbers, lock tokens and request ids.
inline std::string random_uuid() {
  return format_uuid(random_uuid_bytes());
}

}  // namespace edgehub::core
