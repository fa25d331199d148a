#include "edgehub/amqp_core/address.hpp"

#include <span>
#include <vector>

#include "edgehub/core/hex.hpp"
#include "edgehub/core/message.hpp"

namespace edgehub::amqp_core {
namespace {

constexpr std::size_t kMaxIdLength = 128;

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    const auto part = path.substr(0, slash);
    if (!part.empty()) out.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::optional<std::string> decode_id(std::string_view text) {
  auto id = url_decode(text);
  if (!id || id->empty() || id->size() > kMaxIdLength) return std::nullopt;
  if (id->find('/') != std::string::npos) return std::nullopt;
  return id;
}

// "amqps://host:5671/devices/..." -> "/devices/..."; a bare path is returned unchanged.
std::string_view strip_scheme_and_host(std::string_view address) {
  const auto scheme = address.find("://");
  if (scheme == std::string_view::npos) return address;
  auto rest = address.substr(scheme + 3);
  const auto slash = rest.find('/');
  return slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
}

}  // namespace

std::optional<std::string> url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = core::hex_digit_value(text[i + 1]);
    const int lo = core::hex_digit_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::optional<LinkAddress> parse_link_address(std::string_view address) {
  auto path = strip_scheme_and_host(address);
  if (const auto query = path.find('?'); query != std::string_view::npos) {
    path = path.substr(0, query);
  }
  const auto parts = split_path(path);
  if (parts.size() == 1 && core::iequals(parts[0], "$cbs")) return LinkAddress{Node::cbs, {}};
  if (parts.size() < 3 || !core::iequals(parts[0], "devices")) return std::nullopt;

  LinkAddress out;
  auto device = decode_id(parts[1]);
  if (!device) return std::nullopt;
  out.id.device = std::move(*device);
  std::size_t next = 2;
  if (parts.size() >= 4 && core::iequals(parts[2], "modules")) {
    auto module = decode_id(parts[3]);
    if (!module) return std::nullopt;
    out.id.module = std::move(*module);
    next = 4;
  }
  const std::span<const std::string_view> tail(parts.data() + next, parts.size() - next);
  if (tail.size() == 1 && core::iequals(tail[0], "twin")) {
    out.node = Node::twin;
  } else if (tail.size() == 1 && core::iequals(tail[0], "inputs") && out.id.is_module()) {
    out.node = Node::inputs;
  } else if (tail.size() == 2 && core::iequals(tail[0], "messages") &&
             core::iequals(tail[1], "events")) {
    out.node = Node::events;
  } else if (tail.size() == 2 && core::iequals(tail[0], "messages") &&
             core::iequals(tail[1], "devicebound")) {
    out.node = Node::c2d;
  } else if (tail.size() == 2 && core::iequals(tail[0], "methods") &&
             core::iequals(tail[1], "devicebound")) {
    out.node = Node::methods;
  } else {
    return std::nullopt;
  }
  return out;
}

bool link_role_allowed(const LinkAddress& address, LinkRole role) noexcept {
  switch (address.node) {
    case Node::cbs:
    case Node::methods:
    case Node::twin:
      return true;
    case Node::events:
      // The same module path carries outputs (client sender) and inputs (client receiver).
      return role == LinkRole::receive_from_client || address.id.is_module();
    case Node::inputs:
    case Node::c2d:
      return role == LinkRole::send_to_client;
  }
  return false;
}

}  // namespace edgehub::amqp_core
