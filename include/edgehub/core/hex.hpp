#pragma once

// Hexadecimal digits, as every text codec of the gateway reads them (percent-encoding in URIs,
// MQTT property bags and SAS tokens; JSON \u escapes; thumbprints).

namespace edgehub::core {

/// The value of one hex digit (either case), or -1 for any other character.
constexpr int hex_digit_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace edgehub::core
