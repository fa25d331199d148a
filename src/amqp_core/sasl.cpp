#include "edgehub/amqp_core/sasl.hpp"

#include "edgehub/amqp_core/address.hpp"
#include "edgehub/amqp_core/errors.hpp"

namespace edgehub::amqp_core {

core::Result<PlainResponse> parse_plain_response(std::span<const char> response) {
  const std::string_view text(response.data(), response.size());
  const auto first = text.find('\0');
  if (first == std::string_view::npos) return Errc::malformed_sasl_response;
  const auto second = text.find('\0', first + 1);
  if (second == std::string_view::npos) return Errc::malformed_sasl_response;
  if (text.find('\0', second + 1) != std::string_view::npos) return Errc::malformed_sasl_response;
  PlainResponse out{std::string(text.substr(0, first)),
                    std::string(text.substr(first + 1, second - first - 1)),
                    std::string(text.substr(second + 1))};
  if (out.user.empty()) return Errc::malformed_sasl_response;
  return out;
}

core::Result<PlainUser> parse_plain_user(std::string_view user) {
  const auto at = user.rfind("@sas.");
  if (at == std::string_view::npos || at == 0) return Errc::bad_plain_user_name;
  auto hub = user.substr(at + 5);
  auto name = user.substr(0, at);
  PlainUser out;
  if (hub.starts_with("root.")) {
    hub.remove_prefix(5);
    auto policy = url_decode(name);
    if (!policy || policy->empty()) return Errc::bad_plain_user_name;
    out.policy = std::move(*policy);
  } else {
    // Reuse the link-address rules for ids: "/devices/{name}/twin" parses exactly when
    // {name} is "{d}" or "{d}/modules/{m}" with valid ids.
    const auto parsed = parse_link_address("/devices/" + std::string(name) + "/twin");
    if (!parsed) return Errc::bad_plain_user_name;
    out.id = parsed->id;
  }
  if (hub.empty() || hub.find('.') != std::string_view::npos) return Errc::bad_plain_user_name;
  out.hubname = std::string(hub);
  return out;
}

}  // namespace edgehub::amqp_core
