#pragma once

// SASL as IoT Hub's AMQP clients use it (iot-hub-protocol.md §3.1): PLAIN with a SAS token as the
// password, ANONYMOUS and MSSBCBS (both followed by CBS), EXTERNAL for a TLS client certificate.
// These are the pure parsers; the server-side SASL plugin that calls them lives in connection.cpp.

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "edgehub/core/client_id.hpp"
#include "edgehub/core/result.hpp"

namespace edgehub::amqp_core {

/// The mechanisms the gateway offers, in its order of preference.
inline constexpr std::string_view kMechanismsWithoutCertificate = "PLAIN MSSBCBS ANONYMOUS";
inline constexpr std::string_view kMechanismsWithCertificate = "EXTERNAL PLAIN MSSBCBS ANONYMOUS";

/// RFC 4616: [authzid] NUL authcid NUL passwd.
struct PlainResponse {
  std::string authzid;
  std::string user;
  std::string password;
};

/// Errc::malformed_sasl_response unless there are exactly two NULs and a non-empty user.
core::Result<PlainResponse> parse_plain_response(std::span<const char> response);

/// A PLAIN user name: "{d}@sas.{hubname}", "{d}/modules/{m}@sas.{hubname}", or the hub policy
/// form "{policy}@sas.root.{hubname}" (recognised so that it can be refused by name).
struct PlainUser {
  core::ClientId id;    ///< empty for a policy
  std::string policy;   ///< set for the policy form
  std::string hubname;  ///< the first DNS label of the hub
};

/// Errc::bad_plain_user_name for anything else (ids are URL-decoded).
core::Result<PlainUser> parse_plain_user(std::string_view user);

}  // namespace edgehub::amqp_core
