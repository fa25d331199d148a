#include "edgehub/http/device_scope.hpp"

#include <nlohmann/json.hpp>
#include <vector>

#include "edgehub/http/errors.hpp"

namespace edgehub::http {
namespace {

using Json = nlohmann::json;

std::string scope_name(std::string_view edge) {
  return "ms-azure-iot-edge://" + std::string(edge);
}

std::string hex_upper(const identity::Bytes& bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (auto b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

Json optional_at(const std::vector<identity::Bytes>& v, std::size_t i, bool hex) {
  if (i >= v.size()) return nullptr;
  return hex ? hex_upper(v[i]) : identity::encode_base64(v[i]);
}

Json device_json(const identity::Identity& id, std::string_view edge) {
  std::string_view type = "sas";
  if (id.auth == identity::AuthType::x509_thumbprint) type = "selfSigned";
  if (id.auth == identity::AuthType::x509_ca) type = "certificateAuthority";
  Json parents = Json::array();
  if (id.id.device != edge) parents.push_back(scope_name(edge));
  return Json{
      {"deviceId", id.id.device},
      {"status", id.enabled ? "enabled" : "disabled"},
      {"authentication",
       {{"type", type},
        {"symmetricKey",
         {{"primaryKey", optional_at(id.keys, 0, false)},
          {"secondaryKey", optional_at(id.keys, 1, false)}}},
        {"x509Thumbprint",
         {{"primaryThumbprint", optional_at(id.thumbprints, 0, true)},
          {"secondaryThumbprint", optional_at(id.thumbprints, 1, true)}}}}},
      {"capabilities", {{"iotEdge", id.edge_device}}},
      {"deviceScope", id.edge_device ? scope_name(id.id.device) : scope_name(edge)},
      {"parentScopes", std::move(parents)},
  };
}

// The scope of child gateway `edge`: itself, then the devices behind it, in file order.
std::vector<const identity::Identity*> members(const identity::Snapshot& registry,
                                               std::string_view edge) {
  std::vector<const identity::Identity*> out;
  if (const auto* self = registry.find(core::ClientId{std::string(edge), {}})) out.push_back(self);
  for (const auto& id : registry.identities()) {
    if (!id.id.is_module() && id.parent == edge && id.id.device != edge) out.push_back(&id);
  }
  return out;
}

Json parse_object(std::string_view body, std::string& why) {
  auto doc = Json::parse(body.empty() ? std::string_view("{}") : body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    why = "the body must be a JSON object";
    return Json();
  }
  return doc;
}

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

core::Result<std::string> scope_page(const identity::Snapshot& registry,
                                     std::string_view edge_device, std::string_view body,
                                     std::string& why) {
  const auto doc = parse_object(body, why);
  if (!doc.is_object()) return Errc::bad_request;
  std::size_t page = kMaxScopePageSize;
  if (const auto it = doc.find("pageSize"); it != doc.end() && !it->is_null()) {
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() == 0) {
      why = "pageSize must be a positive integer";
      return Errc::bad_request;
    }
    page = std::min<std::uint64_t>(it->get<std::uint64_t>(), kMaxScopePageSize);
  }
  // Our continuation links are the offset of the next identity, as text.
  std::size_t offset = 0;
  if (const auto it = doc.find("continuationLink"); it != doc.end() && !it->is_null()) {
    const auto* text = it->get_ptr<const std::string*>();
    if (!text || text->empty() || text->size() > 9 ||
        text->find_first_not_of("0123456789") != std::string::npos) {
      why = "continuationLink is not one this gateway issued";
      return Errc::bad_request;
    }
    offset = std::stoul(*text);
  }
  const auto all = members(registry, edge_device);
  Json devices = Json::array();
  for (std::size_t i = offset; i < all.size() && devices.size() < page; ++i) {
    devices.push_back(device_json(*all[i], edge_device));
  }
  const auto next = offset + devices.size();
  return dump(Json{{"devices", std::move(devices)},
                   {"modules", Json::array()},
                   {"continuationLink", next < all.size() ? Json(std::to_string(next)) : Json()}});
}

core::Result<std::string> scope_identity(const identity::Snapshot& registry,
                                         std::string_view edge_device, std::string_view body,
                                         std::string& why) {
  const auto doc = parse_object(body, why);
  if (!doc.is_object()) return Errc::bad_request;
  const auto target = doc.find("targetDeviceId");
  if (target == doc.end() || !target->is_string()) {
    why = "targetDeviceId is required";
    return Errc::bad_request;
  }
  const auto module = doc.find("targetModuleId");
  if (module != doc.end() && module->is_string() &&
      !module->get_ref<const std::string&>().empty()) {
    why = "module identities of devices behind a child gateway are not in this registry";
    return Errc::device_not_found;
  }
  for (const auto* id : members(registry, edge_device)) {
    if (id->id.device != target->get_ref<const std::string&>()) continue;
    return dump(Json{{"devices", Json::array({device_json(*id, edge_device)})},
                     {"modules", Json::array()},
                     {"continuationLink", nullptr}});
  }
  why = "the target is not in the device scope of " + std::string(edge_device);
  return Errc::device_not_found;
}

}  // namespace edgehub::http
