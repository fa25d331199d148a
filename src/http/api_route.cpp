#include "edgehub/http/api_route.hpp"

#include <array>
#include <vector>

#include "edgehub/core/hex.hpp"
#include "edgehub/core/message.hpp"
#include "edgehub/http/errors.hpp"
#include "edgehub/identity/registry.hpp"

namespace edgehub::http {
namespace {

constexpr std::size_t kMaxSegments = 8;

bool split_path(std::string_view path, std::vector<std::string>& out) {
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  while (!path.empty()) {
    if (out.size() == kMaxSegments) return false;
    const auto slash = path.find('/');
    auto segment = percent_decode(path.substr(0, slash));
    if (!segment) return false;
    out.push_back(std::move(*segment));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (path.empty()) return false;  // a trailing '/' names nothing
  }
  return true;
}

struct Query {
  std::optional<std::string> api_version;
  bool reject = false;
};

bool parse_query(std::string_view query, Query& out) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (!key || !value) return false;
    if (*key == "api-version") out.api_version = std::move(*value);
    if (*key == "reject") out.reject = true;
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return true;
}

bool is_digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return !s.empty();
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (text.size() - i < 3) return std::nullopt;
    const int hi = core::hex_digit_value(text[i + 1]);
    const int lo = core::hex_digit_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool is_api_version(std::string_view v) noexcept {
  if (v.size() != 10 && !(v.size() == 18 && v.substr(10) == "-preview")) return false;
  return is_digits(v.substr(0, 4)) && v[4] == '-' && is_digits(v.substr(5, 2)) && v[7] == '-' &&
         is_digits(v.substr(8, 2));
}

std::string_view operation_label(Operation op) noexcept {
  switch (op) {
    case Operation::telemetry:
      return "telemetry";
    case Operation::c2d_receive:
      return "c2d_receive";
    case Operation::c2d_complete:
      return "c2d_complete";
    case Operation::c2d_reject:
      return "c2d_reject";
    case Operation::c2d_abandon:
      return "c2d_abandon";
    case Operation::invoke_method:
      return "invoke_method";
    case Operation::scope_devices_and_modules:
      return "scope_devices_and_modules";
    case Operation::scope_on_behalf_of:
      return "scope_on_behalf_of";
  }
  return "unknown";
}

core::Result<ApiRoute> match_route(std::string_view method, std::string_view target) {
  const auto qmark = target.find('?');
  std::vector<std::string> s;
  if (!split_path(target.substr(0, qmark), s)) {
    return s.size() == kMaxSegments ? Errc::not_found : Errc::bad_request;
  }
  Query query;
  if (qmark != std::string_view::npos && !parse_query(target.substr(qmark + 1), query)) {
    return Errc::bad_request;
  }

  ApiRoute route;
  route.api_version = std::move(query.api_version);
  const auto want = [&](std::string_view expected, Operation op) -> core::Result<ApiRoute> {
    if (method != expected) return Errc::method_not_allowed;
    route.operation = op;
    return route;
  };
  const auto id_ok = [](const std::string& id) { return identity::is_valid_id(id); };

  if (s.size() >= 2 && s[0] == "twins" && id_ok(s[1])) {
    route.device = s[1];
    if (s.size() == 3 && s[2] == "methods") return want("POST", Operation::invoke_method);
    if (s.size() == 5 && s[2] == "modules" && id_ok(s[3]) && s[4] == "methods") {
      route.module = s[3];
      return want("POST", Operation::invoke_method);
    }
    return Errc::not_found;
  }
  if (s.size() < 4 || s[0] != "devices" || !id_ok(s[1])) return Errc::not_found;
  route.device = s[1];
  if (s[2] == "messages") {
    if (s.size() == 4 && s[3] == "events") return want("POST", Operation::telemetry);
    if (!core::iequals(s[3], "devicebound")) return Errc::not_found;
    if (s.size() == 4) return want("GET", Operation::c2d_receive);
    if (s[4].empty() || s.size() > 6) return Errc::not_found;
    route.lock_token = s[4];
    if (s.size() == 6) {
      if (s[5] != "abandon") return Errc::not_found;
      return want("POST", Operation::c2d_abandon);
    }
    return want("DELETE", query.reject ? Operation::c2d_reject : Operation::c2d_complete);
  }
  if (s.size() == 5 && s[2] == "modules" && s[3] == "$edgeHub") {
    if (s[4] == "devicesAndModulesInTargetDeviceScope") {
      return want("POST", Operation::scope_devices_and_modules);
    }
    if (s[4] == "getDeviceAndModuleOnBehalfOf") return want("POST", Operation::scope_on_behalf_of);
  }
  return Errc::not_found;
}

}  // namespace edgehub::http
