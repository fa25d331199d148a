// CONNECT user names of every SDK form (iot-hub-protocol.md §2.1, edgehub-reference §1.3).

#include "edgehub/mqtt/username.hpp"

#include <gtest/gtest.h>

namespace edgehub::mqtt::test {
namespace {

TEST(MqttUsername, NodeDeviceWithModelIdAndClientType) {
  auto u = parse_username(
      "myhub.azure-devices.net/dev1/?api-version=2021-04-12&model-id=dtmi:com:example:Thermostat;"
      "1&DeviceClientType=azure-iot-device%2F1.18.4%20(node%20v20.20.2%3B%20Debian%2012%3B%20x64)");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->host, "myhub.azure-devices.net");
  EXPECT_EQ(u->identity, (core::ClientId{"dev1", ""}));
  EXPECT_EQ(u->api_version, "2021-04-12");
  EXPECT_EQ(u->model_id, "dtmi:com:example:Thermostat;1");
  EXPECT_EQ(u->client_type, "azure-iot-device/1.18.4 (node v20.20.2; Debian 12; x64)");
  EXPECT_FALSE(u->auth_chain);
  ASSERT_EQ(u->params.size(), 3u);
  EXPECT_EQ(u->params[1].first, "model-id");  // order kept
}

TEST(MqttUsername, ModuleForm) {
  auto u = parse_username(
      "myhub.azure-devices.net/dev1/mod1/?api-version=2021-04-12&DeviceClientType=azure-iot-"
      "device%2F1.18.4");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->identity, (core::ClientId{"dev1", "mod1"}));
  EXPECT_EQ(u->client_type, "azure-iot-device/1.18.4");
}

TEST(MqttUsername, JavaEncodesTheModelId) {
  auto u = parse_username(
      "hub.azure-devices.net/dev1/?api-version=2020-09-30&DeviceClientType=com.microsoft.azure.sdk."
      "iot.iot-device-client%2F1.30.1&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->model_id, "dtmi:com:example:Thermostat;1");
  EXPECT_EQ(u->api_version, "2020-09-30");
}

TEST(MqttUsername, LegacyFormWithoutQuestionMark) {
  auto u = parse_username(
      "myhub.azure-devices.net/dev1/api-version=2016-11-14&DeviceClientType=iothubclient%2F1.1.0");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->identity, (core::ClientId{"dev1", ""}));
  EXPECT_EQ(u->api_version, "2016-11-14");
  EXPECT_EQ(u->client_type, "iothubclient/1.1.0");

  // A raw '/' in a later value stays in the query.
  auto raw =
      parse_username("hub/dev1/mod1/api-version=2016-11-14&DeviceClientType=iothubclient/1.1");
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->identity, (core::ClientId{"dev1", "mod1"}));
  EXPECT_EQ(raw->client_type, "iothubclient/1.1");
}

TEST(MqttUsername, PlainHandWrittenForms) {
  auto d = parse_username("hub.local/dev1");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "hub.local");
  EXPECT_EQ(d->identity, (core::ClientId{"dev1", ""}));
  EXPECT_FALSE(d->api_version);
  auto m = parse_username("hub.local/dev1/mod1");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->identity, (core::ClientId{"dev1", "mod1"}));
  auto q = parse_username("hub.local/dev1/?api-version=2018-06-30");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->api_version, "2018-06-30");
  auto slash = parse_username("hub.local/dev1/");
  ASSERT_TRUE(slash);
  EXPECT_EQ(slash->identity.device, "dev1");
}

TEST(MqttUsername, GatewayHostNameAndAuthChain) {
  // X.509 devices behind a gateway name the gateway (§13); nested children carry auth-chain.
  auto u = parse_username("gw.example.local/leaf/?api-version=2020-09-30&auth-chain=leaf;child;gw");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "gw.example.local");
  EXPECT_EQ(u->auth_chain, "leaf;child;gw");
}

TEST(MqttUsername, QueryValuesAreLenient) {
  // '+' stays '+', a bad escape is kept as written, a bare name is an empty value.
  auto u = parse_username("h/d/?DeviceClientType=a+b%zz&flag&api-version=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->client_type, "a+b%zz");
  EXPECT_EQ(u->params[1], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(u->api_version, "1");
}

TEST(MqttUsername, MalformedUserNamesAreRefused) {
  for (std::string_view bad : {"", "hub", "hub/", "/dev1", "hub//mod1", "hub/dev1//", "a/b/c/d",
                               "hub/dev1/mod1/extra/?api-version=1", "?api-version=1",
                               "hub/?api-version=1", "/api-version=1"}) {
    auto u = parse_username(bad);
    ASSERT_FALSE(u) << bad;
    EXPECT_EQ(u.error(), NamingErrc::invalid_username) << bad;
  }
}

TEST(MqttUsername, ClientIdMustMatch) {
  auto device = parse_username("hub/dev1/?api-version=1");
  auto module = parse_username("hub/dev1/mod1/?api-version=1");
  ASSERT_TRUE(device && module);
  EXPECT_TRUE(check_client_id(*device, "dev1"));
  EXPECT_TRUE(check_client_id(*module, "dev1/mod1"));
  for (std::string_view bad : {"dev2", "DEV1", "dev1/mod1", "dev1/", ""}) {
    EXPECT_EQ(check_client_id(*device, bad).error(), NamingErrc::client_id_mismatch) << bad;
  }
  for (std::string_view bad : {"dev1", "dev1/mod2", "dev1/MOD1"}) {
    EXPECT_EQ(check_client_id(*module, bad).error(), NamingErrc::client_id_mismatch) << bad;
  }
}

TEST(MqttUsername, ErrorCategory) {
  const core::ErrorCode ec = NamingErrc::client_id_mismatch;
  EXPECT_STREQ(ec.category().name(), "edgehub.mqtt.naming");
  EXPECT_NE(ec.message(), "unknown MQTT naming error");
}

}  // namespace
}  // namespace edgehub::mqtt::test
