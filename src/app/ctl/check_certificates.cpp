#include "app/ctl/check_certificates.hpp"

#include "edgehub/core/clock.hpp"
#include "edgehub/pki/inspect.hpp"

namespace edgehub::app::ctl {

void check_certificates(const config::GatewayConfig& config, CheckReport& report) {
  report.section("Certificates");
  const auto input = pki::inspect_input_from(config, core::SystemClock::instance().now());
  for (auto& f : pki::inspect_certificates(input)) {
    Finding finding;
    finding.level = f.severity == pki::CertSeverity::error     ? FindingLevel::error
                    : f.severity == pki::CertSeverity::warning ? FindingLevel::warning
                                                               : FindingLevel::ok;
    finding.title = std::move(f.title);
    finding.detail = std::move(f.detail);
    finding.fix = std::move(f.fix);
    finding.exit_code = finding.level == FindingLevel::error ? kExitFailure : kExitOk;
    report.add(std::move(finding));
  }
}

}  // namespace edgehub::app::ctl
