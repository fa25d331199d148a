#pragma once

// The parent side of the nested-edge scope API (edgehub-reference.md §1.5, §2.4): a child
// gateway's edgeHub pulls the identities in its device scope — itself and the devices whose
// `parent` names it in the identities file — with their credentials, so that it can
// authenticate them offline. Answered from the local identity registry; pure (no I/O).
//
// Response shape (edgeHub's ScopeResult): {"devices": [Device], "modules": [Module],
// "continuationLink": string|null}; Device as IoT Hub's registry returns it (deviceId, status,
// authentication {type, symmetricKey, x509Thumbprint}, capabilities {iotEdge}, deviceScope,
// parentScopes).

#include <string>
#include <string_view>

#include "edgehub/core/result.hpp"
#include "edgehub/identity/registry.hpp"

namespace edgehub::http {

/// Largest page the scope API returns, whatever pageSize asks.
inline constexpr std::size_t kMaxScopePageSize = 1000;

/// POST .../devicesAndModulesInTargetDeviceScope, body {pageSize, continuationLink, authChain}.
/// Errors: Errc::bad_request (body not an object, pageSize not a positive integer,
/// continuationLink not one this gateway issued).
core::Result<std::string> scope_page(const identity::Snapshot& registry,
                                     std::string_view edge_device, std::string_view body,
                                     std::string& why);

/// POST .../getDeviceAndModuleOnBehalfOf, body {targetDeviceId, targetModuleId, authChain}.
/// Errors: Errc::bad_request (targetDeviceId missing), Errc::device_not_found (not in the
/// child gateway's scope).
core::Result<std::string> scope_identity(const identity::Snapshot& registry,
                                         std::string_view edge_device, std::string_view body,
                                         std::string& why);

}  // namespace edgehub::http
