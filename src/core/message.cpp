#include "edgehub/core/message.hpp"

#include <algorithm>
#include <cstring>

namespace edgehub::core {
namespace {

constexpr std::array<std::string_view, kSystemPropertyCount> kNames = {
    "messageId",
    "cid",
    "userId",
    "to",
    "absolute-expiry-time",
    "contentType",
    "contentEncoding",
    "creationTime",
    "outputName",
    "inputName",
    "iothub-interface-id",
    "dt-subject",
    "messageSchema",
    "operation",
    "ack",
    "connectionDeviceId",
    "connectionModuleId",
    "connectionAuthMethod",
    "modelId",
    "enqueuedTime",
    "edgeMessageId",
    "edgeHubOriginInterface",
    "messageType",
    "version",
};

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view system_property_name(SystemProperty p) noexcept {
  return kNames[static_cast<std::size_t>(p)];
}

std::optional<SystemProperty> find_system_property(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (iequals(kNames[i], name)) return static_cast<SystemProperty>(i);
  }
  // edgeHub stores the message correlation id under "cid"; the route language documentation and
  // many manifests say $correlationId, so both names reach the same property.
  if (iequals(name, "correlationId")) return SystemProperty::correlation_id;
  return std::nullopt;
}

const Property* Message::find_app(std::string_view name) const noexcept {
  for (const auto& p : app) {
    if (iequals(p.name, name)) return &p;
  }
  return nullptr;
}

void Message::set_app(std::string name, std::optional<std::string> value) {
  for (auto& p : app) {
    if (iequals(p.name, name)) {
      p.name = std::move(name);
      p.value = std::move(value);
      return;
    }
  }
  app.push_back(Property{std::move(name), std::move(value)});
}

void Message::set_body(std::string_view text) {
  body.resize(text.size());
  if (!text.empty()) std::memcpy(body.data(), text.data(), text.size());
}

std::size_t Message::accounted_size() const noexcept {
  std::size_t n = body.size();
  for (const auto& v : sys)
    n += v ? v->size() : 0;
  for (const auto& p : app)
    n += p.name.size() + (p.value ? p.value->size() : 0);
  return n;
}

std::string Message::source_path() const {
  if (kind == MessageKind::twin_change_notification) return "/twinChangeNotifications";
  const auto& module = sys_prop(SystemProperty::connection_module_id);
  if (!module || module->empty()) return "/messages";
  std::string path = "/messages/modules/" + *module;
  if (const auto& output = sys_prop(SystemProperty::output_name); output && !output->empty()) {
    path += "/outputs/" + *output;
  }
  return path;
}

}  // namespace edgehub::core
