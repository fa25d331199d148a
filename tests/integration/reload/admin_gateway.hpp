#pragma once

// edgehubd with TLS listeners, an identities file, routes and an admin socket in a temporary
// directory, plus MQTT devices and a module connected with the project's own codec, and
// edgehubctl run against it: what the reload and status tests share.

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "edgehub/mqtt_proto/codec.hpp"
#include "integration/mqtt/mqtt_test_client.hpp"
#include "integration/tls/tls_fixture.hpp"

namespace edgehub::testing {

/// A route from every device to the input `input` of the gateway's module `sink`.
inline std::string route_to_input(const std::string& name, const std::string& input) {
  return name + " = \"FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO " +
         "BrokeredEndpoint(\\\"/modules/sink/inputs/" + input + "\\\")\"\n";
}

class AdminGatewayTest : public TlsGatewayTest {
 protected:
  std::filesystem::path config_path() const { return dir_ / "config.toml"; }
  std::filesystem::path socket_path() const { return dir_ / "admin.sock"; }
  std::filesystem::path identities_path() const { return dir_ / "identities.toml"; }

  /// The configuration file for these routes (a [gateway.routes] body).
  std::string config_text(const std::string& routes) const {
    return tls_config(pki_, dir_, ports_,
                      "identities = \"file://" + identities_path().string() + "\"\n" +
                          "admin_socket = \"" + socket_path().string() + "\"\n") +
           "[gateway.routes]\n" + routes;
  }

  void write_identities(const std::vector<std::string>& devices) {
    std::string text;
    for (const auto& d : devices)
      text += sas_device_entry(d);
    text += std::string("[[module]]\nid = \"sink\"\nprimary_key = \"") + kTestKey + "\"\n";
    test::write_file(identities_path(), text, std::filesystem::perms(0600));
  }

  std::unique_ptr<ChildProcess> start(const std::vector<std::string>& devices,
                                      const std::string& routes) {
    write_identities(devices);
    write_file(config_path(), config_text(routes));
    auto child = std::make_unique<ChildProcess>(
        std::vector<std::string>{EDGEHUBD_BINARY, "--config", config_path().string(),
                                 "--log-target", "stderr", "--log-level", "debug"},
        std::vector<std::string>{notify_.env()}, dir_.path());
    EXPECT_TRUE(notify_.wait_for("READY=1", std::chrono::seconds(20))) << child->stderr_text();
    return child;
  }

  RunResult ctl(std::vector<std::string> args) {
    args.insert(args.begin(), EDGEHUBCTL_PATH);
    return run_command(std::move(args), dir_.path(), std::chrono::seconds(60));
  }
  RunResult config_apply() { return ctl({"config", "apply", "--config", config_path().string()}); }
  nlohmann::json status() {
    const auto r = ctl({"status", "--json", "--config", config_path().string()});
    EXPECT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  /// A TLS connection that has sent a SAS CONNECT and read CONNACK 0.
  std::unique_ptr<TlsClient> connect(const std::string& device, const std::string& module = "") {
    auto c = std::make_unique<TlsClient>(client_options(ports_.mqtt));
    EXPECT_TRUE(c->connect()) << c->error();
    EXPECT_TRUE(c->write(encoded(sas_connect(device, module, 120))));
    const std::string connack("\x20\x02\x00\x00", 4);
    EXPECT_NE(c->read_until(connack).find(connack), std::string::npos) << device;
    return c;
  }

  /// The module subscribes to all its inputs.
  void subscribe_inputs(TlsClient& module) {
    mqtt_proto::Subscribe s;
    s.packet_id = 1;
    s.subscriptions = {{"devices/gw/modules/sink/inputs/#", mqtt_proto::QoS::at_least_once}};
    ASSERT_TRUE(module.write(encoded(s)));
    ASSERT_NE(module.read_until(std::string("\x90\x03\x00\x01", 4)).size(), 0u);
  }

  /// Publishes `body` at QoS 1 and returns whether the PUBACK came back.
  static bool publish(TlsClient& device, const std::string& id, const std::string& body,
                      std::uint16_t packet_id) {
    mqtt_proto::Publish p;
    p.qos = mqtt_proto::QoS::at_least_once;
    p.packet_id = packet_id;
    p.topic = "devices/" + id + "/messages/events/";
    p.payload.assign(reinterpret_cast<const std::byte*>(body.data()),
                     reinterpret_cast<const std::byte*>(body.data()) + body.size());
    if (!device.write(encoded(p))) return false;
    const std::string puback{'\x40', '\x02', static_cast<char>(packet_id >> 8),
                             static_cast<char>(packet_id & 0xff)};
    return device.read_until(puback).find(puback) != std::string::npos;
  }

  /// The next PUBLISH the module receives (acknowledged), or nullopt.
  static std::optional<mqtt_proto::Publish> next_publish(TlsClient& module,
                                                         mqtt_proto::Decoder& decoder) {
    for (int reads = 0; reads < 50; ++reads) {
      for (;;) {
        auto next = decoder.next();
        if (!next || !*next) break;
        if (auto* pub = std::get_if<mqtt_proto::Publish>(&**next)) {
          if (pub->qos == mqtt_proto::QoS::at_least_once) {
            module.write(encoded(mqtt_proto::Puback{pub->packet_id}));
          }
          return *pub;
        }
      }
      const auto chunk = module.read_some();
      if (chunk.empty()) return std::nullopt;
      decoder.feed(std::span(reinterpret_cast<const std::byte*>(chunk.data()), chunk.size()));
    }
    return std::nullopt;
  }

  /// PINGREQ answered by PINGRESP: the connection is up and served.
  static bool alive(TlsClient& client) {
    const std::string pingresp("\xd0\x00", 2);
    return client.write(std::string("\xc0\x00", 2)) &&
           client.read_until(pingresp).find(pingresp) != std::string::npos;
  }
};

inline std::string payload_text(const mqtt_proto::Publish& p) {
  return std::string(reinterpret_cast<const char*>(p.payload.data()), p.payload.size());
}

}  // namespace edgehub::testing
