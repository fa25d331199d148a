#pragma once

// Many MQTT client connections on one thread: non-blocking sockets in one epoll set, OpenSSL
// driven directly on the descriptors (no stream objects, no per-message allocation: each
// connection keeps one receive and one send buffer for its life, and released TLS buffers while
// idle so that 10,000 held connections stay cheap).

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mqtt_wire.hpp"

namespace edgehub::bench {

using Clock = std::chrono::steady_clock;

struct Endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8883;
  bool tls = true;
  std::string ca_file;  ///< verify the server against it when set
  std::string sni;
};

struct Connection {
  enum class State { idle, tcp_connecting, handshaking, mqtt_connecting, ready, closed };

  std::uint32_t index = 0;  ///< the caller's number (device index)
  State state = State::idle;
  bool was_ready = false;  ///< CONNACK 0 was received (a later close is a drop, not a failure)
  int fd = -1;
  SSL* ssl = nullptr;
  mqtt::Buffer out;  ///< bytes not yet written; out_done of them already are
  std::size_t out_done = 0;
  mqtt::Buffer in;           ///< bytes received, not yet a whole packet
  std::uint32_t events = 0;  ///< epoll interest currently registered
  mqtt::Buffer connect_packet;
  Clock::time_point started;
  std::string error;

  bool has_output() const { return out_done < out.size(); }
};

/// What the scenario does with packets; every callback runs on the loop's thread.
struct Handlers {
  std::function<void(Connection&)> on_ready;  ///< CONNACK 0 received
  std::function<void(Connection&, const mqtt::Frame&)> on_packet;
  std::function<void(Connection&)> on_closed;  ///< failed or lost (error set)
};

class EventLoop {
 public:
  EventLoop(Endpoint endpoint, Handlers handlers);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// A new connection that sends `connect_packet` once connected; started by start().
  Connection& add(std::uint32_t index, mqtt::Buffer connect_packet);
  void start(Connection& c);
  /// Queues bytes (already appended to c.out by the caller) for writing.
  void flush(Connection& c);
  void close(Connection& c, std::string why = {});
  /// Waits up to `timeout` for events and handles them.
  void poll(std::chrono::milliseconds timeout);

  std::vector<std::unique_ptr<Connection>>& connections() { return connections_; }
  /// The epoll descriptor, readable when poll() has work: to wait on several loops at once.
  int fd() const { return epoll_; }

 private:
  void on_event(Connection& c, std::uint32_t events);
  void continue_handshake(Connection& c);
  void read_available(Connection& c);
  void handle_packets(Connection& c);
  void update_interest(Connection& c, bool want_write);

  Endpoint endpoint_;
  Handlers handlers_;
  SSL_CTX* tls_ = nullptr;
  int epoll_ = -1;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::uint8_t> scratch_;
};

}  // namespace edgehub::bench
