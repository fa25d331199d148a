#include "edgehub/identity/sas_token.hpp"

#include <charconv>
#include <chrono>
#include <limits>

#include "edgehub/core/hex.hpp"
#include "edgehub/core/message.hpp"
#include "identity/crypto.hpp"

namespace edgehub::identity {
namespace {

constexpr std::string_view kPrefix = "SharedAccessSignature";
constexpr std::string_view kAmqpsScheme = "amqps://";
// system_clock counts nanoseconds in 64 bits (until 2262): a later expiry means "never" rather
// than an overflowed time_point.
constexpr std::int64_t kMaxExpiry =
    std::chrono::duration_cast<std::chrono::seconds>(core::SystemTime::duration::max()).count();

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool is_unreserved(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

std::optional<std::int64_t> parse_seconds(std::string_view text) noexcept {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

std::string_view strip_scheme(std::string_view resource) noexcept {
  if (resource.size() >= kAmqpsScheme.size() &&
      core::iequals(resource.substr(0, kAmqpsScheme.size()), kAmqpsScheme)) {
    resource.remove_prefix(kAmqpsScheme.size());
  }
  return resource;
}

// "host[:port]" -> "host". Only a single ':' followed by digits is a port; anything else is left
// alone and will simply fail the host comparison.
std::string_view strip_port(std::string_view host) noexcept {
  const auto colon = host.find(':');
  if (colon == std::string_view::npos || host.find(':', colon + 1) != std::string_view::npos) {
    return host;
  }
  const auto port = host.substr(colon + 1);
  if (port.empty()) return host;
  for (const char c : port) {
    if (c < '0' || c > '9') return host;
  }
  return host.substr(0, colon);
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const auto slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

}  // namespace

core::SystemTime SasToken::expires_at() const noexcept {
  if (expiry > kMaxExpiry) return core::SystemTime::max();
  return core::SystemTime{std::chrono::seconds{expiry}};
}

core::Result<SasToken> parse_sas_token(std::string_view text) {
  if (text.size() > kMaxTokenLength) return Errc::malformed_token;
  std::size_t space = 0;
  while (space < text.size() && !is_space(text[space]))
    ++space;
  if (text.substr(0, space) != kPrefix || space == text.size()) return Errc::malformed_token;
  std::string_view fields = text.substr(space);
  while (!fields.empty() && is_space(fields.front()))
    fields.remove_prefix(1);

  std::optional<std::string_view> sr, sig, se, skn;
  while (!fields.empty()) {
    const auto amp = fields.find('&');
    const std::string_view field = fields.substr(0, amp);
    fields = amp == std::string_view::npos ? std::string_view{} : fields.substr(amp + 1);
    if (field.empty()) continue;  // "a&&b": tolerated, as the SDK parsers do
    const auto eq = field.find('=');
    if (eq == std::string_view::npos) return Errc::malformed_token;
    const std::string_view name = field.substr(0, eq);
    const std::string_view value = field.substr(eq + 1);
    std::optional<std::string_view>* slot = core::iequals(name, "sr")    ? &sr
                                            : core::iequals(name, "sig") ? &sig
                                            : core::iequals(name, "se")  ? &se
                                            : core::iequals(name, "skn") ? &skn
                                                                         : nullptr;
    if (slot == nullptr) continue;                        // unknown fields are ignored
    if (slot->has_value()) return Errc::malformed_token;  // a repeated field is ambiguous
    *slot = value;
  }
  if (!sr || !sig || !se || sr->empty()) return Errc::malformed_token;

  SasToken token;
  token.sr = std::string(*sr);
  token.se = std::string(*se);
  auto resource = url_decode(*sr);
  if (!resource) return Errc::malformed_token;
  token.resource = std::string(strip_scheme(*resource));
  auto sig_text = url_decode(*sig);
  if (!sig_text) return Errc::malformed_token;
  auto sig_bytes = decode_base64(*sig_text);
  if (!sig_bytes || sig_bytes->empty()) return Errc::malformed_token;
  token.signature = std::move(*sig_bytes);
  const auto expiry = parse_seconds(*se);
  if (!expiry) return Errc::malformed_token;
  token.expiry = *expiry;
  if (skn) {
    auto name = url_decode(*skn);
    if (!name) return Errc::malformed_token;
    token.key_name = std::move(*name);
  }
  return token;
}

std::string string_to_sign(std::string_view sr, std::string_view se) {
  std::string out;
  out.reserve(sr.size() + 1 + se.size());
  out.append(sr).append("\n").append(se);
  return out;
}

std::string compute_signature(std::string_view sr, std::string_view se,
                              std::span<const unsigned char> key) {
  return encode_base64(detail::hmac_sha256(key, string_to_sign(sr, se)));
}

bool signature_matches(const SasToken& token, std::span<const unsigned char> key) noexcept {
  const auto mac = detail::hmac_sha256(key, string_to_sign(token.sr, token.se));
  return detail::equal_constant_time(mac, token.signature);
}

bool audience_covers(std::string_view resource, const AudienceHosts& hosts,
                     const core::ClientId& id) {
  resource = strip_scheme(resource);
  const auto slash = resource.find('/');
  const std::string_view host = strip_port(resource.substr(0, slash));
  if (host.empty()) return false;
  const bool known_host = (!hosts.iothub.empty() && core::iequals(host, hosts.iothub)) ||
                          (!hosts.gateway.empty() && core::iequals(host, hosts.gateway));
  if (!known_host) return false;
  if (slash == std::string_view::npos) return true;  // "{host}" covers everything on it

  std::vector<std::string_view> want = {"devices", id.device};
  if (id.is_module()) {
    want.emplace_back("modules");
    want.emplace_back(id.module);
  }
  const auto have = split_path(resource.substr(slash + 1));
  if (have.size() > want.size()) return false;
  for (std::size_t i = 0; i < have.size(); ++i) {
    if (have[i] != want[i]) return false;
  }
  return true;
}

core::Result<core::ClientId> client_id_from_resource(std::string_view resource) {
  resource = strip_scheme(resource);
  const auto slash = resource.find('/');
  if (slash == 0 || slash == std::string_view::npos) return Errc::wrong_audience;
  const auto parts = split_path(resource.substr(slash + 1));
  if ((parts.size() != 2 && parts.size() != 4) || parts[0] != "devices" || parts[1].empty()) {
    return Errc::wrong_audience;
  }
  core::ClientId id{std::string(parts[1]), {}};
  if (parts.size() == 4) {
    if (parts[2] != "modules" || parts[3].empty()) return Errc::wrong_audience;
    id.module = std::string(parts[3]);
  }
  return id;
}

core::Result<void> verify_sas_token(const SasToken& token, const core::ClientId& claimed,
                                    std::span<const Bytes> keys, const AudienceHosts& hosts,
                                    core::SystemTime now) {
  // The gateway holds device and module keys only, never the hub's policy keys.
  if (token.key_name) return Errc::policy_token;
  if (!audience_covers(token.resource, hosts, claimed)) return Errc::wrong_audience;
  bool matched = false;
  for (const auto& key : keys) {
    // No early exit: the time taken must not reveal which key matched.
    matched = signature_matches(token, key) || matched;
  }
  if (!matched) return Errc::bad_signature;
  if (token.expires_at() < now) return Errc::token_expired;
  return {};
}

core::Result<std::string> make_sas_token(std::string_view resource, std::string_view base64_key,
                                         core::SystemTime expiry,
                                         std::optional<std::string_view> key_name) {
  const auto key = decode_base64(base64_key);
  if (!key || key->empty()) return Errc::invalid_key;
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(expiry.time_since_epoch()).count();
  if (seconds < 0) return Errc::invalid_key;
  const std::string sr = url_encode(resource);
  const std::string se = std::to_string(seconds);
  std::string token =
      std::string(kPrefix) + " sr=" + sr + "&sig=" + url_encode(compute_signature(sr, se, *key));
  if (key_name) token += "&skn=" + url_encode(*key_name);
  token += "&se=" + se;
  return token;
}

std::string url_encode(std::string_view text) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c)) {
      out += ch;
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
  }
  return out;
}

std::optional<std::string> url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = core::hex_digit_value(text[i + 1]);
    const int low = core::hex_digit_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high << 4 | low);
    i += 2;
  }
  return out;
}

}  // namespace edgehub::identity
