#include "edgehub/identity/keys.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <boost/system/error_code.hpp>

#include "edgehub/core/hex.hpp"
#include "identity/crypto.hpp"

namespace edgehub::identity {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string encode_base64(std::span<const unsigned char> data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (const std::size_t rest = data.size() - i; rest > 0) {
    const unsigned v = (data[i] << 16) | (rest == 2 ? data[i + 1] << 8 : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<Bytes> decode_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  Bytes out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return std::nullopt;  // data after padding
      v[j] = base64_value(c);
      if (v[j] < 0) return std::nullopt;
    }
    const unsigned triple = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<unsigned char>(triple >> 16));
    if (pad < 2) out.push_back(static_cast<unsigned char>((triple >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<unsigned char>(triple & 0xff));
  }
  return out;
}

core::Result<std::string> generate_key() {
  Bytes key(32);
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return boost::system::errc::make_error_code(boost::system::errc::io_error);
  }
  std::string text = encode_base64(key);
  OPENSSL_cleanse(key.data(), key.size());
  return text;
}

std::optional<Bytes> parse_thumbprint(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  Bytes out;
  int high = -1;
  for (const char c : text) {
    if (c == ':') {
      if (high >= 0) return std::nullopt;  // a separator inside a byte
      continue;
    }
    const int v = core::hex_digit_value(c);
    if (v < 0) return std::nullopt;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<unsigned char>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0 || (out.size() != 20 && out.size() != 32)) return std::nullopt;
  return out;
}

std::string to_hex(std::span<const unsigned char> data) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(data.size() * 2);
  for (const unsigned char b : data) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

namespace detail {

namespace {

// OpenSSL 3's one-shot HMAC() looks HMAC and SHA-256 up by name in the provider tables on every
// call (a lock and string comparisons, a noticeable share of a connection's CPU). This context
// is looked up once; each MAC copies it. Never modified after it is made, so threads may share it.
const EVP_MAC_CTX* hmac_sha256_prototype() {
  static EVP_MAC_CTX* const prototype = []() -> EVP_MAC_CTX* {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) return nullptr;
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context keeps its own reference
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_END};
    // Keyed once (with nothing) so that it can be copied: a copy is re-keyed before each use.
    static const unsigned char kNoKey = 0;
    if (ctx == nullptr || EVP_MAC_CTX_set_params(ctx, params) != 1 ||
        EVP_MAC_init(ctx, &kNoKey, 0, nullptr) != 1) {
      EVP_MAC_CTX_free(ctx);
      return nullptr;
    }
    return ctx;
  }();
  return prototype;
}

}  // namespace

Sha256 hmac_sha256(std::span<const unsigned char> key, std::string_view data) noexcept {
  Sha256 out{};
  static const unsigned char kEmpty = 0;
  const unsigned char* key_data = key.empty() ? &kEmpty : key.data();
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  const EVP_MAC_CTX* prototype = hmac_sha256_prototype();
  EVP_MAC_CTX* ctx = prototype != nullptr ? EVP_MAC_CTX_dup(prototype) : nullptr;
  std::size_t len = 0;
  const bool done = ctx != nullptr && EVP_MAC_init(ctx, key_data, key.size(), nullptr) == 1 &&
                    EVP_MAC_update(ctx, bytes, data.size()) == 1 &&
                    EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1 && len == out.size();
  EVP_MAC_CTX_free(ctx);
  if (done) return out;
  // Out of memory or a provider problem: the one-shot call (HMAC() treats a null key pointer as
  // "reuse the previous key"; never pass one).
  unsigned int one_shot_len = 0;
  HMAC(EVP_sha256(), key_data, static_cast<int>(key.size()), bytes, data.size(), out.data(),
       &one_shot_len);
  return out;
}

Bytes sha1(std::span<const unsigned char> data) {
  Bytes out(20);
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha1(), nullptr);
  return out;
}

Bytes sha256(std::span<const unsigned char> data) {
  Bytes out(32);
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

bool equal_constant_time(std::span<const unsigned char> a,
                         std::span<const unsigned char> b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace detail
}  // namespace edgehub::identity
