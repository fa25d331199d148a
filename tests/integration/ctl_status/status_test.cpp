// Issue 10, `edgehubctl status`: the running daemon's version, uptime, upstream state,
// connections by protocol and identity, queue lengths and certificate expiry, read from its admin
// socket (mode 0660), as JSON (--json) and as a table.

#include <signal.h>

#include <thread>

#include "edgehub/core/version.hpp"
#include "integration/reload/admin_gateway.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

class Status : public AdminGatewayTest {};

TEST_F(Status, ReportsConnectionsQueuesAndCertificatesOfTheRunningDaemon) {
  // dev1's messages wait for $upstream (there is no upstream): the queue grows by one per message.
  auto gateway = start({"dev1", "dev2"}, "up = \"FROM /messages/* INTO $upstream\"\n");
  auto dev1 = connect("dev1");
  auto dev2 = connect("dev2");
  ASSERT_TRUE(publish(*dev1, "dev1", "one", 1));
  ASSERT_TRUE(publish(*dev1, "dev1", "two", 2));
  ASSERT_TRUE(publish(*dev2, "dev2", "three", 1));

  struct stat st {};
  ASSERT_EQ(::stat(socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u) << "root and the service group only";

  const auto s = status();
  EXPECT_EQ(s["version"], std::string(core::version()));
  EXPECT_EQ(s["pid"], gateway->pid());
  EXPECT_EQ(s["state"], "running");
  EXPECT_GE(s["uptime_seconds"].get<double>(), 0.0);
  EXPECT_EQ(s["config_file"], config_path().string());
  EXPECT_EQ(s["upstream"]["state"], "not configured");
  EXPECT_EQ(s["connections"]["by_protocol"]["mqtt"], 2) << s.dump();
  EXPECT_EQ(s["connections"]["total"], 2) << s.dump();
  std::vector<std::string> ids;
  for (const auto& i : s["connections"]["identities"])
    ids.push_back(i["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"dev1", "dev2"})) << s.dump();

  std::int64_t upstream_length = -1;
  for (const auto& q : s["queues"]) {
    if (q["endpoint"] == "iothub") upstream_length = q["length"];
  }
  EXPECT_EQ(upstream_length, 3) << s.dump();

  const auto& server = s["certificates"]["server"];
  EXPECT_GT(server["expires_in_seconds"].get<double>(), 3600.0) << s.dump();
  EXPECT_FALSE(server["serial"].get<std::string>().empty());
  TlsClient probe(client_options(ports_.mqtt));
  ASSERT_TRUE(probe.connect());
  EXPECT_EQ(server["serial"], probe.peer_serial()) << "the certificate the listeners serve";
  EXPECT_GT(s["certificates"]["edge_ca"]["expires_in_seconds"].get<double>(),
            server["expires_in_seconds"].get<double>() - 1);
  EXPECT_TRUE(s["last_reload"].is_null());

  // The table for people shows the same facts.
  const auto table = ctl({"status", "--admin-socket", socket_path().string()});
  EXPECT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("edgehubd " + std::string(core::version()) + ", running"),
            std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("not configured"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("dev2"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("iothub"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("serial " + probe.peer_serial()), std::string::npos) << table.out;

  // After a disconnect the counts follow.
  dev2.reset();
  bool updated = false;
  for (int i = 0; i < 50 && !updated; ++i) {
    updated = status()["connections"]["identities_connected"] == 1;
    if (!updated) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(updated) << status().dump();

  gateway->signal(SIGTERM);
  EXPECT_EQ(gateway->wait_for(20s), 0);
  std::error_code ec;
  EXPECT_FALSE(std::filesystem::exists(socket_path(), ec)) << "the socket is removed at exit";
}

TEST_F(Status, ALeftoverSocketFileIsReplacedButALiveOneIsNot) {
  auto first = start({"dev1"}, "");
  // A second daemon on the same admin socket must refuse to start rather than steal it.
  const auto second_dir = dir_ / "second";
  std::filesystem::create_directories(second_dir);
  GatewayPorts other_ports;
  auto text =
      tls_config(pki_, dir_, other_ports, "admin_socket = \"" + socket_path().string() + "\"\n");
  const auto state = (dir_ / "state").string();
  text.replace(text.find(state), state.size(), (second_dir / "state").string());
  write_file(second_dir / "config.toml", text);
  ChildProcess second({EDGEHUBD_BINARY, "--config", (second_dir / "config.toml").string(),
                       "--log-target", "stderr"},
                      {}, second_dir);
  EXPECT_EQ(second.wait_for(20s), 1);
  EXPECT_NE(second.stderr_text().find("another process"), std::string::npos)
      << second.stderr_text();
  EXPECT_EQ(ctl({"status", "--admin-socket", socket_path().string()}).status, 0);

  // A daemon killed with SIGKILL leaves its socket file behind; the next start replaces it.
  first->signal(SIGKILL);
  first->wait_for(10s);
  ASSERT_TRUE(std::filesystem::exists(socket_path()));
  auto restarted = start({"dev1"}, "");
  EXPECT_EQ(status()["pid"], restarted->pid());
  restarted->signal(SIGTERM);
  EXPECT_EQ(restarted->wait_for(20s), 0);
}

}  // namespace
}  // namespace edgehub::testing
