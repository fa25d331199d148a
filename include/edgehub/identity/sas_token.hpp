#pragma once

// IoT Hub shared-access-signature tokens (iot-hub-protocol.md §1.3-1.4): parsing, minting and
// verification. Sans-I/O: text and keys in, a value or an identity::Errc out; the time is passed
// in. Nothing here throws on bad input, allocates unboundedly or logs (tokens are secrets).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgehub/core/client_id.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/identity/errors.hpp"
#include "edgehub/identity/keys.hpp"

namespace edgehub::identity {

/// Longer tokens are refused as malformed before any work (IoT Hub tokens are < 1 KiB).
inline constexpr std::size_t kMaxTokenLength = 4096;

/// A parsed token. Text fields keep what the signature covers verbatim.
struct SasToken {
  std::string sr;                       ///< as received (still URL-encoded): the signed text
  std::string se;                       ///< as received: the signed text
  std::string resource;                 ///< sr URL-decoded, an optional "amqps://" prefix removed
  Bytes signature;                      ///< sig URL-decoded then base64-decoded
  std::int64_t expiry = 0;              ///< se, seconds since 1970-01-01T00:00:00Z
  std::optional<std::string> key_name;  ///< skn, URL-decoded; present = hub policy token

  core::SystemTime expires_at() const noexcept;
};

/// "SharedAccessSignature " then '&'-separated fields in any order, each split at its first '='.
/// sr, sig, se required exactly once; skn optional; unknown fields are ignored (as IoT Hub does).
/// Errors: Errc::malformed_token.
core::Result<SasToken> parse_sas_token(std::string_view text);

/// `sr` + "\n" + `se`: the bytes the HMAC covers.
std::string string_to_sign(std::string_view sr, std::string_view se);

/// base64(HMAC-SHA256(key, sr + "\n" + se)), not yet URL-encoded: the `sig` of a token.
std::string compute_signature(std::string_view sr, std::string_view se,
                              std::span<const unsigned char> key);

/// Whether the token's HMAC matches `key` (raw, already base64-decoded). Constant time.
bool signature_matches(const SasToken& token, std::span<const unsigned char> key) noexcept;

/// The host names a token audience may name: the IoT Hub host and the gateway's own hostname
/// (edgeHub accepts both). Compared case-insensitively; a ":port" suffix in the token is ignored.
struct AudienceHosts {
  std::string iothub;
  std::string gateway;
};

/// Whether `resource` (decoded, e.g. "hub/devices/d") names one of `hosts` and its path is a
/// whole-segment prefix of "/devices/{d}[/modules/{m}]" ("/a/b" covers "/a/b/c", not "/a/bc").
/// Host comparison is case-insensitive; path segments compare ordinally (ids are case-sensitive).
bool audience_covers(std::string_view resource, const AudienceHosts& hosts,
                     const core::ClientId& id);

/// The identity a resource names exactly ("{host}/devices/{d}[/modules/{m}]", decoded, optional
/// amqps:// prefix): how AMQP CBS learns whom a put-token is for. Errc::wrong_audience otherwise.
core::Result<core::ClientId> client_id_from_resource(std::string_view resource);

/// Checks a parsed token for `claimed` against candidate keys (raw bytes; any may match):
/// skn -> policy_token; audience -> wrong_audience; HMAC -> bad_signature; se < now ->
/// token_expired (checked last so that a forged expired token is reported as forged).
core::Result<void> verify_sas_token(const SasToken& token, const core::ClientId& claimed,
                                    std::span<const Bytes> keys, const AudienceHosts& hosts,
                                    core::SystemTime now);

/// Mints a token the way the Azure IoT SDKs do: sr = url_encode(resource), sig over sr + "\n" +
/// se, fields in the Node SDK's order (sr, sig, [skn,] se). `base64_key` is the key as it appears
/// in a connection string; `expiry` is truncated to whole seconds. Errors: Errc::invalid_key.
core::Result<std::string> make_sas_token(std::string_view resource, std::string_view base64_key,
                                         core::SystemTime expiry,
                                         std::optional<std::string_view> key_name = std::nullopt);

/// encodeURIComponent plus escaping of !'()* (the SDK's encodeUriComponentStrict): only
/// A-Z a-z 0-9 - _ . ~ stay literal; every other byte becomes %XX with upper-case hex.
std::string url_encode(std::string_view text);

/// Percent-decoding. '+' stays '+' (base64 signatures sent unencoded must survive). nullopt on a
/// truncated or non-hex escape.
std::optional<std::string> url_decode(std::string_view text);

}  // namespace edgehub::identity
