#pragma once

// The AMQP upstream to IoT Hub (or a parent gateway): ONE connection multiplexing every identity
// (iot-hub-protocol.md §11.3, edgehub-reference.md §5.2), over TLS or a WebSocket in TLS, driven
// by amqp_core::ClientConnection on the client's strand.
//
// Per identity: a CBS put-token when it first has something to do (its own token for the
// gateway, edgeHub's `$edgeHub` token on behalf of children, as over MQTT), renewed on the same
// connection `token_renew_before` ahead of expiry; then its links, attached lazily: telemetry
// sender, C2D receiver, the method and twin pairs while its downstream client holds those
// subscriptions. A refused token (status 401) makes its telemetry fail as not authorised, which
// the forwarder does not retry.
//
// Life: the connection opens when any identity needs it and is re-opened with back-off (1 s ->
// 60 s) after a loss while identities still hold subscriptions; what was in flight then fails as
// disconnected (the forwarder resends it). Identities idle for `idle_timeout` have their links
// detached; the connection closes with the last one.
//
// Threading: every member runs on the strand given to create().

// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without it
// clang-format on
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgehub/amqp_core/client_connection.hpp"
#include "edgehub/core/client_id.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/core/message.hpp"
#include "edgehub/hub/device_channel.hpp"
#include "edgehub/net/transport.hpp"
#include "edgehub/upstream/credentials.hpp"
#include "edgehub/upstream/options.hpp"
#include "upstream/link_event.hpp"

namespace edgehub::upstream {

class AmqpLink final : public std::enable_shared_from_this<AmqpLink>,
                       private amqp_core::ClientHandler {
 public:
  /// How a relayed C2D message ended at the device: accepted (completed), released (abandoned:
  /// IoT Hub delivers it again) or rejected.
  using Settle = std::function<void(amqp_core::Disposition)>;
  struct Callbacks {
    std::function<void(const core::ClientId&, LinkEvent)> on_event;
    std::function<void(const core::ClientId&, core::Message, Settle)> on_c2d;
    /// A direct method call; answer with answer_method(id, request, ...).
    std::function<void(const core::ClientId&, std::string method, std::string request,
                       std::string payload)>
        on_method;
    std::function<void(const core::ClientId&, std::string patch)> on_desired;
    /// The identity's credentials now (credentials.hpp); empty: connect_credentials() alone.
    std::function<core::Result<ConnectCredentials>(const core::ClientId&)> credentials = {};
  };

  static std::shared_ptr<AmqpLink> create(const UpstreamOptions& options, const core::Clock& clock,
                                          Strand strand, Callbacks callbacks);
  ~AmqpLink() override;

  /// Telemetry of message.origin; `done` once: success when IoT Hub accepted it.
  void send(core::Message message, hub::DoneCallback done);
  /// The cloud-to-device traffic to hold open for `id` (c2d, methods, desired_properties).
  void set_subscriptions(const core::ClientId& id, hub::Subscriptions subscriptions);
  /// A request on `id`'s twin link pair: `operation` GET, or PATCH with `resource`
  /// /properties/reported and the patch as body (iot-hub-protocol.md §7.3).
  struct TwinRequest {
    std::string operation;
    std::string resource;
    std::string body;
  };
  /// IoT Hub's answer: its `status` annotation and the body (the twin for a GET).
  struct TwinReply {
    int status = 0;
    std::string body;
  };
  using TwinDone = std::function<void(core::Result<TwinReply>)>;
  /// Sends `request` once the identity is authorised; `done` once: IoT Hub's answer, or an error
  /// (refused, connection lost, no answer within 10 s).
  void twin_request(const core::ClientId& id, TwinRequest request, TwinDone done);
  /// Answers the method call `request` that on_method named.
  void answer_method(const core::ClientId& id, const std::string& request, int status,
                     std::string payload);
  /// Opens the connection and authenticates the gateway's own identity (the connectivity probe).
  void ensure_connected();
  /// Closes the connection; what is pending fails with shutting_down. Not used again after.
  void shutdown();
  /// Detaches identities idle for idle_timeout; closes the connection when none is left.
  void sweep();

  bool connected() const noexcept { return state_ == State::open; }
  /// Identities with a put-token accepted on the current connection.
  std::size_t authorised_identities() const;

 private:
  enum class State { idle, connecting, open };
  enum class Auth { none, pending, authorised, refused };
  struct Waiting {
    std::vector<std::byte> encoded;
    hub::DoneCallback done;
  };
  struct WaitingTwin {
    TwinRequest request;
    TwinDone done;
  };
  struct Identity {
    Auth auth = Auth::none;
    std::vector<WaitingTwin> twin_gets;  ///< waiting for the identity to be authorised
    std::uint64_t request = 0;           ///< the put-token awaiting its reply
    hub::Subscriptions wanted;
    hub::Subscriptions held;  ///< subscriptions whose links are attached on this connection
    std::deque<Waiting> waiting;
    core::SystemTime expires_at{};
    core::SteadyTime last_activity{};
    core::SteadyTime refused_at{};
    std::unique_ptr<boost::asio::steady_timer> renewal;
  };

  AmqpLink(const UpstreamOptions& options, const core::Clock& clock, Strand strand,
           Callbacks callbacks);

  core::ClientId gw_id() const;
  Identity& identity(const core::ClientId& id);
  void connect();
  boost::asio::awaitable<void> run(std::uint64_t epoch);
  void on_connection_ended(std::uint64_t epoch, const std::string& why);
  void authenticate(const core::ClientId& id, Identity& who);
  void arm_renewal(const core::ClientId& id, Identity& who);
  void on_authorised(const core::ClientId& id, Identity& who);
  void apply_subscriptions(const core::ClientId& id, Identity& who);
  void fail_waiting(Identity& who, core::ErrorCode ec);
  void transmit(const core::ClientId& id, std::vector<std::byte> encoded, hub::DoneCallback done);
  void retry_later();
  bool needed() const;
  void flush();
  boost::asio::awaitable<void> write_loop(std::uint64_t epoch);
  void arm_tick();

  // Implements amqp_core::ClientHandler (called from inside conn_ calls, on the strand).
  void on_opened() override;
  void on_token_reply(std::uint64_t request, int status, std::string description) override;
  void on_sent(std::uint64_t token, core::ErrorCode outcome, std::string condition) override;
  void on_received(const core::ClientId& id, amqp_core::Node node,
                   amqp_core::ClientDeliveryId delivery,
                   amqp_core::DecodedMessage message) override;
  void on_link_closed(const core::ClientId& id, amqp_core::Node node,
                      std::string condition) override;

  const UpstreamOptions& options_;
  const core::Clock& clock_;
  Strand strand_;
  Callbacks callbacks_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer write_wake_;

  State state_ = State::idle;
  bool stopped_ = false;
  bool closing_ = false;     ///< we closed the connection (no identity left): not a loss
  std::uint64_t epoch_ = 0;  ///< connection attempts; an older one's events are ignored
  std::chrono::seconds retry_delay_{1};
  bool retry_armed_ = false;
  std::shared_ptr<net::Transport> transport_;
  std::unique_ptr<amqp_core::ClientConnection> conn_;
  std::deque<std::vector<std::byte>> outbox_;
  int in_engine_ = 0;  ///< depth of conn_ calls: handler code must not take output mid-call

  std::map<core::ClientId, Identity> identities_;
  std::map<std::uint64_t, core::ClientId> token_requests_;
  std::uint64_t next_token_ = 1;
  struct InFlight {
    core::ClientId id;
    hub::DoneCallback done;
  };
  std::map<std::uint64_t, InFlight> in_flight_;
  std::uint64_t next_method_ = 1;
  struct PendingMethod {
    core::ClientId id;
    amqp_core::ClientDeliveryId delivery = 0;
    std::optional<amqp_core::MessageId> correlation_id;
  };
  std::map<std::string, PendingMethod> methods_;
  struct PendingTwin {
    TwinDone done;
    std::unique_ptr<boost::asio::steady_timer> deadline;
  };
  std::map<std::string, PendingTwin> twin_gets_;  ///< by correlation id
  std::uint64_t next_twin_get_ = 1;
  void send_twin_request(const core::ClientId& id, TwinRequest request, TwinDone done);
  void fail_twin_gets(Identity& who, core::ErrorCode ec);
};

}  // namespace edgehub::upstream
