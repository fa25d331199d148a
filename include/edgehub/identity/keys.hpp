#pragma once

// Key and thumbprint encodings shared by the registry, the authenticator and edgehubctl. No
// OpenSSL types here: callers outside identity/ must not need OpenSSL headers.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgehub/core/result.hpp"

namespace edgehub::identity {

using Bytes = std::vector<unsigned char>;

/// Standard base64 (RFC 4648 §4, '+' '/' and '=' padding). Never throws.
std::string encode_base64(std::span<const unsigned char> data);

/// Strict decoding: standard alphabet, length a multiple of 4, padding only at the end.
/// nullopt on anything else (whitespace included).
std::optional<Bytes> decode_base64(std::string_view text);

/// A new symmetric key: 32 bytes from the OS CSPRNG, base64 encoded (IoT Hub's key format).
/// Fails only when the CSPRNG fails.
core::Result<std::string> generate_key();

/// Parses a certificate thumbprint: hex, case-insensitive, ':' separators and surrounding spaces
/// allowed, 20 bytes (SHA-1) or 32 bytes (SHA-256). nullopt otherwise.
std::optional<Bytes> parse_thumbprint(std::string_view text);

/// Upper-case hex without separators, the form IoT Hub shows.
std::string to_hex(std::span<const unsigned char> data);

}  // namespace edgehub::identity
