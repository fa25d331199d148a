// Certificate chains and private keys from untrusted files: describe_certificates() and the key
// parser must return a value or an error for any bytes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "edgehub/pki/certificate.hpp"
#include "pki/ossl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string why;
  auto certs = edgehub::pki::describe_certificates(text, "fuzz", why);
  if (certs && certs->empty()) __builtin_trap();  // success means at least one certificate

  auto key = edgehub::pki::ossl::parse_private_key(text);
  if (key) {
    std::string description;
    (void)edgehub::pki::ossl::is_supported_key(key->get(), description);
    if (edgehub::pki::ossl::to_pem(key->get()).empty()) __builtin_trap();
  }
  return 0;
}
