#pragma once

// What the MQTT integration tests send: packets encoded with the project's own codec, CONNECTs
// authenticated with a SAS token minted for a test key, and identities files for that key.

#include <chrono>
#include <string>

#include "edgehub/identity/sas_token.hpp"
#include "edgehub/mqtt_proto/codec.hpp"

namespace edgehub::testing {

/// The SAS key every test identity uses (base64 of "0123456789abcdef0123456789abcdef").
inline constexpr const char* kTestKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

inline std::string encoded(const mqtt_proto::Packet& packet) {
  auto bytes = mqtt_proto::encode(packet);
  return bytes ? std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size())
               : std::string();
}

/// A SAS token for `device` (or its `module`) valid for an hour, as the MQTT password.
inline std::vector<std::byte> sas_password(const std::string& device,
                                           const std::string& module = "") {
  const auto resource =
      "hub.azure-devices.net/devices/" + device + (module.empty() ? "" : "/modules/" + module);
  const auto token = identity::make_sas_token(
      resource, kTestKey, std::chrono::system_clock::now() + std::chrono::hours(1));
  return std::vector<std::byte>(reinterpret_cast<const std::byte*>(token->data()),
                                reinterpret_cast<const std::byte*>(token->data()) + token->size());
}

/// A CONNECT as the SDKs send it: client id and user name naming the identity, SAS password.
inline mqtt_proto::Connect sas_connect(const std::string& device, const std::string& module = "",
                                       std::uint16_t keep_alive = 60, bool clean_session = true) {
  mqtt_proto::Connect c;
  const auto id = module.empty() ? device : device + "/" + module;
  c.client_id = id;
  c.clean_session = clean_session;
  c.keep_alive = keep_alive;
  c.username = "hub.azure-devices.net/" + id + "/?api-version=2021-04-12";
  c.password = sas_password(device, module);
  return c;
}

/// An identities-file entry for a SAS device with the test key.
inline std::string sas_device_entry(const std::string& device) {
  return "[[device]]\nid = \"" + device + "\"\nauth = \"sas\"\nprimary_key = \"" + kTestKey +
         "\"\n";
}

}  // namespace edgehub::testing
