#include <string>

#include "edgehub/config/errors.hpp"
#include "edgehub/config/parse.hpp"
#include "edgehub/core/hex.hpp"

namespace edgehub::config {
namespace {

bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ':'.
std::size_t scheme_length(std::string_view uri) noexcept {
  if (uri.empty() || !is_alpha(uri.front())) return 0;
  for (std::size_t i = 1; i < uri.size(); ++i) {
    const char c = uri[i];
    if (c == ':') return i;
    if (!is_alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') return 0;
  }
  return 0;
}

bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

core::Result<std::filesystem::path> file_uri_to_path(std::string_view uri) {
  if (uri.empty()) return ConfigErrc::bad_uri_path;
  if (uri.front() == '/') return ConfigErrc::not_a_uri;
  const auto scheme_len = scheme_length(uri);
  if (scheme_len == 0) return ConfigErrc::relative_path;
  if (!iequals_ascii(uri.substr(0, scheme_len), "file")) return ConfigErrc::unsupported_scheme;

  std::string_view rest = uri.substr(scheme_len + 1);
  if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    const auto slash = rest.find('/');
    const auto authority = rest.substr(0, slash);
    if (!authority.empty() && !iequals_ascii(authority, "localhost")) {
      return ConfigErrc::remote_file_uri;
    }
    if (slash == std::string_view::npos) return ConfigErrc::bad_uri_path;
    rest.remove_prefix(slash);
  } else if (!rest.starts_with('/')) {
    return ConfigErrc::relative_path;  // "file:certs/a.pem"
  }

  std::string path;
  path.reserve(rest.size());
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const char c = rest[i];
    if (c == '?' || c == '#' || c == '\0') return ConfigErrc::bad_uri_path;
    if (c != '%') {
      path += c;
      continue;
    }
    if (i + 2 >= rest.size()) return ConfigErrc::bad_uri_path;
    const int hi = core::hex_digit_value(rest[i + 1]);
    const int lo = core::hex_digit_value(rest[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return ConfigErrc::bad_uri_path;
    path += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return std::filesystem::path(path).lexically_normal();
}

}  // namespace edgehub::config
