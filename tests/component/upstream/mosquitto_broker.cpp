#include "component/upstream/mosquitto_broker.hpp"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "edgehub/pki/edge_ca.hpp"
#include "edgehub/pki/server_cert.hpp"
#include "support/process/ports.hpp"

namespace edgehub::upstream::testing {

MosquittoBroker::MosquittoBroker(bool refuse_all) : pki_(test::make_test_pki_for({})) {
  const auto dir = pki_.dir.path();
  std::string why;
  auto ca = pki::load_edge_ca(pki_.files.edge_ca_full_chain, pki_.files.edge_ca_key,
                              pki_.files.root_cert, std::chrono::system_clock::now(), why);
  if (!ca) throw std::runtime_error("test Edge CA: " + why);
  pki::ServerCertPolicy policy;
  policy.hostname = "localhost";
  policy.extra_sans = {"127.0.0.1"};
  policy.validity = std::chrono::hours(24);
  auto server = pki::issue_server_cert(*ca, policy, std::chrono::system_clock::now(), why);
  if (!server) throw std::runtime_error("broker certificate: " + why);
  test::write_file(dir / "broker.chain.pem", server->chain_pem);
  test::write_file(dir / "broker.key.pem", server->key_pem, std::filesystem::perms(0600));

  const auto ports = edgehub::testing::free_tcp_ports(2);
  tls_port_ = ports[0];
  plain_port_ = ports[1];
  // Run as the test's own user: as root, mosquitto would otherwise switch to "mosquitto", which
  // cannot read the test's private directory.
  const passwd* me = getpwuid(geteuid());
  // Persistence keeps an observer's clean-session-0 subscription, and what was queued for it,
  // across a stop() / start() outage.
  std::string conf =
      "persistence true\npersistence_location " + dir.string() + "/\nper_listener_settings true\n";
  if (me != nullptr) conf += "user " + std::string(me->pw_name) + "\n";
  conf += "listener " + std::to_string(tls_port_) + " 127.0.0.1\n";
  conf += "cafile " + pki_.files.root_cert.string() + "\n";
  conf += "certfile " + (dir / "broker.chain.pem").string() + "\n";
  conf += "keyfile " + (dir / "broker.key.pem").string() + "\n";
  if (refuse_all) {
    // No user in the password file: every CONNECT with a user name gets CONNACK 5.
    test::write_file(dir / "passwords", "", std::filesystem::perms(0600));
    conf += "allow_anonymous false\npassword_file " + (dir / "passwords").string() + "\n";
  } else {
    conf += "allow_anonymous true\n";
  }
  conf += "listener " + std::to_string(plain_port_) + " 127.0.0.1\nallow_anonymous true\n";
  config_ = dir / "mosquitto.conf";
  test::write_file(config_, conf);
}

MosquittoBroker::~MosquittoBroker() {
  stop();
}

void MosquittoBroker::start() {
  process_ = std::make_unique<edgehub::testing::ChildProcess>(
      std::vector<std::string>{"/usr/sbin/mosquitto", "-c", config_.string()},
      std::vector<std::string>{}, pki_.dir.path());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (edgehub::testing::tcp_port_open(tls_port_) && edgehub::testing::tcp_port_open(plain_port_))
      return;
    if (!process_->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("mosquitto did not start: " + process_->stderr_text() +
                           process_->stdout_text());
}

void MosquittoBroker::stop() {
  if (!process_) return;
  if (process_->running()) {
    process_->signal(SIGCONT);  // a paused broker would not act on SIGTERM
    process_->signal(SIGTERM);
    process_->wait_for(std::chrono::seconds(10));
  }
  process_.reset();
}

void MosquittoBroker::pause() {
  if (process_) process_->signal(SIGSTOP);
}

void MosquittoBroker::resume() {
  if (process_) process_->signal(SIGCONT);
}

}  // namespace edgehub::upstream::testing
