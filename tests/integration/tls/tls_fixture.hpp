#pragma once

// edgehubd with a demo PKI and TLS listeners on free loopback ports.

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "support/pki/test_pki.hpp"
#include "support/process/child_process.hpp"
#include "support/process/notify_socket.hpp"
#include "support/process/ports.hpp"
#include "support/process/prometheus_text_parser.hpp"
#include "support/process/temp_dir.hpp"
#include "support/tls/tls_client.hpp"

namespace edgehub::testing {

inline constexpr const char* kGatewayHost = "gw.test.local";

struct GatewayPorts {
  GatewayPorts() : GatewayPorts(free_tcp_ports(4)) {}
  std::uint16_t mqtt, amqp, https, metrics;

 private:
  explicit GatewayPorts(const std::vector<std::uint16_t>& p)
      : mqtt(p[0]), amqp(p[1]), https(p[2]), metrics(p[3]) {}
};

inline std::string tls_config(const test::TestPki& pki, const TempDir& dir, const GatewayPorts& p,
                              const std::string& extra_gateway = "",
                              const std::string& limits = "") {
  return std::string("hostname = \"") + kGatewayHost + "\"\n" + "trust_bundle_cert = \"file://" +
         pki.files.root_cert.string() + "\"\n" +
         "[edge_ca]\n"
         "cert = \"file://" +
         pki.files.edge_ca_full_chain.string() + "\"\n" + "pk = \"file://" +
         pki.files.edge_ca_key.string() + "\"\n" +
         "[gateway]\n"
         "device_id = \"gw\"\n"
         "iothub_hostname = \"hub.azure-devices.net\"\n"
         "state_dir = \"file://" +
         (dir / "state").string() + "\"\n" + "metrics = \"127.0.0.1:" + std::to_string(p.metrics) +
         "\"\n" + extra_gateway +
         "[gateway.listen]\n"
         "mqtt = \"127.0.0.1:" +
         std::to_string(p.mqtt) + "\"\n" + "amqp = \"127.0.0.1:" + std::to_string(p.amqp) + "\"\n" +
         "https = \"127.0.0.1:" + std::to_string(p.https) + "\"\n" +
         (limits.empty() ? "" : "[gateway.limits]\n" + limits);
}

class TlsGatewayTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChildProcess> start_gateway(const std::string& extra_gateway = "",
                                              const std::string& limits = "") {
    write_file(dir_ / "config.toml", tls_config(pki_, dir_, ports_, extra_gateway, limits));
    auto child = std::make_unique<ChildProcess>(
        std::vector<std::string>{EDGEHUBD_BINARY, "--config", (dir_ / "config.toml").string(),
                                 "--log-target", "stderr", "--log-level", "debug"},
        std::vector<std::string>{notify_.env()}, dir_.path());
    EXPECT_TRUE(notify_.wait_for("READY=1", std::chrono::seconds(20))) << child->stderr_text();
    return child;
  }

  TlsClientOptions client_options(std::uint16_t port) const {
    TlsClientOptions o;
    o.port = port;
    o.sni = kGatewayHost;
    o.ca_file = pki_.files.root_cert;
    return o;
  }

  std::optional<double> metric(const std::string& name,
                               const std::map<std::string, std::string>& labels) {
    auto reply = http_get(ports_.metrics, "/metrics");
    if (!reply) return std::nullopt;
    return parse_prometheus_text(reply->body).value(name, labels);
  }

  test::TestPki pki_ = test::make_test_pki_for({"dev1"});
  TempDir dir_;
  GatewayPorts ports_;
  NotifySocket notify_{dir_ / "notify.sock"};
};

}  // namespace edgehub::testing
