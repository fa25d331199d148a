#pragma once

// The "Certificates" section of `edgehubctl check`: pki::inspect_certificates findings (format,
// chain, CA flags, key match, expiry, file permissions, hostname) added to the report. Errors
// exit 1, as every non-configuration failure does.

#include "app/ctl/check_report.hpp"
#include "edgehub/config/gateway_config.hpp"

namespace edgehub::app::ctl {

void check_certificates(const config::GatewayConfig& config, CheckReport& report);

}  // namespace edgehub::app::ctl
