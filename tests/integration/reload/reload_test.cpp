// Issue 10, live reload: with real MQTT devices and a module connected over TLS,
// `edgehubctl config apply` (and SIGHUP) change routes and identities in place. Connections that
// stay valid are untouched; only a removed identity's connection is closed; a configuration with
// errors changes nothing and the reason is reported, by edgehubctl's exit status and by the daemon.

#include <signal.h>

#include <filesystem>

#include "integration/reload/admin_gateway.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

class Reload : public AdminGatewayTest {};

TEST_F(Reload, NewRoutesApplyWhileTheClientsStayConnected) {
  auto gateway = start({"dev1"}, route_to_input("toSink", "first"));
  auto device = connect("dev1");
  auto module = connect("gw", "sink");
  subscribe_inputs(*module);
  mqtt_proto::Decoder decoder(1024 * 1024);

  ASSERT_TRUE(publish(*device, "dev1", "before", 1));
  auto first = next_publish(*module, decoder);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->topic.rfind("devices/gw/modules/sink/inputs/first/", 0), 0u) << first->topic;

  write_file(config_path(), config_text(route_to_input("toSink", "second")));
  const auto apply = config_apply();
  EXPECT_EQ(apply.status, 0) << apply.out << apply.err;
  EXPECT_NE(apply.out.find("Applied by edgehubd"), std::string::npos) << apply.out;
  EXPECT_NE(apply.out.find("routes: changed toSink"), std::string::npos) << apply.out;

  // The same two connections: the device's next message takes the new route.
  ASSERT_TRUE(publish(*device, "dev1", "after", 2));
  auto second = next_publish(*module, decoder);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->topic.rfind("devices/gw/modules/sink/inputs/second/", 0), 0u) << second->topic;
  EXPECT_EQ(payload_text(*second), "after");
  EXPECT_TRUE(alive(*device));
  EXPECT_TRUE(alive(*module));

  const auto s = status();
  EXPECT_EQ(s["last_reload"]["applied"], true) << s.dump();
  EXPECT_EQ(s["last_reload"]["trigger"], "admin socket") << s.dump();
  EXPECT_EQ(s["connections"]["identities_connected"], 2) << s.dump();

  gateway->signal(SIGTERM);
  EXPECT_EQ(gateway->wait_for(20s), 0);
}

TEST_F(Reload, RemovingAnIdentityDisconnectsOnlyThatClient) {
  auto gateway = start({"dev1", "dev2"}, route_to_input("toSink", "in"));
  auto dev1 = connect("dev1");
  auto dev2 = connect("dev2");
  auto module = connect("gw", "sink");

  write_identities({"dev1"});
  const auto apply = config_apply();
  EXPECT_EQ(apply.status, 0) << apply.out << apply.err;
  EXPECT_NE(apply.out.find("identity dev2 removed"), std::string::npos) << apply.out;

  EXPECT_TRUE(dev2->wait_closed(10s)) << "the removed identity's connection must be closed";
  EXPECT_TRUE(alive(*dev1)) << "dev1 is still registered and must stay connected";
  EXPECT_TRUE(alive(*module));
  EXPECT_TRUE(publish(*dev1, "dev1", "still here", 1));

  // A removed identity cannot come back: a CONNACK with a refusal code.
  TlsClient again(client_options(ports_.mqtt));
  ASSERT_TRUE(again.connect());
  ASSERT_TRUE(again.write(encoded(sas_connect("dev2", "", 120))));
  const auto connack = again.read_until(std::string("\x20\x02\x00", 3) + '\x05');
  ASSERT_GE(connack.size(), 4u);
  EXPECT_EQ(connack.substr(0, 3), std::string("\x20\x02\x00", 3));
  EXPECT_NE(connack[3], '\x00') << "dev2 must be refused";

  const auto s = status();
  EXPECT_EQ(s["last_reload"]["closed_connections"], 1) << s.dump();
  std::vector<std::string> ids;
  for (const auto& i : s["connections"]["identities"])
    ids.push_back(i["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"dev1", "gw/sink"})) << s.dump();

  gateway->signal(SIGTERM);
  EXPECT_EQ(gateway->wait_for(20s), 0);
}

TEST_F(Reload, ABrokenConfigurationChangesNothingAndSaysWhy) {
  auto gateway = start({"dev1", "dev2"}, route_to_input("toSink", "first"));
  auto dev1 = connect("dev1");
  auto dev2 = connect("dev2");
  auto module = connect("gw", "sink");
  subscribe_inputs(*module);
  mqtt_proto::Decoder decoder(1024 * 1024);

  // Two changes at once: a valid one (dev2 removed) and a route that does not compile. The
  // valid half must not be applied either.
  write_identities({"dev1"});
  write_file(config_path(),
             config_text(route_to_input("toSink", "second") +
                         "broken = \"FROM /messages/* WHERE $body.temp > INTO $upstream\"\n"));
  const auto apply = config_apply();
  EXPECT_EQ(apply.status, 78) << apply.out << apply.err;
  EXPECT_NE(apply.out.find("broken"), std::string::npos) << apply.out;
  EXPECT_NE(apply.out.find("Not applied"), std::string::npos) << apply.out;

  // SIGHUP bypasses edgehubctl's own check: the daemon must refuse it by itself.
  gateway->signal(SIGHUP);
  ASSERT_TRUE(notify_.wait_for("READY=1", 10s));
  const auto s = status();
  EXPECT_EQ(s["last_reload"]["applied"], false) << s.dump();
  EXPECT_EQ(s["last_reload"]["trigger"], "SIGHUP") << s.dump();
  ASSERT_FALSE(s["last_reload"]["errors"].empty()) << s.dump();
  EXPECT_NE(s["last_reload"]["errors"][0].get<std::string>().find("broken"), std::string::npos)
      << s.dump();
  EXPECT_NE(gateway->stderr_text().find("reload rejected"), std::string::npos);

  // Nothing changed: dev2 is still connected and accepted, the old route still applies.
  EXPECT_TRUE(alive(*dev2));
  EXPECT_TRUE(alive(*dev1));
  ASSERT_TRUE(publish(*dev2, "dev2", "old route", 1));
  auto delivered = next_publish(*module, decoder);
  ASSERT_TRUE(delivered.has_value());
  EXPECT_EQ(delivered->topic.rfind("devices/gw/modules/sink/inputs/first/", 0), 0u)
      << delivered->topic;

  gateway->signal(SIGTERM);
  EXPECT_EQ(gateway->wait_for(20s), 0);
}

TEST_F(Reload, WhenTheDaemonRejectsTheReloadConfigApplyPrintsItsReasonsAndExits1) {
  auto gateway = start({"dev1"}, route_to_input("toSink", "first"));
  auto dev1 = connect("dev1");

  // The configuration file itself is fine, so edgehubctl's own validation passes; the Edge CA
  // it names is no longer a certificate, which only the daemon finds out.
  write_file(pki_.files.edge_ca_full_chain, "not a certificate\n");
  write_file(config_path(), config_text(route_to_input("toSink", "second")));
  const auto apply = config_apply();
  EXPECT_EQ(apply.status, 1) << apply.out << apply.err;
  EXPECT_NE(apply.out.find("Rejected by edgehubd: nothing changed"), std::string::npos)
      << apply.out;
  EXPECT_NE(apply.out.find("edge_ca"), std::string::npos) << apply.out;
  EXPECT_TRUE(alive(*dev1));
  EXPECT_EQ(status()["last_reload"]["applied"], false);

  gateway->signal(SIGTERM);
  EXPECT_EQ(gateway->wait_for(20s), 0);
}

TEST_F(Reload, ConfigApplyRefusesAFileTheDaemonDoesNotRead) {
  auto gateway = start({"dev1"}, route_to_input("toSink", "first"));
  const auto other = dir_ / "other.toml";
  write_file(other, config_text(route_to_input("toSink", "second")));
  const auto r = ctl({"config", "apply", "--config", other.string()});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("the running edgehubd reads " + config_path().string()), std::string::npos)
      << r.err;
  EXPECT_TRUE(status()["last_reload"].is_null()) << "nothing was reloaded";

  gateway->signal(SIGTERM);
  EXPECT_EQ(gateway->wait_for(20s), 0);
}

}  // namespace
}  // namespace edgehub::testing
