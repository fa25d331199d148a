#pragma once

// One edgehubd child for a whole test (issue 12 suites): demo PKI, TLS listeners on free loopback
// ports, a generated identities file, and helpers to open raw TLS connections, CONNECT with SAS
// tokens, publish at QoS 1 and read counters from /metrics. The suites drive the daemon only
// through its sockets, signals and files, as a device network and an operator would.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "integration/mqtt/mqtt_test_client.hpp"
#include "integration/tls/tls_fixture.hpp"

namespace edgehub::testing {

struct GatewayUnderTestOptions {
  std::string identities;     ///< identities.toml text (mode 0600)
  std::string extra_gateway;  ///< more [gateway] keys
  std::string limits;         ///< [gateway.limits] keys
  std::string tail;           ///< appended tables ([gateway.routes], [gateway.store], ...)
  test::TestPkiOptions pki = default_pki();

  static test::TestPkiOptions default_pki() {
    test::TestPkiOptions o;
    o.devices = {"dev1"};
    return o;
  }
};

class GatewayUnderTest {
 public:
  explicit GatewayUnderTest(GatewayUnderTestOptions options)
      : options_(std::move(options)), pki_(test::make_test_pki(options_.pki)) {
    write_identities(options_.identities);
    write_file(dir_ / "config.toml",
               tls_config(pki_, dir_, ports_,
                          "identities = \"file://" + (dir_ / "identities.toml").string() + "\"\n" +
                              options_.extra_gateway,
                          options_.limits) +
                   options_.tail);
    start();
  }

  ~GatewayUnderTest() {
    if (child_ && child_->running()) {
      child_->signal(SIGTERM);
      child_->wait_for(std::chrono::seconds(15));
    }
  }

  GatewayUnderTest(const GatewayUnderTest&) = delete;
  GatewayUnderTest& operator=(const GatewayUnderTest&) = delete;

  /// Starts (or restarts after a kill) the daemon and waits for READY=1.
  bool start() {
    child_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{EDGEHUBD_BINARY, "--config", (dir_ / "config.toml").string(),
                                 "--log-target", "stderr", "--log-level", "debug"},
        std::vector<std::string>{notify_.env()}, dir_.path());
    return notify_.wait_for("READY=1", std::chrono::seconds(30));
  }

  void write_identities(const std::string& text) {
    test::write_file(dir_ / "identities.toml", text, std::filesystem::perms(0600));
  }

  /// SIGHUP and wait until the daemon is READY again.
  bool reload() {
    child_->signal(SIGHUP);
    return notify_.wait_for("RELOADING=1", std::chrono::seconds(10)) &&
           notify_.wait_for("READY=1", std::chrono::seconds(10));
  }

  TlsClientOptions client_options(std::uint16_t port) const {
    TlsClientOptions o;
    o.port = port;
    o.sni = kGatewayHost;
    o.ca_file = pki_.files.root_cert;
    o.timeout = std::chrono::seconds(5);
    return o;
  }

  /// A TLS connection to the MQTT listener (nullptr when the handshake fails).
  std::unique_ptr<TlsClient> open(TlsClientOptions options) const {
    auto c = std::make_unique<TlsClient>(std::move(options));
    if (!c->connect()) return nullptr;
    return c;
  }
  std::unique_ptr<TlsClient> open() const { return open(client_options(ports_.mqtt)); }

  /// The sum of every sample of `name` whose labels include `labels`; 0 when there is none (a
  /// labelled counter appears only after its first increment).
  double metric(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    auto reply = http_get(ports_.metrics, "/metrics");
    if (!reply || reply->status != 200) return -1;
    const auto parsed = parse_prometheus_text(reply->body);
    double total = 0;
    for (const auto& [family_name, family] : parsed.families) {
      for (const auto& s : family.samples) {
        if (s.name != name) continue;
        bool match = true;
        for (const auto& [k, v] : labels) {
          auto it = s.labels.find(k);
          match = match && it != s.labels.end() && it->second == v;
        }
        if (match) total += s.value;
      }
    }
    return total;
  }

  /// Resident memory of the daemon from /proc (kB).
  long rss_kb() const {
    std::ifstream status("/proc/" + std::to_string(child_->pid()) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
  }

  ChildProcess& process() { return *child_; }
  const GatewayPorts& ports() const { return ports_; }
  const test::TestPki& pki() const { return pki_; }
  const TempDir& dir() const { return dir_; }

 private:
  GatewayUnderTestOptions options_;
  test::TestPki pki_;
  TempDir dir_;
  GatewayPorts ports_;
  NotifySocket notify_{dir_ / "notify.sock"};
  std::unique_ptr<ChildProcess> child_;
};

/// Reads until the peer closes (or the client's timeout passes) and returns everything received.
inline std::string read_to_close(TlsClient& c) {
  return c.read_until(std::string("\xde\xad\xbe\xef never sent by the gateway"));
}

inline std::string connack(std::uint8_t code) {
  return std::string{'\x20', '\x02', '\x00', static_cast<char>(code)};
}

inline std::string puback(std::uint16_t id) {
  return std::string{'\x40', '\x02', static_cast<char>(id >> 8), static_cast<char>(id & 0xff)};
}

/// CONNECTs with `connect` and returns the connection when CONNACK 0 arrives.
inline std::unique_ptr<TlsClient> connect_mqtt(GatewayUnderTest& gw,
                                               const mqtt_proto::Connect& connect) {
  auto c = gw.open();
  if (!c || !c->write(encoded(connect))) return nullptr;
  const auto reply = c->read_until(connack(0));
  if (reply.find(connack(0)) == std::string::npos) return nullptr;
  return c;
}

/// A QoS 1 telemetry PUBLISH on the identity's own topic.
inline std::string telemetry(const std::string& identity_path, std::uint16_t packet_id,
                             std::string body = "hi") {
  mqtt_proto::Publish p;
  p.qos = mqtt_proto::QoS::at_least_once;
  p.packet_id = packet_id;
  p.topic = "devices/" + identity_path + "/messages/events/";
  p.payload.assign(reinterpret_cast<const std::byte*>(body.data()),
                   reinterpret_cast<const std::byte*>(body.data()) + body.size());
  return encoded(p);
}

/// Bytes from space-separated hex ("10 0c 00 04").
inline std::string hex(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i + 1 < text.size();) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    out += static_cast<char>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16));
    i += 2;
  }
  return out;
}

/// A client that stays connected through a whole suite and proves the gateway still serves it:
/// each check() publishes at QoS 1 with the next packet id and waits for that PUBACK.
class WitnessClient {
 public:
  WitnessClient(GatewayUnderTest& gw, std::string device) : device_(std::move(device)) {
    client_ = connect_mqtt(gw, sas_connect(device_, "", 0));
  }
  bool connected() const { return client_ != nullptr; }
  bool check() {
    if (!client_) return false;
    if (++packet_id_ == 0) packet_id_ = 1;
    if (!client_->write(telemetry(device_, packet_id_))) return false;
    return client_->read_until(puback(packet_id_)).find(puback(packet_id_)) != std::string::npos;
  }

 private:
  std::string device_;
  std::unique_ptr<TlsClient> client_;
  std::uint16_t packet_id_ = 0;
};

}  // namespace edgehub::testing
