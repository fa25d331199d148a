#pragma once

// The loader's sections, one function per part of the file. Each reads what it can, reports
// every problem through the Reader, and leaves defaults in place where a value was bad.

#include <toml++/toml.h>

#include "config/reader.hpp"
#include "edgehub/config/gateway_config.hpp"

namespace edgehub::config::detail {

/// hostname, parent_hostname, trust_bundle_cert, [provisioning], [edge_ca] and the names of the
/// aziot tables edgehubd ignores.
void read_aziot(Reader& r, const toml::table& root, GatewayConfig& out);

/// [gateway] and its sub-tables; then the gateway's device id / hub host name resolution.
/// `provisioning_declared` is true when a [provisioning] table exists, even an unusable one, so
/// that its error is not followed by a misleading "no device id".
void read_gateway(Reader& r, const toml::table& root, bool provisioning_declared,
                  GatewayConfig& out);

}  // namespace edgehub::config::detail
