#pragma once

// One identity's MQTT 3.1.1 connection to IoT Hub (or a parent gateway), spoken natively: the
// transport from net::connect_client (TLS, or a WebSocket inside TLS, optionally through an HTTP
// proxy) and the project's own codec (mqtt_proto). No library threads: Paho MQTT C++ cost more
// CPU per message than mosquitto's whole path (docs/upstream.md, docs/performance.md).
//
// Threading: every member runs on the client's strand (shutdown() too, or once the executor no
// longer runs). Per connection one coroutine reads and one writes; the writer encodes everything
// queued when it wakes (publishes, PUBACKs, SUBSCRIBEs, PINGREQ) into one buffer and writes it
// with one Transport::write, so a burst costs one TLS record and one syscall, not one per message.
//
// Life: publishes queue while the connection is being opened and go out in order once CONNACK
// arrives; each connection starts from an empty outbox, so nothing of an older one is sent on a
// newer one; every outcome reaches its DoneCallback exactly once. The connection is re-opened with
// a fresh token shortly before the token expires (after the publishes in flight are
// acknowledged), and re-opened with back-off after a loss while the identity still has
// subscriptions to keep. Keep-alive: PINGREQ after `keep_alive` without sending; the connection is
// lost when nothing arrives for 1.5 x keep_alive. A malformed packet from the server closes the
// connection (logged, and reported through on_protocol_error).

// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without it
// clang-format on
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "edgehub/core/client_id.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/hub/device_channel.hpp"
#include "edgehub/mqtt_proto/packets.hpp"
#include "edgehub/net/transport.hpp"
#include "edgehub/upstream/credentials.hpp"
#include "edgehub/upstream/options.hpp"
#include "upstream/link_event.hpp"

namespace edgehub::upstream {

class MqttLink final : public std::enable_shared_from_this<MqttLink> {
 public:
  struct Callbacks {
    std::function<void(const core::ClientId&, LinkEvent)> on_event;
    std::function<void(const core::ClientId&, std::string topic, std::string payload)> on_message;
    /// The identity's credentials now (credentials.hpp); empty: connect_credentials() alone.
    std::function<core::Result<ConnectCredentials>(const core::ClientId&)> credentials = {};
    /// The server broke MQTT (a malformed or unexpected packet): the connection is closed.
    std::function<void(const core::ClientId&, std::string_view why)> on_protocol_error = {};
  };

  static std::shared_ptr<MqttLink> create(core::ClientId id, const UpstreamOptions& options,
                                          const core::Clock& clock, Strand strand,
                                          Callbacks callbacks);
  ~MqttLink();

  /// QoS 1: `done` on PUBACK. QoS 0: `done` (may be empty) once handed to the connection.
  void publish(std::string topic, std::vector<std::byte> payload, int qos, hub::DoneCallback done);
  /// The filters to hold (QoS 1 for C2D, 0 for the $iothub ones); re-subscribed on every
  /// connect. Opens the connection when there are any.
  void set_filters(std::vector<std::string> filters);
  /// Opens the connection if it is not open or opening (the connectivity probe).
  void ensure_connected();
  /// Disconnects; what is pending fails with `reason`. The link may be used again.
  void close(core::ErrorCode reason);
  /// Immediate and final: what is pending fails with shutting_down and the connection is closed
  /// without waiting. For the client's stop(), which may run after the executor stopped.
  void shutdown();

  /// Nothing queued, in flight or subscribed, and no traffic for `idle`.
  bool idle_for(std::chrono::seconds idle) const;
  bool has_filters() const noexcept { return !filters_.empty(); }
  bool quiet() const noexcept { return waiting_.empty() && inflight_.empty(); }
  bool connected() const noexcept { return state_ == State::connected; }
  /// Not connected, nor connecting or disconnecting.
  bool closed() const noexcept { return state_ == State::idle; }
  std::size_t pending() const noexcept { return waiting_.size() + inflight_.size(); }
  const core::ClientId& id() const noexcept { return id_; }

 private:
  enum class State { idle, connecting, connected, disconnecting };
  struct Waiting {
    std::string topic;
    std::vector<std::byte> payload;
    int qos = 1;
    hub::DoneCallback done;
  };

  MqttLink(core::ClientId id, const UpstreamOptions& options, const core::Clock& clock,
           Strand strand, Callbacks callbacks);

  void connect();
  boost::asio::awaitable<void> run(std::uint64_t epoch, ConnectCredentials credentials);
  boost::asio::awaitable<void> write_loop(std::uint64_t epoch,
                                          std::shared_ptr<net::Transport> transport);
  /// Handles one packet from the server; non-empty: why the connection must end (a CONNACK
  /// refusal also sets `connack_rc`).
  std::string on_packet(mqtt_proto::Packet&& packet, int& connack_rc);
  void on_connected();
  void on_puback(std::uint16_t packet_id);
  void on_suback(const mqtt_proto::Suback& suback);
  void on_server_publish(mqtt_proto::Publish&& publish);
  /// Logs and reports a broken rule; returns `why`.
  std::string protocol_error(std::string why);
  void on_connection_ended(std::uint64_t epoch, const std::string& why, int connack_rc);
  /// Closes the connection's transport and drops what was queued for it; the epoch has moved on.
  void drop_connection();
  void queue(const mqtt_proto::Packet& packet);
  void encode_waiting(std::vector<std::byte>& out);
  std::uint16_t next_packet_id();
  void subscribe_all();
  void fail_all(core::ErrorCode ec);
  void arm_renewal(core::SystemTime expires_at);
  void renew_if_quiet();
  void disconnect();
  void retry_later();
  void arm_keep_alive();
  void on_keep_alive();
  void wake_writer();
  void touch();

  core::ClientId id_;
  const UpstreamOptions& options_;
  const core::Clock& clock_;
  Strand strand_;
  Callbacks callbacks_;
  boost::asio::steady_timer renewal_timer_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer keep_alive_timer_;  ///< CONNACK deadline, PINGREQ, loss detection
  boost::asio::steady_timer write_wake_;

  State state_ = State::idle;
  bool stopped_ = false;
  std::uint64_t epoch_ = 0;  ///< connection attempts; an older one's events are ignored
  bool renewing_ = false;
  bool retry_armed_ = false;
  std::chrono::seconds retry_delay_{1};
  std::shared_ptr<net::Transport> transport_;
  core::SteadyTime connect_deadline_{};
  core::SteadyTime last_sent_{};
  core::SteadyTime last_received_{};
  bool ping_outstanding_ = false;

  std::deque<Waiting> waiting_;
  std::vector<std::byte> outbox_;  ///< control packets encoded, not yet taken by the writer
  std::unordered_map<std::uint16_t, hub::DoneCallback> inflight_;  ///< QoS 1 publishes by id
  std::unordered_map<std::uint16_t, std::vector<std::string>> subscribing_;  ///< SUBSCRIBE ids
  std::uint16_t last_packet_id_ = 0;
  std::vector<std::string> filters_;
  core::SteadyTime last_activity_;
};

}  // namespace edgehub::upstream
