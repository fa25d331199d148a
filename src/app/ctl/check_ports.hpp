#pragma once

// The "Ports" section of `edgehubctl check`: every configured listener address (mqtt, amqp,
// https, metrics) must be free to bind or already held by edgehubd itself. A port held by another
// program is an error (exit 1) naming that program; a privileged port that this user may not
// bind is a warning (the systemd unit grants CAP_NET_BIND_SERVICE).

#include "app/ctl/check_report.hpp"
#include "edgehub/config/gateway_config.hpp"

namespace edgehub::app::ctl {

void check_ports(const config::GatewayConfig& config, CheckReport& report);

}  // namespace edgehub::app::ctl
