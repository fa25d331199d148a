#include "edgehub/core/client_id.hpp"

#include <functional>

namespace edgehub::core {

bool ClientId::parse(std::string_view text, ClientId& out) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    if (text.empty()) return false;
    out = ClientId{std::string(text), {}};
    return true;
  }
  const auto device = text.substr(0, slash);
  const auto module = text.substr(slash + 1);
  if (device.empty() || module.empty() || module.find('/') != std::string_view::npos) return false;
  out = ClientId{std::string(device), std::string(module)};
  return true;
}

std::size_t ClientIdHash::operator()(const ClientId& id) const noexcept {
  const std::size_t h = std::hash<std::string>{}(id.device);
  return h ^ (std::hash<std::string>{}(id.module) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

}  // namespace edgehub::core
