#pragma once

// One identity's MQTT connection to IoT Hub, over Eclipse Paho MQTT C++ (async_client).
//
// Threading: every member except shutdown() runs on the client's strand. Paho calls back on its
// own threads; those callbacks only post onto the strand (holding a weak reference), so the link's
// state needs no lock and no Paho thread ever waits for the gateway.
//
// Life: publishes queue while the connection is being opened and go out in order once it is up
// (each connection gets a fresh Paho client, so nothing of an older one is sent on a newer one);
// every outcome reaches its DoneCallback exactly once. The connection is re-opened with a fresh
// token shortly before the token expires (after the publishes in flight are acknowledged), and
// re-opened with back-off after a loss while the identity still has subscriptions to keep.

#include <mqtt/async_client.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "edgehub/core/client_id.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/hub/device_channel.hpp"
#include "edgehub/upstream/credentials.hpp"
#include "edgehub/upstream/options.hpp"
#include "upstream/link_event.hpp"

namespace edgehub::upstream {

class MqttLink final : public std::enable_shared_from_this<MqttLink>,
                       private ::mqtt::iaction_listener {
 public:
  struct Callbacks {
    std::function<void(const core::ClientId&, LinkEvent)> on_event;
    std::function<void(const core::ClientId&, std::string topic, std::string payload)> on_message;
    /// The identity's credentials now (credentials.hpp); empty: connect_credentials() alone.
    std::function<core::Result<ConnectCredentials>(const core::ClientId&)> credentials = {};
  };

  /// Never fails: a link whose Paho client cannot be created refuses every publish.
  static std::shared_ptr<MqttLink> create(core::ClientId id, const UpstreamOptions& options,
                                          const core::Clock& clock, Strand strand,
                                          Callbacks callbacks);
  ~MqttLink() override;

  /// QoS 1: `done` on PUBACK. QoS 0: `done` (may be empty) once Paho took it.
  void publish(std::string topic, std::vector<std::byte> payload, int qos, hub::DoneCallback done);
  /// The filters to hold (QoS 1 for C2D, 0 for the $iothub ones); re-subscribed on every
  /// connect. Opens the connection when there are any.
  void set_filters(std::vector<std::string> filters);
  /// Opens the connection if it is not open or opening (the connectivity probe).
  void ensure_connected();
  /// Disconnects; what is pending fails with `reason`. The link may be used again.
  void close(core::ErrorCode reason);
  /// Blocking, bounded: disconnects and destroys the Paho client. For the client's stop().
  void shutdown();

  /// Nothing queued, in flight or subscribed, and no traffic for `idle`.
  bool idle_for(std::chrono::seconds idle) const;
  bool has_filters() const noexcept { return !filters_.empty(); }
  bool quiet() const noexcept { return waiting_.empty() && inflight_ == 0; }
  bool connected() const noexcept { return state_ == State::connected; }
  /// Not connected, nor connecting or disconnecting: Paho no longer works for this link.
  bool closed() const noexcept { return state_ == State::idle; }
  std::size_t pending() const noexcept { return waiting_.size() + inflight_; }
  const core::ClientId& id() const noexcept { return id_; }

 private:
  enum class State { idle, connecting, connected, disconnecting };
  enum class OpKind { connect, publish, subscribe, disconnect };
  struct Op {
    OpKind kind;
    std::uint64_t epoch = 0;
    hub::DoneCallback done;
    bool counted = false;  ///< a QoS 1 publish, counted in inflight_
  };
  struct Waiting {
    std::string topic;
    std::vector<std::byte> payload;
    int qos = 1;
    hub::DoneCallback done;
  };

  MqttLink(core::ClientId id, const UpstreamOptions& options, const core::Clock& clock,
           Strand strand, Callbacks callbacks);

  void make_client();
  void connect();
  void on_op(std::uint64_t op, bool ok, int rc);
  void on_connected();
  void on_connect_failed(int rc);
  void on_lost();
  void flush();
  void subscribe_all();
  void fail_all(core::ErrorCode ec);
  void arm_renewal(core::SystemTime expires_at);
  void renew_if_quiet();
  void retry_later();
  std::uint64_t add_op(OpKind kind, hub::DoneCallback done = {});
  void touch();

  // Implements ::mqtt::iaction_listener (Paho's threads).
  void on_success(const ::mqtt::token& tok) override;
  void on_failure(const ::mqtt::token& tok) override;

  core::ClientId id_;
  const UpstreamOptions& options_;
  const core::Clock& clock_;
  Strand strand_;
  Callbacks callbacks_;
  boost::asio::steady_timer renewal_timer_;
  boost::asio::steady_timer retry_timer_;
  std::weak_ptr<MqttLink> weak_self_;  ///< set once after construction, read by Paho's threads

  State state_ = State::idle;
  std::uint64_t epoch_ = 0;  ///< connection attempts; results of older ones are ignored
  bool renewing_ = false;
  bool retry_armed_ = false;
  bool used_ = false;  ///< the Paho client has had a connection attempt
  std::chrono::seconds retry_delay_{1};
  std::uint64_t next_op_ = 1;
  std::map<std::uint64_t, Op> ops_;
  std::size_t inflight_ = 0;  ///< publish ops handed to Paho and not finished
  std::deque<Waiting> waiting_;
  std::vector<std::string> filters_;
  core::SteadyTime last_activity_;

  // Last: destroyed first, so Paho stops calling back before the rest goes.
  std::unique_ptr<::mqtt::async_client> client_;
};

}  // namespace edgehub::upstream
