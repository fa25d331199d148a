#include "edgehub/http/telemetry_request.hpp"

#include <nlohmann/json.hpp>
#include <optional>

#include "edgehub/http/errors.hpp"
#include "edgehub/identity/keys.hpp"

namespace edgehub::http {
namespace {

using core::SystemProperty;

constexpr std::string_view kAppPrefix = "iothub-app-";

struct SystemHeader {
  std::string_view name;
  SystemProperty property;
};

constexpr SystemHeader kSystemHeaders[] = {
    {"iothub-messageid", SystemProperty::message_id},
    {"iothub-correlationid", SystemProperty::correlation_id},
    {"iothub-userid", SystemProperty::user_id},
    {"iothub-contenttype", SystemProperty::content_type},
    {"iothub-contentencoding", SystemProperty::content_encoding},
    {"iothub-expiry", SystemProperty::absolute_expiry_time},
    {"iothub-interface-id", SystemProperty::interface_id},
    {"iothub-creation-time-utc", SystemProperty::creation_time},
    {"dt-subject", SystemProperty::component},
};

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && core::iequals(text.substr(0, prefix.size()), prefix);
}

// Applies one header (or batch property) to `m`; headers that are not message properties are
// skipped. False with `why` on a rule violation.
bool apply(core::Message& m, std::string_view name, std::string_view value, std::string& why) {
  if (starts_with_ci(name, kAppPrefix)) {
    const auto app = name.substr(kAppPrefix.size());
    if (app.empty()) {
      why = "empty application property name (header iothub-app-)";
      return false;
    }
    m.set_app(std::string(app), std::string(value));
    return true;
  }
  for (const auto& h : kSystemHeaders) {
    if (!core::iequals(name, h.name)) continue;
    if (h.property == SystemProperty::message_id && value.size() > kMaxMessageIdLength) {
      why = "iothub-messageid longer than 128 characters";
      return false;
    }
    m.sys_prop(h.property) = std::string(value);
    return true;
  }
  return true;
}

bool within(const core::Message& m, std::size_t max, std::string& why) {
  if (m.accounted_size() <= max) return true;
  why = "message of " + std::to_string(m.accounted_size()) + " bytes exceeds the limit of " +
        std::to_string(max) + " bytes (body and properties)";
  return false;
}

}  // namespace

bool is_batch_content_type(std::string_view content_type) noexcept {
  auto type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t'))
    type.remove_suffix(1);
  return core::iequals(type, kBatchContentType);
}

core::Result<core::Message> message_from_request(std::span<const Header> headers,
                                                 std::string_view body,
                                                 std::size_t max_message_bytes, std::string& why) {
  core::Message m;
  m.set_body(body);
  for (const auto& [name, value] : headers) {
    if (!apply(m, name, value, why)) return Errc::bad_request;
  }
  if (!within(m, max_message_bytes, why)) return Errc::too_large;
  return m;
}

core::Result<std::vector<core::Message>> messages_from_batch(std::string_view body,
                                                             std::size_t max_batch_bytes,
                                                             std::string& why) {
  const auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_array()) {
    why = "a batch must be a JSON array of {\"body\": base64, \"properties\": {...}}";
    return Errc::bad_request;
  }
  if (doc.empty() || doc.size() > kMaxBatchMessages) {
    why = "a batch holds 1 to 500 messages";
    return Errc::bad_request;
  }
  std::vector<core::Message> out;
  out.reserve(doc.size());
  std::size_t total = 0;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const auto& item = doc[i];
    const auto at = "batch[" + std::to_string(i) + "]";
    if (!item.is_object() || !item.contains("body") || !item["body"].is_string()) {
      why = at + " must be an object with a string \"body\"";
      return Errc::bad_request;
    }
    const auto decoded = identity::decode_base64(item["body"].get_ref<const std::string&>());
    if (!decoded) {
      why = at + ".body is not base64";
      return Errc::bad_request;
    }
    core::Message m;
    m.set_body(std::string_view(reinterpret_cast<const char*>(decoded->data()), decoded->size()));
    if (item.contains("properties")) {
      const auto& props = item["properties"];
      if (!props.is_object()) {
        why = at + ".properties must be an object of strings";
        return Errc::bad_request;
      }
      for (const auto& [name, value] : props.items()) {
        if (!value.is_string()) {
          why = at + ".properties." + name + " must be a string";
          return Errc::bad_request;
        }
        if (!apply(m, name, value.get_ref<const std::string&>(), why)) {
          why = at + ": " + why;
          return Errc::bad_request;
        }
      }
    }
    total += m.accounted_size();
    out.push_back(std::move(m));
  }
  if (total > max_batch_bytes) {
    why = "batch of " + std::to_string(total) + " bytes exceeds the limit of " +
          std::to_string(max_batch_bytes) + " bytes (bodies and properties)";
    return Errc::too_large;
  }
  return out;
}

}  // namespace edgehub::http
