#include "edgehub/http/method_request.hpp"

#include <nlohmann/json.hpp>

#include "edgehub/http/errors.hpp"

namespace edgehub::http {
namespace {

using Json = nlohmann::json;

// Reads an optional whole-second timeout in [min, max]; false with `why` when it is present but
// not such a number.
bool read_seconds(const Json& doc, const char* field, std::chrono::seconds min,
                  std::chrono::seconds max, std::chrono::seconds& out, std::string& why) {
  const auto it = doc.find(field);
  if (it == doc.end() || it->is_null()) return true;
  if (!it->is_number_integer()) {
    why = std::string(field) + " must be an integer number of seconds";
    return false;
  }
  const auto value = it->get<std::int64_t>();
  if (value < min.count() || value > max.count()) {
    why = std::string(field) + " must be between " + std::to_string(min.count()) + " and " +
          std::to_string(max.count());
    return false;
  }
  out = std::chrono::seconds(value);
  return true;
}

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

core::Result<MethodInvocation> parse_method_request(std::string_view body, std::string& why) {
  const auto doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    why = "the body must be a JSON object with methodName, payload and timeouts";
    return Errc::bad_request;
  }
  MethodInvocation call;
  const auto name = doc.find("methodName");
  if (name == doc.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    why = "methodName is required (a non-empty string)";
    return Errc::bad_request;
  }
  call.method_name = name->get<std::string>();
  if (call.method_name.size() > kMaxMethodNameChars) {
    why = "methodName is longer than 100 characters";
    return Errc::bad_request;
  }
  if (!read_seconds(doc, "responseTimeoutInSeconds", kMinResponseTimeout, kMaxResponseTimeout,
                    call.response_timeout, why) ||
      !read_seconds(doc, "connectTimeoutInSeconds", std::chrono::seconds(0), kMaxConnectTimeout,
                    call.connect_timeout, why)) {
    return Errc::bad_request;
  }
  const auto payload = doc.find("payload");
  call.payload = payload == doc.end() ? "null" : dump(*payload);
  if (call.payload.size() > kMaxMethodPayloadBytes) {
    why = "payload of " + std::to_string(call.payload.size()) +
          " bytes exceeds the method payload limit of 128 KiB";
    return Errc::too_large;
  }
  return call;
}

std::string method_response_body(int status, std::string_view payload) {
  Json answer{{"status", status}};
  if (payload.empty()) {
    answer["payload"] = nullptr;
  } else {
    auto parsed = Json::parse(payload, nullptr, /*allow_exceptions=*/false);
    answer["payload"] = parsed.is_discarded() ? Json(std::string(payload)) : std::move(parsed);
  }
  return dump(answer);
}

}  // namespace edgehub::http
