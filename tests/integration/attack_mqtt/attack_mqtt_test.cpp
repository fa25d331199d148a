// Issue 12: the authentication and authorisation attack matrix over MQTT/TLS. Every attempt is
// refused with IoT Hub's answer (CONNACK 0x05 before the session, a closed connection or SUBACK
// 0x80 after it), never admitted, and counted: edgehub_client_connect_failed_total{id, reason}
// for credentials (docs/identities.md), edgehubd_mqtt_refused_total{reason} for topics.

#include <gtest/gtest.h>

#include <chrono>

#include "edgehub/identity/sas_token.hpp"
#include "integration/mqtt_malformed/attack_cast.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;
namespace proto = mqtt_proto;

constexpr const char* kRefused = "edgehubd_mqtt_refused_total";
constexpr const char* kConnects = "edgehubd_mqtt_connects_total";

std::vector<std::byte> bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()),
          reinterpret_cast<const std::byte*>(s.data()) + s.size()};
}

/// A CONNECT claiming `id` ("d" or "d/m") with `password` (no password when empty).
proto::Connect claim(const std::string& id, const std::string& password,
                     const std::string& host = kHub) {
  proto::Connect c;
  c.client_id = id;
  c.clean_session = true;
  c.username = host + "/" + id + "/?api-version=2021-04-12";
  if (!password.empty()) c.password = bytes(password);
  return c;
}

class AttackMqtt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gateway_ = start_attack_gateway(identities_);
    ASSERT_NE(gateway_, nullptr);
  }
  static void TearDownTestSuite() {
    delete gateway_;
    gateway_ = nullptr;
  }

  struct Attempt {
    Attempt(std::string n, proto::Connect c, std::string m, std::map<std::string, std::string> l,
            std::filesystem::path cert_file = {}, std::filesystem::path key_file = {})
        : name(std::move(n)),
          connect(std::move(c)),
          metric(std::move(m)),
          labels(std::move(l)),
          cert(std::move(cert_file)),
          key(std::move(key_file)) {}
    std::string name;
    proto::Connect connect;
    std::string metric;
    std::map<std::string, std::string> labels;
    std::filesystem::path cert, key;  ///< client certificate, if any
  };

  void expect_refused(const Attempt& a) {
    SCOPED_TRACE(a.name);
    auto& gw = *gateway_;
    const auto before = gw.metric(a.metric, a.labels);
    const auto admitted_before = gw.metric(kConnects, {{"result", "ok"}});
    auto options = gw.client_options(gw.ports().mqtt);
    options.cert_file = a.cert;
    options.key_file = a.key;
    auto c = gw.open(options);
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->write(encoded(a.connect)));
    EXPECT_EQ(read_to_close(*c), connack(0x05)) << "refused with IoT Hub's 'not authorized'";
    EXPECT_TRUE(c->wait_closed(1s));
    EXPECT_EQ(gw.metric(a.metric, a.labels), before + 1) << a.metric << " counts the attempt";
    EXPECT_EQ(gw.metric(kConnects, {{"result", "ok"}}), admitted_before) << "never admitted";
  }

  static GatewayUnderTest* gateway_;
  static std::string identities_;
};

GatewayUnderTest* AttackMqtt::gateway_ = nullptr;
std::string AttackMqtt::identities_;

TEST_F(AttackMqtt, ForgedOrMisusedSasTokensAreRefusedAndCounted) {
  const std::string dev1 = std::string(kHub) + "/devices/dev1";
  const std::vector<Attempt> attempts = {
      {"token signed with a wrong key", claim("dev1", token(dev1, kOtherKey)), kConnectFailed,
       failed("dev1", "bad_signature")},
      {"expired token", claim("dev1", token(dev1, kTestKey, -std::chrono::seconds(5))),
       kConnectFailed, failed("dev1", "token_expired")},
      {"token valid for ten years (beyond max_token_lifetime_secs)",
       claim("dev1", token(dev1, kTestKey, kBeyondTokenPolicy)), kConnectFailed,
       failed("dev1", "token_lifetime_too_long")},
      {"token for another device",
       claim("dev1", token(std::string(kHub) + "/devices/dev2", kOtherKey)), kConnectFailed,
       failed("dev1", "wrong_audience")},
      {"token for a device whose id extends ours (whole-segment prefix rule)",
       claim("dev1", token(std::string(kHub) + "/devices/dev", kTestKey)), kConnectFailed,
       failed("dev1", "wrong_audience")},
      {"token for another hub",
       claim("dev1", token("other-hub.azure-devices.net/devices/dev1", kTestKey)), kConnectFailed,
       failed("dev1", "wrong_audience")},
      {"user name naming another hub",
       claim("dev1", token(dev1, kTestKey), "other-hub.azure-devices.net"),
       kConnects,
       {{"result", "unknown_hub"}}},
      {"module token used for the device",
       claim("gw", token(std::string(kHub) + "/devices/gw/modules/mod1", kOtherKey)),
       kConnectFailed, failed("gw", "wrong_audience")},
      {"another device's token used for a module", claim("gw/mod1", token(dev1, kTestKey)),
       kConnectFailed, failed("gw/mod1", "wrong_audience")},
      {"hub policy token (skn)",
       claim("dev1", token(dev1, kTestKey, std::chrono::hours(1), "iothubowner")), kConnectFailed,
       failed("dev1", "policy_token")},
      {"garbage password", claim("dev1", "SharedAccessSignature sr=&sig=&se="), kConnectFailed,
       failed("dev1", "malformed_token")},
      {"no credentials at all", claim("dev1", ""), kConnectFailed,
       failed("dev1", "not_authenticated")},
      {"unknown device",
       claim("ghost", token(std::string(kHub) + "/devices/ghost", kTestKey)),
       kConnectFailed,
       {{"reason", "unknown_identity"}}},
      {"disabled device", claim("off", token(std::string(kHub) + "/devices/off", kTestKey)),
       kConnectFailed, failed("off", "disabled")},
      {"SAS token for an X.509 identity",
       claim("xca", token(std::string(kHub) + "/devices/xca", kTestKey)), kConnectFailed,
       failed("xca", "wrong_auth_type")},
      {"client id differs from the user name's identity",
       [&] {
         auto c = claim("dev1", token(dev1, kTestKey));
         c.client_id = "dev2";
         return c;
       }(),
       kConnects,
       {{"result", "client_id_mismatch"}}},
  };
  for (const auto& a : attempts)
    expect_refused(a);
  // The control: the same CONNECT with a right token is admitted, so the refusals above are
  // about the credential, not the harness.
  EXPECT_NE(connect_mqtt(*gateway_, claim("dev1", token(dev1, kTestKey))), nullptr);
}

TEST_F(AttackMqtt, BadClientCertificatesAreRefusedAndCounted) {
  const auto& files = gateway_->pki().files;
  const auto stranger_pki = test::make_test_pki_for({"xca"});  // a root the gateway never trusts
  const auto& xca = files.devices[0];
  const auto& xthumb = files.devices[1];
  const auto& xexp = files.devices[2];
  const std::vector<Attempt> attempts = {
      {"CA-signed certificate from an unknown chain", claim("xca", ""), kConnectFailed,
       failed("xca", "untrusted_chain"), stranger_pki.files.devices[0].cert,
       stranger_pki.files.devices[0].key},
      {"trusted certificate whose CN names another device", claim("xcn", ""), kConnectFailed,
       failed("xcn", "wrong_common_name"), xca.cert, xca.key},
      {"self-signed certificate whose thumbprint is not registered", claim("xthumb", ""),
       kConnectFailed, failed("xthumb", "thumbprint_mismatch"), xthumb.selfsigned_cert,
       xthumb.selfsigned_key},
      {"expired certificate with the registered thumbprint", claim("xexp", ""), kConnectFailed,
       failed("xexp", "certificate_expired"), xexp.selfsigned_cert, xexp.selfsigned_key},
      {"certificate presented for a SAS device", claim("dev1", ""), kConnectFailed,
       failed("dev1", "wrong_auth_type"), xca.cert, xca.key},
      {"certificate presented by a module", claim("gw/mod1", ""), kConnectFailed,
       failed("gw/mod1", "module_x509"), xca.cert, xca.key},
  };
  for (const auto& a : attempts)
    expect_refused(a);
  // The control: xca's own certificate is admitted.
  auto options = gateway_->client_options(gateway_->ports().mqtt);
  options.cert_file = xca.cert;
  options.key_file = xca.key;
  auto good = gateway_->open(options);
  ASSERT_NE(good, nullptr);
  ASSERT_TRUE(good->write(encoded(claim("xca", ""))));
  EXPECT_NE(good->read_until(connack(0)).find(connack(0)), std::string::npos)
      << gateway_->process().stderr_text();
}

TEST_F(AttackMqtt, AnIdentityActsOnlyInItsOwnTopics) {
  auto& gw = *gateway_;
  const std::string dev1 = std::string(kHub) + "/devices/dev1";
  struct Publish {
    std::string name, topic, reason;
  };
  const std::vector<Publish> publishes = {
      {"telemetry as another device", "devices/dev2/messages/events/", "foreign_topic"},
      {"telemetry as a module of the gateway", "devices/gw/modules/mod1/messages/events/",
       "foreign_topic"},
      {"telemetry as a module of itself", "devices/dev1/modules/m/messages/events/",
       "foreign_topic"},
      {"a module's input", "devices/gw/modules/mod1/inputs/in/", "topic"},
      {"another device's C2D topic", "devices/dev2/messages/devicebound/", "topic"},
      {"twin of another device by path", "$iothub/twin/devices/dev2/GET/?$rid=1", "topic"},
  };
  for (const auto& p : publishes) {
    SCOPED_TRACE(p.name);
    const auto before = gw.metric(kRefused, {{"reason", p.reason}});
    auto c = connect_mqtt(gw, claim("dev1", token(dev1, kTestKey)));
    ASSERT_NE(c, nullptr);
    proto::Publish packet;
    packet.qos = proto::QoS::at_least_once;
    packet.packet_id = 1;
    packet.topic = p.topic;
    packet.payload = bytes("{}");
    ASSERT_TRUE(c->write(encoded(packet)));
    EXPECT_EQ(read_to_close(*c), "") << "no PUBACK: closed";
    EXPECT_EQ(gw.metric(kRefused, {{"reason", p.reason}}), before + 1);
  }

  // Subscriptions into other identities' spaces get SUBACK 0x80 each; the own ones are granted.
  auto c = connect_mqtt(gw, claim("dev1", token(dev1, kTestKey)));
  ASSERT_NE(c, nullptr);
  const auto before = gw.metric(kRefused, {{"reason", "subscription"}});
  proto::Subscribe s;
  s.packet_id = 9;
  s.subscriptions = {{"devices/dev2/messages/devicebound/#", proto::QoS::at_least_once},
                     {"devices/gw/modules/mod1/inputs/#", proto::QoS::at_least_once},
                     {"devices/gw/modules/mod1/#", proto::QoS::at_least_once},
                     {"devices/dev2/modules/m/messages/devicebound/#", proto::QoS::at_least_once},
                     {"devices/+/modules/+/inputs/#", proto::QoS::at_least_once},
                     {"#", proto::QoS::at_most_once},
                     {"$iothub/#", proto::QoS::at_most_once},
                     {"devices/dev1/messages/devicebound/#", proto::QoS::at_least_once}};
  ASSERT_TRUE(c->write(encoded(s)));
  const auto suback = hex("90 0a 00 09 80 80 80 80 80 80 80 01");
  EXPECT_NE(c->read_until(suback).find(suback), std::string::npos);
  EXPECT_EQ(gw.metric(kRefused, {{"reason", "subscription"}}), before + 7);
  // Refused subscriptions do not close the connection: the device still publishes.
  ASSERT_TRUE(c->write(telemetry("dev1", 10)));
  EXPECT_NE(c->read_until(puback(10)).find(puback(10)), std::string::npos);
}

TEST_F(AttackMqtt, RemovedOrDisabledIdentitiesAreDisconnectedOnReload) {
  auto& gw = *gateway_;
  const auto dev1 =
      connect_mqtt(gw, claim("dev1", token(std::string(kHub) + "/devices/dev1", kTestKey)));
  const auto dev2 =
      connect_mqtt(gw, claim("dev2", token(std::string(kHub) + "/devices/dev2", kOtherKey)));
  const auto gw_dev =
      connect_mqtt(gw, claim("gw", token(std::string(kHub) + "/devices/gw", kTestKey)));
  ASSERT_TRUE(dev1 && dev2 && gw_dev);

  // dev1 removed, dev2 disabled, gw unchanged.
  gw.write_identities(with_dev1_removed_and_dev2_disabled(identities_));
  ASSERT_TRUE(gw.reload());

  EXPECT_TRUE(dev1->wait_closed(5s)) << "a removed identity is disconnected";
  EXPECT_TRUE(dev2->wait_closed(5s)) << "a disabled identity is disconnected";
  ASSERT_TRUE(gw_dev->write(telemetry("gw", 1)));
  EXPECT_NE(gw_dev->read_until(puback(1)).find(puback(1)), std::string::npos)
      << "an unchanged identity keeps its connection";
  const auto log = gw.process().stderr_text();
  EXPECT_NE(log.find("identity dev1 removed"), std::string::npos) << log;
  EXPECT_NE(log.find("identity dev2 disabled"), std::string::npos) << log;

  // And they cannot come back.
  expect_refused({"removed device reconnects",
                  claim("dev1", token(std::string(kHub) + "/devices/dev1", kTestKey)),
                  kConnectFailed,
                  {{"id", "dev1"}, {"reason", "unknown_identity"}}});
  expect_refused({"disabled device reconnects",
                  claim("dev2", token(std::string(kHub) + "/devices/dev2", kOtherKey)),
                  kConnectFailed,
                  {{"id", "dev2"}, {"reason", "disabled"}}});
  gw.write_identities(identities_);
  ASSERT_TRUE(gw.reload());
}

}  // namespace
}  // namespace edgehub::testing
