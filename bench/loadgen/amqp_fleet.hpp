#pragma once

// Devices publishing telemetry over AMQP (Qpid Proton, one container thread for every
// connection): SASL PLAIN with a SAS token, one sender link per device to
// /devices/{id}/messages/events, the same 256-byte JSON bodies as the MQTT devices. The fleet
// runs on its own thread; the caller (which runs the MQTT receiver on its thread) only starts it,
// says when to send, and reads the counters once it is done.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace edgehub::bench {

struct AmqpDevice {
  std::string id;
  std::string password;  ///< SAS token
};

struct AmqpFleetOptions {
  std::string url;  ///< amqps://host:port
  std::string ca_file;
  std::string virtual_host;   ///< SNI and the certificate name to verify
  std::string hub_name;       ///< IoT Hub name without its domain, for {id}@sas.{hub}
  double rate = 1000;         ///< messages per second, all devices together
  double duration = 10;       ///< seconds of sending, after go()
  std::uint32_t window = 32;  ///< unsettled messages per device at most
};

class AmqpFleet {
 public:
  AmqpFleet(std::vector<AmqpDevice> devices, AmqpFleetOptions options);
  ~AmqpFleet();
  AmqpFleet(const AmqpFleet&) = delete;
  AmqpFleet& operator=(const AmqpFleet&) = delete;

  /// Connects every device (on the fleet's thread).
  void start();
  /// Every link open; or a device failed (error() says which).
  bool ready() const;
  /// Starts sending: `duration` seconds at `rate`, then waits for every settlement and closes.
  void go();
  /// Every connection closed; the counters below are final.
  bool done() const;

  std::string error() const;
  std::vector<std::uint64_t> sent_per_device() const;  ///< may be read while sending
  std::uint64_t accepted() const;
  std::uint64_t not_accepted() const;  ///< rejected or released

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace edgehub::bench
