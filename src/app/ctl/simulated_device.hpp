#pragma once

// One simulated device of `edgehubctl simulate`: an MQTT 3.1.1 client over TLS built on the
// project's own codec (mqtt_proto) and SAS tokens (identity), speaking to the gateway the way the
// Azure IoT device SDKs do (client id and user name naming the device, SAS token as password,
// QoS 1 telemetry on devices/{id}/messages/events/).

#include <array>
// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange, not including it
// clang-format on
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace edgehub::app::ctl {

/// Counters shared by every device of a run (one io_context thread: no locking).
struct SimulationStats {
  std::uint64_t connected = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t sent = 0;
  std::uint64_t acknowledged = 0;
  std::uint64_t held_back = 0;       ///< send slots skipped: the in-flight window was full
  std::vector<double> latencies_ms;  ///< PUBLISH to PUBACK, since the last report
  std::string last_error;
};

/// The telemetry body every simulated device sends, whatever the protocol:
/// {"device":"<id>","seq":<n>,"temp":<18.0..36.0>}.
std::string simulated_telemetry(const std::string& device_id, std::uint64_t sequence);

struct SimulatedDeviceSettings {
  std::string device_id;
  std::string password;  ///< SAS token
  std::string iothub_hostname;
  std::string host;  ///< where to connect
  std::uint16_t port = 8883;
  std::chrono::steady_clock::duration interval{std::chrono::seconds(1)};  ///< between messages
  std::size_t window = 32;  ///< unacknowledged messages at most
};

class SimulatedDevice {
 public:
  SimulatedDevice(boost::asio::io_context& io, boost::asio::ssl::context& tls,
                  SimulatedDeviceSettings settings, SimulationStats& stats);

  /// Connects (TLS, CONNECT/CONNACK), then sends one telemetry message per interval until
  /// stop(); returns when the connection ends.
  boost::asio::awaitable<void> run();
  /// Stops sending; the connection closes once the messages in flight are acknowledged (or after
  /// `grace`).
  void stop() { stopping_ = true; }
  std::size_t in_flight() const { return in_flight_; }

 private:
  using Clock = std::chrono::steady_clock;
  using Stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

  boost::asio::awaitable<bool> connect();
  boost::asio::awaitable<void> read_acknowledgements();
  std::vector<std::byte> next_message();

  boost::asio::io_context& io_;
  SimulatedDeviceSettings settings_;
  SimulationStats& stats_;
  Stream stream_;
  bool stopping_ = false;
  bool connected_ = false;
  std::size_t in_flight_ = 0;
  std::uint16_t next_packet_id_ = 1;
  std::uint64_t sequence_ = 0;
  std::array<Clock::time_point, 65536> sent_at_{};
};

}  // namespace edgehub::app::ctl
