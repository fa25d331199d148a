// libFuzzer target for the config loader and its value parsers. Besides "no crash, no leak, no
// escaped exception", it checks the loader's contract on every input: a snapshot exactly when
// there is no error, and every issue printable as FILE...: with a fix for each error.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "edgehub/config/load.hpp"
#include "edgehub/config/parse.hpp"

namespace {

constexpr std::string_view kFile = "/fuzz/config.toml";

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgehub::config;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  std::vector<ConfigIssue> issues;
  const auto cfg = parse_config(text, std::string(kFile), issues);
  check(cfg.has_value() != has_errors(issues));
  for (const auto& issue : issues) {
    check(issue.to_string().rfind(kFile, 0) == 0);
    check(issue.severity != Severity::error || !issue.fix.empty());
  }
  if (cfg) {
    check(!cfg->hostname.empty() && !cfg->device_id.empty() && !cfg->iothub_hostname.empty());
    for (const auto& route : cfg->routes)
      check(!route.text.empty() && route.line > 0);
  }

  (void)parse_host_port(text);
  (void)file_uri_to_path(text);
  (void)validate_sas_key(text);
  if (const auto cs = parse_device_connection_string(text)) {
    check(!cs->host_name.empty() && !cs->device_id.empty() &&
          validate_sas_key(cs->shared_access_key));
  }
  return 0;
}
