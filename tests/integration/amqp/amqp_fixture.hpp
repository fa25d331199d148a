#pragma once

// edgehubd with a demo PKI, an identities file of SAS devices and modules sharing one test key,
// and AMQP clients that speak to its 5671 listener as the IoT Hub SDKs do.

#include <signal.h>

#include <chrono>
#include <memory>
#include <proton/binary.hpp>
#include <proton/message_id.hpp>
#include <string>
#include <vector>

#include "edgehub/identity/sas_token.hpp"
#include "integration/tls/tls_fixture.hpp"
#include "support/amqp/amqp_test_client.hpp"

namespace edgehub::testing {

/// The SAS key every test identity uses (base64 of "0123456789abcdef0123456789abcdef").
inline constexpr const char* kAmqpTestKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
inline constexpr const char* kHubHost = "hub.azure-devices.net";

/// "{hub}/devices/{d}[/modules/{m}]": what a token for the identity covers.
inline std::string resource_of(const std::string& device, const std::string& module = "") {
  return std::string(kHubHost) + "/devices/" + device +
         (module.empty() ? "" : "/modules/" + module);
}

/// The CBS audience the SDKs put in `name`: the token's `sr`, still URL-encoded.
inline std::string audience_of(const std::string& device, const std::string& module = "") {
  return identity::url_encode(resource_of(device, module));
}

/// A SAS token for the identity, signed with `key`, expiring `lifetime` from now.
inline std::string sas_token(const std::string& device, const std::string& module = "",
                             std::chrono::seconds lifetime = std::chrono::hours(1),
                             const std::string& key = kAmqpTestKey) {
  return *identity::make_sas_token(resource_of(device, module), key,
                                   std::chrono::system_clock::now() + lifetime);
}

/// A valid key that is not the identities' key.
inline constexpr const char* kWrongKey = "d3JvbmcgdGVzdCBrZXkgMDEyMzQ1Njc4OWFiY2RlZjAx";

inline std::string identities_file(const std::vector<std::string>& devices,
                                   const std::vector<std::string>& modules = {}) {
  std::string out;
  for (const auto& d : devices) {
    out +=
        "[[device]]\nid = \"" + d + "\"\nauth = \"sas\"\nprimary_key = \"" + kAmqpTestKey + "\"\n";
  }
  for (const auto& m : modules) {
    out += "[[module]]\nid = \"" + m + "\"\nprimary_key = \"" + kAmqpTestKey + "\"\n";
  }
  return out;
}

/// Requests, links, messages and connections the AMQP head refused, by reason (docs/amqp.md).
inline constexpr const char* kAmqpRefused = "edgehubd_amqp_refused_total";

/// An AMQP value that cannot be decoded: a described list whose format code 0xff is reserved.
inline const std::string kUndecodable = std::string("\x00\x53\x10\xff\xff\xff\xff", 7);

class AmqpGatewayTest : public TlsGatewayTest {
 protected:
  void start(const std::vector<std::string>& devices, const std::vector<std::string>& modules = {},
             const std::string& limits = "") {
    test::write_file(dir_ / "identities.toml", identities_file(devices, modules),
                     std::filesystem::perms(0600));
    gateway_ = start_gateway(
        "identities = \"file://" + (dir_ / "identities.toml").string() + "\"\n", limits);
  }

  void TearDown() override {
    if (!gateway_) return;
    gateway_->signal(SIGTERM);
    EXPECT_EQ(gateway_->wait_for(std::chrono::seconds(20)), 0) << gateway_->stderr_text();
  }

  AmqpClientOptions amqp_options(AmqpSasl sasl = AmqpSasl::none) const {
    AmqpClientOptions o;
    o.tls = client_options(ports_.amqp);
    o.sasl = sasl;
    return o;
  }

  std::unique_ptr<AmqpTestClient> client(AmqpSasl sasl = AmqpSasl::none) const {
    return std::make_unique<AmqpTestClient>(amqp_options(sasl));
  }

  /// A connection without SASL (as the Node SDK opens it), CBS-authenticated as `device`.
  std::unique_ptr<AmqpTestClient> cbs_client(const std::string& device) {
    auto c = client();
    EXPECT_TRUE(c->open()) << c->error() << "\n" << gateway_->stderr_text();
    c->attach_cbs();
    const auto reply = c->put_token(audience_of(device), sas_token(device));
    EXPECT_TRUE(reply && reply->status == 200) << c->error() << "\n" << gateway_->stderr_text();
    return c;
  }

  /// One telemetry message from `device`: its link attached, the message accepted.
  void expect_telemetry_accepted(AmqpTestClient& c, const std::string& device) {
    const auto link = c.attach_sender("/devices/" + device + "/messages/events");
    ASSERT_TRUE(c.wait_attached(link)) << c.link_error(link) << "\n" << gateway_->stderr_text();
    proton::message m(proton::binary(std::string("{\"ok\":true}")));
    m.to("/devices/" + device + "/messages/events");
    const auto d = c.send(link, m);
    ASSERT_TRUE(c.wait_outcome(d)) << c.error() << "\n" << gateway_->stderr_text();
    EXPECT_EQ(c.outcome(d), Outcome::accepted);
  }

  /// A TLS connection to the AMQP port that speaks no AMQP by itself (malformed input).
  std::unique_ptr<TlsClient> raw() {
    auto c = std::make_unique<TlsClient>(client_options(ports_.amqp));
    EXPECT_TRUE(c->connect()) << c->error();
    return c;
  }

  /// Another client still authenticates and sends.
  void expect_good_client_works(const std::string& device) {
    auto good = cbs_client(device);
    expect_telemetry_accepted(*good, device);
  }

  /// The sum of every sample of a metric family (0 when absent), or -1 when /metrics fails.
  double metric_total(const std::string& family) {
    auto reply = http_get(ports_.metrics, "/metrics");
    if (!reply) return -1;
    double total = 0;
    const auto parsed = parse_prometheus_text(reply->body);
    EXPECT_TRUE(parsed.ok());
    if (auto it = parsed.families.find(family); it != parsed.families.end()) {
      for (const auto& s : it->second.samples)
        total += s.value;
    }
    return total;
  }

  std::unique_ptr<ChildProcess> gateway_;
};

}  // namespace edgehub::testing
