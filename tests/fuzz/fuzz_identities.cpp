// libFuzzer target: identity::parse_identities on arbitrary text. Invariants (abort = finding):
// a refused file always comes with at least one issue; an accepted one with none, and every
// identity in it has a valid id and the credentials its auth type needs.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "edgehub/identity/registry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgehub::identity;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<RegistryIssue> issues;
  const auto snapshot = parse_identities(text, "fuzz.toml", "gw", issues);
  if (!snapshot) {
    if (issues.empty()) std::abort();
    for (const auto& issue : issues)
      (void)issue.to_string();
    return 0;
  }
  if (!issues.empty()) std::abort();
  for (const auto& identity : snapshot->identities()) {
    const auto& id = identity.id.is_module() ? identity.id.module : identity.id.device;
    if (!is_valid_id(id)) std::abort();
    if (identity.auth == AuthType::sas && identity.keys.empty()) std::abort();
    if (identity.auth == AuthType::x509_thumbprint && identity.thumbprints.empty()) std::abort();
    if (snapshot->find(identity.id) != &identity) std::abort();
  }
  return 0;
}
