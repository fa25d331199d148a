#pragma once

// The OpenSSL primitives the identity module uses, behind a small private interface.

#include <array>
#include <span>
#include <string_view>

#include "edgehub/identity/keys.hpp"

namespace edgehub::identity::detail {

using Sha256 = std::array<unsigned char, 32>;

Sha256 hmac_sha256(std::span<const unsigned char> key, std::string_view data) noexcept;
Bytes sha1(std::span<const unsigned char> data);
Bytes sha256(std::span<const unsigned char> data);

/// Constant-time equality (CRYPTO_memcmp); unequal sizes compare unequal (sizes are not secret).
bool equal_constant_time(std::span<const unsigned char> a,
                         std::span<const unsigned char> b) noexcept;

inline std::span<const unsigned char> as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

}  // namespace edgehub::identity::detail
