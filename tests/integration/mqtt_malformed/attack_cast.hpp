#pragma once

// The cast of the issue 12 attack matrices (MQTT, AMQP, HTTPS): one gateway whose identities the
// attacks misuse. dev1 and dev2 are SAS devices with different keys, "gw" a device named like
// the gateway, "off" a disabled device, xca/xcn X.509 CA devices, xthumb/xexp thumbprint devices
// (xexp's certificate is expired), mod1 a module of the gateway with dev2's key. The demo PKI
// issues device certificates for xca, xthumb, xexp and xother (a CN no identity has).

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "edgehub/identity/sas_token.hpp"
#include "integration/mqtt_malformed/gateway_under_test.hpp"

namespace edgehub::testing {

inline constexpr const char* kHub = "hub.azure-devices.net";
inline constexpr const char* kConnectFailed = "edgehub_client_connect_failed_total";

/// A second key, so a token signed for one identity cannot pass for another by sharing kTestKey.
inline constexpr const char* kOtherKey = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

/// A SAS token for `resource` signed with `key`, expiring `valid_for` from now (negative: already
/// expired), optionally naming a policy (`skn`).
inline std::string token(const std::string& resource, const char* key,
                         std::chrono::system_clock::duration valid_for = std::chrono::hours(1),
                         std::optional<std::string_view> policy = std::nullopt) {
  auto t =
      identity::make_sas_token(resource, key, std::chrono::system_clock::now() + valid_for, policy);
  return t ? *t : std::string();
}

/// Further ahead than the default [gateway.limits] max_token_lifetime_secs (365 days).
inline constexpr auto kBeyondTokenPolicy = std::chrono::hours(24 * 3650);

inline std::string identity_entry(const std::string& kind, const std::string& id,
                                  const std::string& body) {
  return "[[" + kind + "]]\nid = \"" + id + "\"\n" + body;
}

inline GatewayUnderTestOptions attack_gateway_options() {
  GatewayUnderTestOptions o;
  o.pki.devices = {"xca", "xthumb", "xexp", "xother"};
  o.pki.expired_devices = {"xexp"};
  return o;
}

/// The identities file of the cast, with the thumbprints of `pki`'s device certificates.
inline std::string attack_identities(const test::TestPki& pki) {
  const auto& devices = pki.files.devices;
  const std::string key = "primary_key = \"" + std::string(kTestKey) + "\"\n";
  const std::string other = "primary_key = \"" + std::string(kOtherKey) + "\"\n";
  return identity_entry("device", "dev1", key) + identity_entry("device", "dev2", other) +
         identity_entry("device", "gw", key) +
         identity_entry("device", "off", key + "enabled = false\n") +
         identity_entry("device", "xca", "auth = \"x509_ca\"\n") +
         identity_entry("device", "xcn", "auth = \"x509_ca\"\n") +
         identity_entry("device", "xthumb",
                        "auth = \"x509_thumbprint\"\nprimary_thumbprint = \"" +
                            devices[3].sha1_thumbprint + "\"\n") +
         identity_entry("device", "xexp",
                        "auth = \"x509_thumbprint\"\nprimary_thumbprint = \"" +
                            devices[2].sha1_thumbprint + "\"\n") +
         identity_entry("module", "mod1", other);
}

/// The labels of kConnectFailed for a refusal of `id` for `why`.
inline std::map<std::string, std::string> failed(const std::string& id, const std::string& why) {
  return {{"id", id}, {"reason", why}};
}

/// Starts the cast's gateway and installs its identities (also returned in `identities`);
/// nullptr when the reload that installs them fails.
inline GatewayUnderTest* start_attack_gateway(std::string& identities) {
  auto* gateway = new GatewayUnderTest(attack_gateway_options());
  identities = attack_identities(gateway->pki());
  gateway->write_identities(identities);
  if (gateway->reload()) return gateway;
  delete gateway;
  return nullptr;
}

/// The cast's identities file (`identities`, from attack_identities) with dev1 removed and dev2
/// disabled: what a reload must revoke while the others stay.
inline std::string with_dev1_removed_and_dev2_disabled(std::string identities) {
  const std::string other = "primary_key = \"" + std::string(kOtherKey) + "\"\n";
  const auto dev1 =
      identity_entry("device", "dev1", "primary_key = \"" + std::string(kTestKey) + "\"\n");
  identities.erase(identities.find(dev1), dev1.size());
  const auto dev2 = identity_entry("device", "dev2", other);
  identities.replace(identities.find(dev2), dev2.size(),
                     identity_entry("device", "dev2", other + "enabled = false\n"));
  return identities;
}

}  // namespace edgehub::testing
