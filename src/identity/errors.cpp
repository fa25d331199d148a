#include "edgehub/identity/errors.hpp"

#include <string>

namespace edgehub::identity {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "edgehub.identity"; }

  // Messages never contain the credential itself: they end up in logs.
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::malformed_token:
        return "malformed SAS token";
      case Errc::token_expired:
        return "SAS token expired";
      case Errc::wrong_audience:
        return "SAS token audience does not cover the identity";
      case Errc::bad_signature:
        return "SAS token signature does not match the identity's keys";
      case Errc::policy_token:
        return "SAS token signed with a hub policy key (skn), which the gateway cannot verify";
      case Errc::unknown_identity:
        return "unknown identity";
      case Errc::disabled_identity:
        return "identity is disabled";
      case Errc::wrong_auth_type:
        return "credential type does not match the identity's auth type";
      case Errc::no_credentials:
        return "no credentials presented";
      case Errc::malformed_certificate:
        return "client certificate could not be parsed";
      case Errc::certificate_expired:
        return "client certificate is outside its validity period";
      case Errc::thumbprint_mismatch:
        return "client certificate thumbprint does not match";
      case Errc::untrusted_chain:
        return "client certificate chain does not verify against the trust bundle";
      case Errc::wrong_common_name:
        return "client certificate CN differs from the device id";
      case Errc::module_x509:
        return "modules cannot authenticate with X.509 certificates";
      case Errc::no_trust_bundle:
        return "no trust bundle configured for CA-signed identities";
      case Errc::invalid_key:
        return "invalid base64 key";
      case Errc::trust_bundle_unreadable:
        return "trust bundle unreadable or empty";
      case Errc::token_lifetime_too_long:
        return "SAS token expires further ahead than max_token_lifetime_secs allows";
    }
    return "unknown identity error";
  }
};

}  // namespace

const boost::system::error_category& identity_category() noexcept {
  static const Category category;
  return category;
}

std::string_view reason_label(const boost::system::error_code& ec) noexcept {
  if (ec.category() != identity_category()) return "not_authenticated";
  switch (static_cast<Errc>(ec.value())) {
    case Errc::malformed_token:
      return "malformed_token";
    case Errc::token_expired:
      return "token_expired";
    case Errc::wrong_audience:
      return "wrong_audience";
    case Errc::bad_signature:
      return "bad_signature";
    case Errc::policy_token:
      return "policy_token";
    case Errc::unknown_identity:
      return "unknown_identity";
    case Errc::disabled_identity:
      return "disabled";
    case Errc::wrong_auth_type:
      return "wrong_auth_type";
    case Errc::no_credentials:
      return "not_authenticated";
    case Errc::malformed_certificate:
      return "malformed_certificate";
    case Errc::certificate_expired:
      return "certificate_expired";
    case Errc::thumbprint_mismatch:
      return "thumbprint_mismatch";
    case Errc::untrusted_chain:
      return "untrusted_chain";
    case Errc::wrong_common_name:
      return "wrong_common_name";
    case Errc::module_x509:
      return "module_x509";
    case Errc::no_trust_bundle:
      return "certificate_rejected";
    case Errc::invalid_key:
      return "not_authenticated";
    case Errc::trust_bundle_unreadable:
      return "certificate_rejected";
    case Errc::token_lifetime_too_long:
      return "token_lifetime_too_long";
  }
  return "not_authenticated";
}

}  // namespace edgehub::identity
