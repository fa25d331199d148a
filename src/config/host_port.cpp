#include <arpa/inet.h>

#include <array>
#include <charconv>

#include "edgehub/config/errors.hpp"
#include "edgehub/config/gateway_config.hpp"
#include "edgehub/config/parse.hpp"

namespace edgehub::config {
namespace {

constexpr std::size_t kMaxHostLength = 253;
constexpr std::size_t kMaxLabelLength = 63;

bool is_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_valid_label(std::string_view label) noexcept {
  if (label.empty() || label.size() > kMaxLabelLength) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  for (char c : label) {
    if (!is_alnum(c) && c != '-') return false;
  }
  return true;
}

bool all_digits(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool is_dns_name(std::string_view host) noexcept {
  if (host.empty() || host.size() > kMaxHostLength) return false;
  std::string_view last;
  while (true) {
    const auto dot = host.find('.');
    const auto label = host.substr(0, dot);
    if (!is_valid_label(label)) return false;
    last = label;
    if (dot == std::string_view::npos) break;
    host.remove_prefix(dot + 1);
  }
  // An all-numeric final label is a malformed IPv4 address, not a name (RFC 3696 §2).
  return !all_digits(last);
}

}  // namespace

std::string HostPort::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string out;
  out.reserve(host.size() + 8);
  if (v6) out += '[';
  out += host;
  if (v6) out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
}

bool is_ip_literal(std::string_view host) noexcept {
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) return false;
  std::array<char, INET6_ADDRSTRLEN> buf{};
  host.copy(buf.data(), host.size());
  std::array<unsigned char, sizeof(struct in6_addr)> addr{};
  return inet_pton(AF_INET, buf.data(), addr.data()) == 1 ||
         inet_pton(AF_INET6, buf.data(), addr.data()) == 1;
}

bool is_valid_host(std::string_view host) noexcept {
  return is_ip_literal(host) || is_dns_name(host);
}

core::Result<HostPort> parse_host_port(std::string_view text) {
  if (text.empty()) return ConfigErrc::empty_address;
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return ConfigErrc::bad_host;
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return ConfigErrc::missing_port;
    port = rest.substr(1);
    if (host.find(':') == std::string_view::npos || !is_ip_literal(host)) {
      return ConfigErrc::bad_host;
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return ConfigErrc::missing_port;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    // An unbracketed IPv6 literal is ambiguous ("::1:80"); insist on brackets.
    if (host.find(':') != std::string_view::npos) return ConfigErrc::bad_host;
    if (host.empty()) host = "0.0.0.0";
    if (!is_valid_host(host)) return ConfigErrc::bad_host;
  }
  if (!all_digits(port) || port.size() > 5) return ConfigErrc::bad_port;
  unsigned value = 0;
  std::from_chars(port.data(), port.data() + port.size(), value);
  if (value > 65535) return ConfigErrc::bad_port;
  return HostPort{std::string(host), static_cast<std::uint16_t>(value)};
}

}  // namespace edgehub::config
