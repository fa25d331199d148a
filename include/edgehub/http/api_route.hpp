#pragma once

// Which operation of the HTTPS API a request line names (iot-hub-protocol.md §5.1,
// edgehub-reference.md §1.5). Pure string code: no I/O, never throws; fuzzed with arbitrary
// request lines (tests/fuzz/fuzz_http_request.cpp).
//
//   POST   /devices/{d}/messages/events                              telemetry (single or batch)
//   GET    /devices/{d}/messages/devicebound                         C2D receive
//   DELETE /devices/{d}/messages/devicebound/{lock}[?reject]         C2D complete / reject
//   POST   /devices/{d}/messages/devicebound/{lock}/abandon          C2D abandon
//   POST   /twins/{d}/methods, /twins/{d}/modules/{m}/methods        module invokes a method
//   POST   /devices/{edge}/modules/$edgeHub/devicesAndModulesInTargetDeviceScope
//   POST   /devices/{edge}/modules/$edgeHub/getDeviceAndModuleOnBehalfOf   nested scope API
//
// Ids are percent-decoded and must be valid IoT Hub ids; "devicebound" matches any case (the
// REST reference spells deviceBound, Node sends devicebound).

#include <optional>
#include <string>
#include <string_view>

#include "edgehub/core/result.hpp"

namespace edgehub::http {

enum class Operation {
  telemetry,
  c2d_receive,
  c2d_complete,
  c2d_reject,
  c2d_abandon,
  invoke_method,
  scope_devices_and_modules,
  scope_on_behalf_of,
};

/// The api-version the nested scope API speaks (edgeHub's, reference §1.5).
inline constexpr std::string_view kNestedApiVersion = "2020-06-30-preview";

struct ApiRoute {
  Operation operation = Operation::telemetry;
  std::string device;      ///< {d}, {edge}: decoded
  std::string module;      ///< {m} of a module method target; empty otherwise
  std::string lock_token;  ///< C2D settle operations
  std::optional<std::string> api_version;
};

/// The metric label of an operation ("telemetry", "c2d_receive", "invoke_method", ...).
std::string_view operation_label(Operation op) noexcept;

/// Matches `method` and `target` (path and query). Errors: Errc::not_found (unknown path or
/// invalid id), Errc::method_not_allowed (known path, other method), Errc::bad_request
/// (malformed percent-encoding or query).
core::Result<ApiRoute> match_route(std::string_view method, std::string_view target);

/// Whether `version` has IoT Hub's form YYYY-MM-DD with an optional "-preview".
bool is_api_version(std::string_view version) noexcept;

/// Percent-decodes `text`; nullopt on a bad escape. '+' stays '+' (paths, not forms).
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace edgehub::http
