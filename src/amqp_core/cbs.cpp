#include "edgehub/amqp_core/cbs.hpp"

#include "edgehub/amqp_core/address.hpp"
#include "edgehub/amqp_core/errors.hpp"

namespace edgehub::amqp_core {

core::Result<PutTokenRequest> parse_put_token(const DecodedMessage& request) {
  const auto& m = request.message;
  const auto* operation = m.find_app("operation");
  const auto* type = m.find_app("type");
  const auto* name = m.find_app("name");
  if (!operation || !operation->value || *operation->value != "put-token") {
    return Errc::malformed_put_token;
  }
  if (!type || !type->value || !name || !name->value || name->value->empty() || m.body.empty()) {
    return Errc::malformed_put_token;
  }
  if (*type->value != kServiceBusTokenType && *type->value != kIotHubTokenType) {
    return Errc::unsupported_token_type;
  }
  return PutTokenRequest{request.message_id, *type->value, *name->value,
                         std::string(m.body_text())};
}

core::Result<core::ClientId> parse_audience(std::string_view audience) {
  auto decoded = url_decode(audience);
  if (!decoded) return Errc::bad_audience;
  std::string_view text = *decoded;
  if (const auto scheme = text.find("://"); scheme != std::string_view::npos) {
    text.remove_prefix(scheme + 3);
  }
  const auto slash = text.find('/');
  if (slash == 0 || slash == std::string_view::npos) return Errc::bad_audience;
  // Reuse the link-address grammar: "/devices/{d}[/modules/{m}]" + "/twin".
  const auto parsed = parse_link_address(std::string(text.substr(slash)) + "/twin");
  if (!parsed || parsed->node != Node::twin) return Errc::bad_audience;
  return parsed->id;
}

core::Result<std::vector<std::byte>> encode_put_token_reply(
    const std::optional<MessageId>& request_id, CbsStatus status, std::string_view description) {
  core::Message reply;
  OutboundExtras extras;
  extras.include_system_annotations = false;
  extras.correlation_id = request_id;
  extras.typed_properties.emplace_back("status-code", static_cast<std::int32_t>(status));
  extras.typed_properties.emplace_back("status-description", std::string(description));
  return encode_message(reply, extras);
}

}  // namespace edgehub::amqp_core
