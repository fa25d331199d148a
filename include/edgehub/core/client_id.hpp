#pragma once

// The identity of a downstream client: a device `{d}` or a module `{d}/{m}`.

#include <compare>
#include <string>
#include <string_view>

namespace edgehub::core {

struct ClientId {
  std::string device;
  std::string module;  ///< Empty for a device identity.

  bool is_module() const noexcept { return !module.empty(); }

  /// "d" or "d/m", the form used in MQTT client ids, metric labels and logs.
  std::string to_string() const { return is_module() ? device + "/" + module : device; }

  /// Parses "d" or "d/m" (exactly one '/' at most; both parts non-empty).
  static bool parse(std::string_view text, ClientId& out);

  friend auto operator<=>(const ClientId&, const ClientId&) = default;
};

struct ClientIdHash {
  std::size_t operator()(const ClientId& id) const noexcept;
};

}  // namespace edgehub::core
