#pragma once

// http::C2dPollers: cloud-to-device messages for devices that only poll over HTTPS
// (iot-hub-protocol.md §9). edgeHub has no HTTPS device API; edgehubd pulls such a device's C2D
// from the upstream on its behalf: a poll (GET …/messages/deviceBound) registers the device in
// hub::DeviceChannels with the C2D subscription for `interest` after its last poll, so the
// upstream holds its C2D subscription as for a connected device; what IoT Hub sends is queued in
// the C2dQueue, locked and settled by the device's next requests, and the upstream delivery is
// settled with the device's final outcome (completed -> accepted; rejected, dead-lettered ->
// not accepted).
//
// A device connected over MQTT or AMQP is left alone (its session gets its C2D), and a session
// that connects later replaces the polling registration.
//
// Thread safety: on_poll() may be called from any thread; the sweep runs on `executor`.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "edgehub/core/clock.hpp"
#include "edgehub/http/c2d_queue.hpp"
#include "edgehub/hub/device_channels.hpp"

namespace edgehub::http {

class C2dPollers {
 public:
  /// How long after its last poll a device keeps its upstream C2D subscription: IoT Hub
  /// recommends polling at least every 25 minutes.
  static constexpr std::chrono::minutes kDefaultInterest{30};

  C2dPollers(hub::DeviceChannels& channels, C2dQueue& queue, const core::Clock& clock,
             boost::asio::any_io_executor executor,
             std::chrono::steady_clock::duration interest = kDefaultInterest);
  ~C2dPollers();
  C2dPollers(const C2dPollers&) = delete;
  C2dPollers& operator=(const C2dPollers&) = delete;

  /// `device` polled for C2D (authenticated as itself).
  void on_poll(const std::string& device);
  /// Devices registered as pollers now.
  std::size_t size() const;
  /// Drops every registration and stops the sweep. Idempotent.
  void stop();

 private:
  class Channel;
  struct Poller {
    std::shared_ptr<Channel> channel;
    hub::DeviceChannels::Registration registration;
    core::SteadyTime last_poll{};
  };

  void arm_sweep();
  void sweep();
  void forget(const std::string& device, const Channel* channel);

  hub::DeviceChannels& channels_;
  C2dQueue& queue_;
  const core::Clock& clock_;
  boost::asio::any_io_executor executor_;
  std::chrono::steady_clock::duration interest_;
  boost::asio::steady_timer sweep_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  mutable std::mutex mutex_;
  std::map<std::string, Poller> pollers_;
  bool stopped_ = false;
};

}  // namespace edgehub::http
