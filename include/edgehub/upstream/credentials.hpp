#pragma once

// How the gateway authenticates each identity upstream (edgehub-reference.md §2.6,
// docs/upstream.md). Pure: keys and time in, CONNECT fields out; nothing is logged (tokens are
// secrets).
//
//  - the gateway's own device: user name {hub}/{gw}/?api-version=…, password a SAS token for
//    {hub}/devices/{gw} signed with the provisioning key (none with X.509 provisioning);
//  - a child (a downstream device, or a module of the gateway): user name
//    {hub}/{d}[/{m}]/?api-version=…&auth-chain={d}[/{m}];{gw}, password edgeHub's own token:
//    audience {hub}/devices/{gw}/modules/$edgeHub, signed with [provisioning] edgehub_module_key.

#include <functional>
#include <optional>
#include <string>

#include "edgehub/core/client_id.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/upstream/options.hpp"

namespace edgehub::upstream {

/// The api-version edgehubd names upstream (what the current Node SDK sends).
inline constexpr std::string_view kApiVersion = "2021-04-12";

struct ConnectCredentials {
  std::string client_id;  ///< "{d}" or "{d}/{m}"
  std::string username;
  std::string password;  ///< a SAS token; empty when the TLS client certificate authenticates
  core::SystemTime expires_at = core::SystemTime::max();  ///< of the token
  bool use_client_certificate = false;
  std::string auth_chain;  ///< on behalf of a child: "leaf;…;gw" (AMQP sends it with the token)
};

/// The audience of the `$edgeHub` token children are authenticated with, decoded.
std::string edgehub_token_audience(const UpstreamOptions& options);

/// The CBS put-token name of `id` over AMQP (iot-hub-protocol.md §11.3): "{hub}/devices/{d}
/// [/modules/{m}]", URL-encoded as a token's sr. The token is connect_credentials().password.
std::string cbs_audience(const UpstreamOptions& options, const core::ClientId& id);

/// The auth chain of a child identity (edgehub-reference.md §2.6): the identity, then the
/// devices above it up to this gateway, ';'-separated, target first and this gateway last:
/// "leaf;child-gw;gw". `parent_of` gives a device's parent ("" for none); a chain that does not
/// reach the gateway within five levels ends at the gateway anyway.
std::string auth_chain(const UpstreamOptions& options, const core::ClientId& id,
                       const std::function<std::string(const std::string&)>& parent_of);

/// The CONNECT credentials of `id` at `now`. With options.forward_device_tokens (authentication
/// mode "cloud") a child is authenticated with `device_token`, the SAS token it last presented
/// downstream, instead of the gateway's $edgeHub token; without one it has no credentials
/// (identity::Errc::no_credentials) until it connects again. Errors: identity::Errc::invalid_key
/// when the key needed is missing or not base64 (no edgehub_module_key for a child).
core::Result<ConnectCredentials> connect_credentials(
    const UpstreamOptions& options, const core::ClientId& id, core::SystemTime now,
    const std::string& chain = {}, const std::optional<std::string>& device_token = {});

}  // namespace edgehub::upstream
