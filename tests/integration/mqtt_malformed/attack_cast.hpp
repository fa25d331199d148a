#pragma once

// The cast of the issue 12 attack matrices (MQTT, AMQP, HTTPS): one gateway whose identities the
// attacks misuse. dev1 and dev2 are SAS devices with different keys, "gw" a device named like
// the gateway, "off" a disabled device, xca/xcn X.509 CA devices, xthumb/xexp thumbprint devices
// (xexp's certificate is expired), mod1 a module of the gateway with dev2's key. The demo PKI
// issues device certificates for xca, xthumb, xexp and xother (a CN no identity has).

#include <string>

#include "integration/mqtt_malformed/gateway_under_test.hpp"

namespace edgehub::testing {

/// Another valid key than kTestKey, for identities an attacker's key must not open.
inline constexpr const char* kOtherKey = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

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

}  // namespace edgehub::testing
