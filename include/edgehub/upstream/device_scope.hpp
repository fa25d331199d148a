#pragma once

// IoT Hub's device-scope API as edgeHub calls it (edgehub-reference.md §2.4, docs/upstream.md
// "Device scope"): the request body of one page, and a response page parsed into
// identity::Identity values. Pure: text in, identities out; nothing is logged (the pages carry
// every child's keys).
//
// Response (edgeHub's ScopeResult): {"devices": [Device], "modules": [Module],
// "continuationLink": string|null}. Device: deviceId, status "enabled"|"disabled",
// authentication {type "sas"|"selfSigned"|"certificateAuthority"|"none", symmetricKey
// {primaryKey, secondaryKey}, x509Thumbprint {primaryThumbprint, secondaryThumbprint}},
// capabilities {iotEdge}, deviceScope, parentScopes. Module: deviceId, moduleId, authentication.
//
// The cache file ({state_dir}/device-scope.json) has the same shape, so one parser reads both.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgehub/core/result.hpp"
#include "edgehub/identity/registry.hpp"

namespace edgehub::upstream {

inline constexpr std::string_view kScopeApiVersion = "2020-06-30-preview";

/// Identities a sync accepts in total, over all pages: a misbehaving server cannot grow the
/// gateway's memory without bound.
inline constexpr std::size_t kMaxScopeIdentities = 100000;

/// "/devices/{gw}/modules/$edgeHub/devicesAndModulesInTargetDeviceScope?api-version=..."
std::string scope_request_target(std::string_view edge_device_id);

/// {"pageSize": N, "continuationLink": link|null, "authChain": "{gw}"}
std::string scope_request_body(std::size_t page_size,
                               const std::optional<std::string>& continuation_link,
                               std::string_view edge_device_id);

/// An entry of a page that could not be used, and why (never a key).
struct ScopeEntryIssue {
  std::string where;  ///< e.g. "devices[3]" or "modules[0] (gw/m1)"
  std::string reason;
};

struct ScopePage {
  std::vector<identity::Identity> identities;  ///< devices, then modules, as listed
  std::optional<std::string> continuation_link;
  std::vector<ScopeEntryIssue> rejected;  ///< entries skipped; the others are still usable
};

/// Parses one response page. A document that is not a JSON object, or whose devices / modules
/// are not arrays or continuationLink neither a string nor null, fails with
/// boost::system::errc::bad_message and `why`. A single unusable entry (no deviceId, an unknown
/// status or authentication type, a key that is not base64, ...) is skipped and listed in
/// `rejected`.
core::Result<ScopePage> parse_scope_page(std::string_view body, std::string& why);

/// The cache file's text: {"devices": [...], "modules": [...], "continuationLink": null}, the
/// identities in the API's own shape.
std::string scope_cache_text(const std::vector<identity::Identity>& identities);

/// The device id an IoT Hub scope string names: "ms-azure-iot-edge://{id}-{generationId}" or
/// "ms-azure-iot-edge://{id}" -> "{id}"; empty when `scope` is not one.
std::string device_of_scope(std::string_view scope);

}  // namespace edgehub::upstream
