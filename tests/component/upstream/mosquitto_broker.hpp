#pragma once

// A real mosquitto broker for upstream tests: a TLS listener whose server certificate (SAN
// localhost and 127.0.0.1) is issued from a test PKI's Edge CA, plus a plain listener on
// 127.0.0.1 for the test's own observer client. Stopped and started again on the same ports to
// simulate an IoT Hub outage; persistent sessions survive that. `refuse_all` answers every CONNECT
// with CONNACK 5, as IoT Hub does for an identity it does not accept.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "support/pki/test_pki.hpp"
#include "support/process/child_process.hpp"

namespace edgehub::upstream::testing {

class MosquittoBroker {
 public:
  explicit MosquittoBroker(bool refuse_all = false);
  ~MosquittoBroker();

  void start();  ///< returns once the TLS port accepts connections; throws otherwise
  void stop();   ///< SIGTERM and reap
  /// SIGSTOP / SIGCONT: the broker keeps its connections open but answers nothing meanwhile.
  void pause();
  void resume();

  std::uint16_t tls_port() const noexcept { return tls_port_; }
  std::uint16_t plain_port() const noexcept { return plain_port_; }
  /// The root CA the TLS listener's chain ends in.
  const std::filesystem::path& root_cert() const noexcept { return pki_.files.root_cert; }
  const std::filesystem::path& dir() const noexcept { return pki_.dir.path(); }

 private:
  test::TestPki pki_;
  std::uint16_t tls_port_ = 0;
  std::uint16_t plain_port_ = 0;
  std::filesystem::path config_;
  std::unique_ptr<edgehub::testing::ChildProcess> process_;
};

}  // namespace edgehub::upstream::testing
