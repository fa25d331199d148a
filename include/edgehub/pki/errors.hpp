#pragma once

// Error codes of the pki module. Every public pki function that can fail returns one of these in a
// core::Result and, alongside, an operator-facing message (a `std::string& why` out-parameter) that
// names the file involved and the fix; the code is for programs, the message for people.

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace edgehub::pki {

enum class Errc {
  // files
  file_not_found = 1,
  file_unreadable,
  file_too_large,
  key_file_permissions,  ///< a private key readable or writable by group/others
  write_failed,
  // PEM content
  garbage_pem,           ///< no PEM block, or a block that does not decode
  unexpected_pem_block,  ///< e.g. a private key where a certificate was expected
  encrypted_key,
  unsupported_key_type,  ///< not RSA 2048+ nor EC P-256/P-384
  // Edge CA verification
  not_a_ca,  ///< basicConstraints CA:TRUE missing
  missing_key_cert_sign,
  key_mismatch,
  chain_order,      ///< a certificate of the chain is not issued by the next one
  chain_untrusted,  ///< the chain does not verify to trust_bundle_cert
  certificate_expired,
  certificate_not_yet_valid,
  // configuration
  no_edge_ca,       ///< neither [edge_ca] cert/pk nor auto_generated_edge_ca_expiry_days
  no_trust_bundle,  ///< trust_bundle_cert unset while [edge_ca] cert/pk are set
  invalid_name,     ///< a host name, SAN or device id that cannot go into a certificate
  // anything OpenSSL refused that is not the input's fault
  crypto_failure,
};

const boost::system::error_category& pki_category() noexcept;
boost::system::error_code make_error_code(Errc e) noexcept;

}  // namespace edgehub::pki

template <>
struct boost::system::is_error_code_enum<edgehub::pki::Errc> : std::true_type {};
