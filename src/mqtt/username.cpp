#include "edgehub/mqtt/username.hpp"

#include <vector>

#include "edgehub/core/message.hpp"
#include "edgehub/mqtt/property_bag.hpp"

namespace edgehub::mqtt {
namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto at = text.find(sep, start);
    if (at == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, at - start));
    start = at + 1;
  }
}

constexpr std::string_view kApiVersion = "api-version=";

}  // namespace

core::Result<Username> parse_username(std::string_view text) {
  std::string_view path = text;
  std::string_view query;
  if (const auto q = text.find('?'); q != std::string_view::npos) {
    path = text.substr(0, q);
    query = text.substr(q + 1);
  } else {
    // Legacy C SDK: "{hub}/{d}/api-version=…&…" — the query starts at the api-version segment, so
    // a '/' inside a later value stays part of the query.
    std::size_t start = 0;
    while (start <= text.size()) {
      const auto slash = text.find('/', start);
      const auto segment = text.substr(
          start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
      if (segment.starts_with(kApiVersion)) {
        path = text.substr(0, start);
        query = text.substr(start);
        break;
      }
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
  }
  if (path.ends_with('/')) path.remove_suffix(1);

  const auto segments = split(path, '/');
  if (segments.size() < 2 || segments.size() > 3) return NamingErrc::invalid_username;
  for (auto s : segments) {
    if (s.empty()) return NamingErrc::invalid_username;
  }

  Username u;
  u.host = std::string(segments[0]);
  u.identity.device = std::string(segments[1]);
  if (segments.size() == 3) u.identity.module = std::string(segments[2]);

  if (!query.empty()) {
    for (auto pair : split(query, '&')) {
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      const auto name = pair.substr(0, eq);
      const auto raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
      auto decoded = percent_decode(raw, false);
      std::string value = decoded ? std::move(*decoded) : std::string(raw);
      if (core::iequals(name, "api-version")) {
        u.api_version = value;
      } else if (core::iequals(name, "DeviceClientType")) {
        u.client_type = value;
      } else if (core::iequals(name, "model-id")) {
        u.model_id = value;
      } else if (core::iequals(name, "auth-chain")) {
        u.auth_chain = value;
      }
      u.params.emplace_back(std::string(name), std::move(value));
    }
  }
  return u;
}

core::Result<void> check_client_id(const Username& username, std::string_view client_id) {
  if (client_id != username.identity.to_string()) return NamingErrc::client_id_mismatch;
  return {};
}

}  // namespace edgehub::mqtt
