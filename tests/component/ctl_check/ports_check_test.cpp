// `edgehubctl check`, Ports section: a listener address held by another program is an error that
// names the program (exit 1); free addresses pass.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/pki/test_pki.hpp"
#include "support/process/child_process.hpp"
#include "support/process/ports.hpp"
#include "support/process/temp_dir.hpp"

namespace edgehub::testing {
namespace {

// ports: mqtt, amqp, https, metrics (distinct, from free_tcp_ports).
std::string config_for(const test::TestPki& pki, const TempDir& dir,
                       const std::vector<std::uint16_t>& ports) {
  return "hostname = \"gw.test.local\"\n"
         "trust_bundle_cert = \"file://" +
         pki.files.root_cert.string() +
         "\"\n"
         "[edge_ca]\n"
         "cert = \"file://" +
         pki.files.edge_ca_full_chain.string() +
         "\"\n"
         "pk = \"file://" +
         pki.files.edge_ca_key.string() +
         "\"\n"
         "[gateway]\n"
         "device_id = \"gw\"\n"
         "iothub_hostname = \"hub.azure-devices.net\"\n"
         "state_dir = \"file://" +
         (dir / "state").string() +
         "\"\n"
         "metrics = \"127.0.0.1:" +
         std::to_string(ports[3]) +
         "\"\n"
         "[gateway.listen]\n"
         "mqtt = \"127.0.0.1:" +
         std::to_string(ports[0]) +
         "\"\n"
         "amqp = \"127.0.0.1:" +
         std::to_string(ports[1]) +
         "\"\n"
         "https = \"127.0.0.1:" +
         std::to_string(ports[2]) + "\"\n";
}

TEST(EdgehubctlCheckPorts, FreePortsPassAndAPortHeldByAnotherProgramIsAnError) {
  auto pki = test::make_test_pki_for({});
  TempDir dir;
  const auto ports = free_tcp_ports(4);
  const auto port = ports[0];
  write_file(dir / "config.toml", config_for(pki, dir, ports));

  auto free_run = run_command(
      {EDGEHUBCTL_PATH, "check", "--config", (dir / "config.toml").string()}, dir.path());
  EXPECT_EQ(free_run.status, 0) << free_run.out;
  EXPECT_NE(free_run.out.find("[gateway.listen] mqtt 127.0.0.1:" + std::to_string(port) + ": free"),
            std::string::npos)
      << free_run.out;

  // This test process takes the MQTT port.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  auto busy = run_command({EDGEHUBCTL_PATH, "check", "--config", (dir / "config.toml").string()},
                          dir.path());
  ::close(fd);
  EXPECT_EQ(busy.status, 1) << busy.out;
  EXPECT_NE(busy.out.find(": in use by ctl_check_compo"), std::string::npos) << busy.out;
  EXPECT_NE(busy.out.find("fix: stop"), std::string::npos) << busy.out;
}

}  // namespace
}  // namespace edgehub::testing
