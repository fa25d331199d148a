#pragma once

// Why an identity was refused. Every value is distinct so that operators can tell an expired
// token from a forged one in metrics and logs; protocol adapters still map all of them to their
// single "not authorized" wire code (MQTT CONNACK 5, AMQP unauthorized-access, HTTP 401).

#include <boost/system/error_code.hpp>
#include <string_view>
#include <type_traits>

namespace edgehub::identity {

enum class Errc {
  // SAS tokens
  malformed_token =
      1,           ///< not "SharedAccessSignature k=v&...", a missing/duplicate field, bad escape
  token_expired,   ///< se is in the past
  wrong_audience,  ///< sr names another host or does not cover the claimed identity
  bad_signature,   ///< HMAC does not match any key of the identity
  policy_token,    ///< skn present: hub policy keys are not held by the gateway
  // Registry
  unknown_identity,   ///< not in the identity registry
  disabled_identity,  ///< present but disabled
  wrong_auth_type,    ///< credential kind does not match the identity (SAS for an x509 identity...)
  no_credentials,     ///< neither a token nor a client certificate was presented
  // X.509
  malformed_certificate,  ///< the DER from the TLS layer does not parse
  certificate_expired,    ///< outside notBefore..notAfter
  thumbprint_mismatch,    ///< neither SHA-1 nor SHA-256 thumbprint matches
  untrusted_chain,        ///< the chain does not verify against trust_bundle_cert
  wrong_common_name,      ///< leaf CN differs from the device id
  module_x509,            ///< modules cannot use X.509 (edgeHub behaviour)
  no_trust_bundle,        ///< an x509_ca identity, but no trust bundle is configured
  // Local keys and files
  invalid_key,              ///< a key that is not valid base64 (or has an unusable length)
  trust_bundle_unreadable,  ///< the trust bundle file is missing or holds no certificate
  // SAS policy
  token_lifetime_too_long,  ///< se lies further ahead than [gateway.limits] max_token_lifetime_secs
};

const boost::system::error_category& identity_category() noexcept;

inline boost::system::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), identity_category()};
}

/// The `reason` label of edgehub_client_connect_failed_total for an authentication error:
/// short snake_case (docs/identities.md lists them). Errors of other categories give
/// "not_authenticated", edgeHub's only value.
std::string_view reason_label(const boost::system::error_code& ec) noexcept;

}  // namespace edgehub::identity

template <>
struct boost::system::is_error_code_enum<edgehub::identity::Errc> : std::true_type {};
