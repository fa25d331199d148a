// Issue 10, `edgehubctl simulate`: simulated devices from the identities file connect to the
// running gateway over MQTT/TLS (verified against trust_bundle_cert and the configured hostname)
// and send QoS 1 telemetry at the requested rate; every message is acknowledged and reaches the
// route engine. Misuse ends with the documented exit codes.

#include <regex>

#include "integration/mqtt_malformed/gateway_under_test.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

struct CtlRun {
  int code = -1;
  std::string out;
  std::string err;
};

CtlRun simulate(const GatewayUnderTest& gw, std::vector<std::string> flags) {
  std::vector<std::string> argv{EDGEHUBCTL_PATH, "simulate", "--config",
                                (gw.dir() / "config.toml").string()};
  argv.insert(argv.end(), flags.begin(), flags.end());
  ChildProcess ctl(argv, {}, gw.dir().path());
  CtlRun run;
  run.code = ctl.wait_for(60s).value_or(-1);
  run.out = ctl.stdout_text();
  run.err = ctl.stderr_text();
  return run;
}

GatewayUnderTestOptions three_devices() {
  GatewayUnderTestOptions o;
  o.identities = sas_device_entry("dev1") + sas_device_entry("dev2") + sas_device_entry("dev3");
  o.pki.devices = {"dev1", "dev2", "dev3"};
  o.tail = "[gateway.routes]\nall = \"FROM /messages/* INTO $upstream\"\n";
  return o;
}

class CtlSimulateProtocol : public ::testing::TestWithParam<std::string> {};

TEST_P(CtlSimulateProtocol, DevicesSendTelemetryThatIsAcknowledgedAndRouted) {
  GatewayUnderTest gw(three_devices());
  const auto run =
      simulate(gw, {"--protocol", GetParam(), "--devices", "3", "--rate", "60", "--duration", "2"});
  ASSERT_EQ(run.code, 0) << run.out << run.err << gw.process().stderr_text();
  std::printf("%s", run.out.c_str());
  std::smatch m;
  const std::regex summary(
      R"(summary: 3 of 3 device\(s\) connected, (\d+) sent, (\d+) acknowledged)");
  ASSERT_TRUE(std::regex_search(run.out, m, summary)) << run.out;
  const int sent = std::stoi(m[1]);
  EXPECT_EQ(std::stoi(m[2]), sent);
  EXPECT_GE(sent, 60) << "about 60 msg/s for 2 s";
  EXPECT_LE(sent, 200);
  EXPECT_NE(run.out.find("latency p50"), std::string::npos) << "a report line per second";
  // Each acknowledged message was stored for $upstream.
  EXPECT_EQ(gw.metric("edgehub_queue_length"), sent);
  for (const char* d : {"dev1", "dev2", "dev3"}) {
    EXPECT_GT(gw.metric("edgehub_messages_received_total", {{"id", d}}), 0) << d;
  }
}

INSTANTIATE_TEST_SUITE_P(MqttAndAmqp, CtlSimulateProtocol, ::testing::Values("mqtt", "amqp"));

TEST(CtlSimulate, MisuseEndsWithTheDocumentedExitCodes) {
  GatewayUnderTest gw(three_devices());
  auto more = simulate(gw, {"--devices", "5", "--duration", "1"});
  EXPECT_EQ(more.code, 78);
  EXPECT_NE(more.err.find("fewer than --devices 5"), std::string::npos) << more.err;
  EXPECT_EQ(simulate(gw, {"--rate", "0"}).code, 64);
  EXPECT_EQ(simulate(gw, {"--protocol", "coap"}).code, 64);
  EXPECT_EQ(simulate(gw, {"--bogus", "1"}).code, 64);
  // Nothing listening: no device connects.
  gw.process().signal(SIGTERM);
  ASSERT_EQ(gw.process().wait_for(15s), 0);
  for (const char* protocol : {"mqtt", "amqp"}) {
    auto down = simulate(gw, {"--protocol", protocol, "--devices", "1", "--duration", "1"});
    EXPECT_EQ(down.code, 69) << protocol << "\n" << down.out << down.err;
    EXPECT_NE(down.out.find("last error"), std::string::npos) << down.out;
  }
}

}  // namespace
}  // namespace edgehub::testing
