#include "edgehub/upstream/device_scope.hpp"

#include <boost/system/error_code.hpp>
#include <nlohmann/json.hpp>

#include "edgehub/identity/keys.hpp"

namespace edgehub::upstream {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kScopePrefix = "ms-azure-iot-edge://";

// A member that must be a string when present; nullopt when absent or null.
std::optional<std::string> string_at(const Json& object, const char* name, std::string& why) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    why = std::string(name) + " is not a string";
    return std::nullopt;
  }
  return it->get<std::string>();
}

bool read_secrets(const Json& auth, const char* holder, const char* primary, const char* secondary,
                  bool thumbprints, std::vector<identity::Bytes>& out, std::string& why) {
  const auto it = auth.find(holder);
  if (it == auth.end() || !it->is_object()) {
    why = std::string("authentication.") + holder + " is missing";
    return false;
  }
  for (const char* name : {primary, secondary}) {
    auto text = string_at(*it, name, why);
    if (!why.empty()) return false;
    if (!text || text->empty()) continue;
    auto bytes = thumbprints ? identity::parse_thumbprint(*text) : identity::decode_base64(*text);
    if (!bytes || bytes->empty()) {
      // Never the value: it is a key.
      why = std::string("authentication.") + holder + "." + name +
            (thumbprints ? " is not a hex SHA-1 or SHA-256 thumbprint" : " is not base64");
      return false;
    }
    out.push_back(std::move(*bytes));
  }
  if (out.empty()) {
    why = std::string("authentication.") + holder + " has neither " + primary + " nor " + secondary;
    return false;
  }
  return true;
}

bool read_authentication(const Json& entry, identity::Identity& id, std::string& why) {
  const auto it = entry.find("authentication");
  if (it == entry.end() || !it->is_object()) {
    why = "authentication is missing";
    return false;
  }
  const auto type = string_at(*it, "type", why);
  if (!why.empty()) return false;
  if (!type) {
    why = "authentication.type is missing";
    return false;
  }
  if (*type == "sas") {
    id.auth = identity::AuthType::sas;
    return read_secrets(*it, "symmetricKey", "primaryKey", "secondaryKey", false, id.keys, why);
  }
  if (*type == "selfSigned") {
    id.auth = identity::AuthType::x509_thumbprint;
    return read_secrets(*it, "x509Thumbprint", "primaryThumbprint", "secondaryThumbprint", true,
                        id.thumbprints, why);
  }
  if (*type == "certificateAuthority") {
    id.auth = identity::AuthType::x509_ca;
    return true;
  }
  // "none" (an identity that cannot authenticate) and anything newer.
  why = "authentication.type '" + *type + "' cannot authenticate a client";
  return false;
}

std::optional<identity::Identity> read_entry(const Json& entry, bool module, std::string& why) {
  if (!entry.is_object()) {
    why = "not an object";
    return std::nullopt;
  }
  identity::Identity id;
  const auto device = string_at(entry, "deviceId", why);
  if (!why.empty()) return std::nullopt;
  if (!device || !identity::is_valid_id(*device)) {
    why = device ? "deviceId is not a valid id" : "deviceId is missing";
    return std::nullopt;
  }
  id.id.device = *device;
  if (module) {
    const auto name = string_at(entry, "moduleId", why);
    if (!why.empty()) return std::nullopt;
    if (!name || !identity::is_valid_id(*name)) {
      why = name ? "moduleId is not a valid id" : "moduleId is missing";
      return std::nullopt;
    }
    id.id.module = *name;
  }
  // Modules have no status in IoT Hub's registry: they live and die with their device.
  const auto status = string_at(entry, "status", why);
  if (!why.empty()) return std::nullopt;
  if (status && *status != "enabled" && *status != "disabled") {
    why = "status '" + *status + "' is neither enabled nor disabled";
    return std::nullopt;
  }
  if (!module && !status) {
    why = "status is missing";
    return std::nullopt;
  }
  id.enabled = !status || *status == "enabled";
  if (!read_authentication(entry, id, why)) return std::nullopt;
  if (module && id.auth != identity::AuthType::sas) {
    why = "module identities authenticate with SAS keys only";
    return std::nullopt;
  }
  if (!module) {
    if (const auto caps = entry.find("capabilities"); caps != entry.end() && caps->is_object()) {
      const auto edge = caps->find("iotEdge");
      id.edge_device = edge != caps->end() && edge->is_boolean() && edge->get<bool>();
    }
    // A device's parent is the edge device whose scope it sits in: the first parentScope, or
    // for a leaf (which has none in older API versions) its deviceScope.
    if (const auto parents = entry.find("parentScopes"); parents != entry.end() &&
                                                         parents->is_array() && !parents->empty() &&
                                                         parents->front().is_string()) {
      id.parent = device_of_scope(parents->front().get<std::string>());
    } else if (!id.edge_device) {
      if (auto scope = string_at(entry, "deviceScope", why)) id.parent = device_of_scope(*scope);
      why.clear();
    }
  }
  return id;
}

Json secrets_json(const std::vector<identity::Bytes>& values, const char* primary,
                  const char* secondary, bool hex) {
  auto text = [&](std::size_t i) -> Json {
    if (i >= values.size()) return nullptr;
    return hex ? identity::to_hex(values[i]) : identity::encode_base64(values[i]);
  };
  return Json{{primary, text(0)}, {secondary, text(1)}};
}

Json entry_json(const identity::Identity& id) {
  Json auth;
  switch (id.auth) {
    case identity::AuthType::sas:
      auth = {{"type", "sas"},
              {"symmetricKey", secrets_json(id.keys, "primaryKey", "secondaryKey", false)}};
      break;
    case identity::AuthType::x509_thumbprint:
      auth = {{"type", "selfSigned"},
              {"x509Thumbprint",
               secrets_json(id.thumbprints, "primaryThumbprint", "secondaryThumbprint", true)}};
      break;
    case identity::AuthType::x509_ca:
      auth = {{"type", "certificateAuthority"}};
      break;
  }
  Json out{{"deviceId", id.id.device}, {"authentication", std::move(auth)}};
  if (id.id.is_module()) {
    out["moduleId"] = id.id.module;
    return out;
  }
  out["status"] = id.enabled ? "enabled" : "disabled";
  out["capabilities"] = {{"iotEdge", id.edge_device}};
  out["parentScopes"] = Json::array();
  if (!id.parent.empty()) out["parentScopes"].push_back(std::string(kScopePrefix) + id.parent);
  return out;
}

}  // namespace

std::string scope_request_target(std::string_view edge_device_id) {
  return "/devices/" + std::string(edge_device_id) +
         "/modules/$edgeHub/devicesAndModulesInTargetDeviceScope?api-version=" +
         std::string(kScopeApiVersion);
}

std::string scope_request_body(std::size_t page_size,
                               const std::optional<std::string>& continuation_link,
                               std::string_view edge_device_id) {
  return Json{{"pageSize", page_size},
              {"continuationLink", continuation_link ? Json(*continuation_link) : Json()},
              {"authChain", std::string(edge_device_id)}}
      .dump();
}

core::Result<ScopePage> parse_scope_page(std::string_view body, std::string& why) {
  const auto bad = boost::system::errc::make_error_code(boost::system::errc::bad_message);
  const auto doc = Json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    why = "the scope page is not a JSON object";
    return bad;
  }
  ScopePage page;
  for (const auto* list : {"devices", "modules"}) {
    const auto it = doc.find(list);
    if (it == doc.end() || it->is_null()) continue;
    if (!it->is_array()) {
      why = std::string(list) + " is not an array";
      return bad;
    }
    const bool module = std::string_view(list) == "modules";
    for (std::size_t i = 0; i < it->size(); ++i) {
      std::string reason;
      auto id = read_entry((*it)[i], module, reason);
      if (id) {
        page.identities.push_back(std::move(*id));
        continue;
      }
      std::string where = std::string(list) + "[" + std::to_string(i) + "]";
      if ((*it)[i].is_object()) {
        const auto name = (*it)[i].find("deviceId");
        if (name != (*it)[i].end() && name->is_string() &&
            identity::is_valid_id(name->get_ref<const std::string&>())) {
          where += " (" + name->get<std::string>() + ")";
        }
      }
      page.rejected.push_back({std::move(where), std::move(reason)});
    }
  }
  if (const auto it = doc.find("continuationLink"); it != doc.end() && !it->is_null()) {
    if (!it->is_string()) {
      why = "continuationLink is neither a string nor null";
      return bad;
    }
    if (!it->get_ref<const std::string&>().empty()) page.continuation_link = it->get<std::string>();
  }
  return page;
}

std::string scope_cache_text(const std::vector<identity::Identity>& identities) {
  Json devices = Json::array();
  Json modules = Json::array();
  for (const auto& id : identities)
    (id.id.is_module() ? modules : devices).push_back(entry_json(id));
  return Json{{"devices", std::move(devices)},
              {"modules", std::move(modules)},
              {"continuationLink", nullptr}}
      .dump(1);
}

std::string device_of_scope(std::string_view scope) {
  if (!scope.starts_with(kScopePrefix)) return {};
  std::string_view rest = scope.substr(kScopePrefix.size());
  // IoT Hub appends "-{generationId}" (18 digits); a parent edgehubd names the device only.
  const auto dash = rest.rfind('-');
  if (dash != std::string_view::npos && rest.size() - dash - 1 >= 15 &&
      rest.find_first_not_of("0123456789", dash + 1) == std::string_view::npos) {
    rest = rest.substr(0, dash);
  }
  return identity::is_valid_id(rest) ? std::string(rest) : std::string();
}

}  // namespace edgehub::upstream
