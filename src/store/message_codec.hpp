#pragma once

// The compact binary form of core::Message stored in data columns (a queue entry's, or a
// shared body's). Pure functions, no I/O.
//
// Layout (format 1, little endian, varint = LEB128 unsigned):
//   u8 format(1) | u8 kind | varint+bytes origin.device | varint+bytes origin.module
//   | i64 enqueued_at (µs since the Unix epoch)
//   | u8 n, n x (u8 system-property index, varint+bytes value)
//   | varint m, m x (varint+bytes name, u8 has_value, [varint+bytes value])
//   | varint+bytes body
// Unknown formats, out-of-range indexes, truncation and trailing bytes are errors, never UB.

#include <cstddef>
#include <span>
#include <vector>

#include "edgehub/core/message.hpp"
#include "edgehub/core/result.hpp"

namespace edgehub::store {

inline constexpr std::uint8_t kMessageFormat = 1;

void encode_message(const core::Message& message, std::vector<std::byte>& out);
/// The exact size encode_message() produces, without encoding.
std::size_t encoded_size(const core::Message& message) noexcept;
std::vector<std::byte> encode_message(const core::Message& message);

/// Errc::corrupt when the bytes are not a valid encoding.
core::Result<core::Message> decode_message(std::span<const std::byte> in);

}  // namespace edgehub::store
