#pragma once

// A HAND-MADE STAND-IN for IoT Hub's MQTT endpoint (the cloud side, which the tests may not
// have): one TLS connection over real sockets (OpenSSL, blocking, on its own thread), the
// project's MQTT codec to read what the client sends. It answers CONNECT with CONNACK 0, every
// QoS 1 PUBLISH with PUBACK and PINGREQ with PINGRESP, and records what it saw: the published
// payloads in order and how many reads (TLS records) carried them. `send_malformed` makes it do
// what mosquitto never does: follow the CONNACK with a packet of the reserved type 0.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace edgehub::upstream::testing {

class MqttStandin {
 public:
  enum class Behaviour { acknowledge, send_malformed };

  /// Listens on 127.0.0.1 with the PEM certificate chain and key; throws when it cannot.
  MqttStandin(const std::filesystem::path& chain, const std::filesystem::path& key,
              Behaviour behaviour);
  ~MqttStandin();
  MqttStandin(const MqttStandin&) = delete;
  MqttStandin& operator=(const MqttStandin&) = delete;

  std::uint16_t port() const noexcept { return port_; }

  /// The payloads of the PUBLISHes received, in arrival order.
  std::vector<std::string> payloads() const;
  /// TLS reads that returned PUBLISH data (one TLS record at most each).
  std::size_t publish_reads() const noexcept { return publish_reads_; }
  /// The client closed the connection (or broke TLS).
  bool client_closed() const noexcept { return client_closed_; }

 private:
  void serve();

  Behaviour behaviour_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  void* ctx_ = nullptr;  ///< SSL_CTX, kept out of the header
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> publish_reads_{0};
  std::atomic<bool> client_closed_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> payloads_;
  std::thread thread_;
};

}  // namespace edgehub::upstream::testing
