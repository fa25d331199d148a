#include "edgehub/pki/errors.hpp"

#include <string>

namespace edgehub::pki {
namespace {

class PkiCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "edgehub.pki"; }

  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::file_not_found:
        return "file not found";
      case Errc::file_unreadable:
        return "file cannot be read";
      case Errc::file_too_large:
        return "file is too large to be a PEM certificate or key";
      case Errc::key_file_permissions:
        return "private key file is accessible by group or others";
      case Errc::write_failed:
        return "file could not be written";
      case Errc::garbage_pem:
        return "not valid PEM";
      case Errc::unexpected_pem_block:
        return "PEM block of the wrong kind";
      case Errc::encrypted_key:
        return "private key is encrypted";
      case Errc::unsupported_key_type:
        return "unsupported key type or size (need RSA 2048+ or EC P-256/P-384)";
      case Errc::not_a_ca:
        return "certificate is not a CA (basicConstraints CA:TRUE missing)";
      case Errc::missing_key_cert_sign:
        return "CA certificate lacks the keyCertSign key usage";
      case Errc::key_mismatch:
        return "private key does not match the certificate";
      case Errc::chain_order:
        return "certificate chain is out of order";
      case Errc::chain_untrusted:
        return "certificate chain does not verify to the trust bundle";
      case Errc::certificate_expired:
        return "certificate has expired";
      case Errc::certificate_not_yet_valid:
        return "certificate is not yet valid";
      case Errc::no_edge_ca:
        return "no Edge CA configured";
      case Errc::no_trust_bundle:
        return "no trust bundle configured";
      case Errc::invalid_name:
        return "name cannot be used in a certificate";
      case Errc::crypto_failure:
        return "cryptographic operation failed";
    }
    return "unknown edgehub.pki error";
  }
};

}  // namespace

const boost::system::error_category& pki_category() noexcept {
  static const PkiCategory category;
  return category;
}

boost::system::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), pki_category()};
}

}  // namespace edgehub::pki
