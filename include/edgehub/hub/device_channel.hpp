#pragma once

// hub::DeviceChannel, the seam between the hub and one connected client's protocol session
// (style P6). A session (MQTT, AMQP, HTTP) implements it and registers it with DeviceChannels;
// the hub uses it to push module-input messages, direct-method requests and desired-property
// patches towards that client, and to close the connection.
//
// Executor contract: the hub never calls a DeviceChannel inline from another session's thread.
// It posts every call below onto executor(), so an implementation needs no locks as long as its
// own state lives on that executor. Calls must not block: a full outbound queue is reported
// through the callback (Errc::queue_full), never by waiting.

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "edgehub/core/message.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/hub/errors.hpp"

namespace edgehub::hub {

/// What a client's session has subscribed to; the hub only delivers what is subscribed.
enum class Subscription : std::uint8_t {
  module_inputs = 1 << 0,       ///< devices/{d}/modules/{m}/inputs/#, AMQP inputs link
  methods = 1 << 1,             ///< $iothub/methods/POST/#, AMQP methods link
  desired_properties = 1 << 2,  ///< $iothub/twin/PATCH/properties/desired/#
  c2d = 1 << 3,                 ///< devices/{d}/messages/devicebound/#
};

/// A set of Subscription bits.
class Subscriptions {
 public:
  constexpr Subscriptions() = default;
  constexpr Subscriptions(Subscription s) : bits_(static_cast<std::uint8_t>(s)) {}  // NOLINT
  constexpr bool has(Subscription s) const noexcept {
    return (bits_ & static_cast<std::uint8_t>(s)) != 0;
  }
  constexpr Subscriptions& add(Subscription s) noexcept {
    bits_ |= static_cast<std::uint8_t>(s);
    return *this;
  }
  constexpr Subscriptions& remove(Subscription s) noexcept {
    bits_ &= static_cast<std::uint8_t>(~static_cast<std::uint8_t>(s));
    return *this;
  }
  constexpr std::uint8_t bits() const noexcept { return bits_; }
  friend constexpr bool operator==(Subscriptions, Subscriptions) = default;

 private:
  std::uint8_t bits_ = 0;
};

constexpr Subscriptions operator|(Subscriptions a, Subscription b) noexcept {
  return a.add(b);
}

/// Called exactly once with the outcome of a delivery, from any thread.
using DoneCallback = std::function<void(core::ErrorCode)>;

/// A direct-method request for the client (iot-hub-protocol.md §8).
struct MethodRequest {
  std::string method_name;
  std::string request_id;  ///< the MQTT $rid / AMQP correlation-id the response must carry
  std::string payload;     ///< JSON text; may be empty
};

/// A desired-properties patch for the client (iot-hub-protocol.md §7.1): JSON text that includes
/// "$version", and that version again for the MQTT topic.
struct DesiredPatch {
  std::string json;
  std::int64_t version = 0;
};

class DeviceChannel {
 public:
  virtual ~DeviceChannel() = default;

  /// The executor the hub posts every call below onto. Must stay valid while registered.
  virtual boost::asio::any_io_executor executor() const = 0;

  /// Sends `message` to the client's module input `input` (QoS 1 / AMQP unsettled). `done`:
  /// success once the client acknowledged it (PUBACK, accepted disposition); Errc::queue_full at
  /// once when the bounded outbound queue is full; Errc::disconnected when the connection ends
  /// before the acknowledgement. The message carries SystemProperty::input_name already.
  virtual void deliver_input(core::Message message, std::string input, DoneCallback done) = 0;

  /// Sends a cloud-to-device message (devices/{d}/messages/devicebound/{bag}, QoS 1; AMQP
  /// deviceBound link). `done`: success once the client acknowledged it, Errc::queue_full,
  /// Errc::disconnected as for deliver_input; Errc::not_supported from sessions that cannot carry
  /// C2D (the default, so every DeviceChannel compiles without it).
  virtual void deliver_c2d(core::Message message, DoneCallback done) {
    (void)message;
    done(make_error_code(Errc::not_supported));
  }

  /// Sends a direct-method request. `done`: success once it is queued for sending (IoT Hub sends
  /// method requests at QoS 0; the response arrives through MethodRouter::on_method_response),
  /// Errc::queue_full when refused, Errc::disconnected when closing.
  virtual void deliver_method(MethodRequest request, DoneCallback done) = 0;

  /// Sends a desired-properties patch. Best effort, like IoT Hub: a patch that cannot be queued
  /// is dropped (the client GETs the twin after reconnecting).
  virtual void deliver_desired(DesiredPatch patch) = 0;

  /// Closes the connection with `reason` (a hub::Errc: superseded, revoked, shutting_down).
  /// The session then ends and its DeviceChannels::Registration is destroyed.
  virtual void close(core::ErrorCode reason) = 0;
};

}  // namespace edgehub::hub
