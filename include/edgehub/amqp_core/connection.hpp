#pragma once

// amqp_core::ServerConnection: one downstream AMQP 1.0 connection as IoT Hub serves it, over
// Qpid Proton's connection driver (style P1: bytes and time in, bytes and handler calls out; no
// sockets, no clock reads, no threads). It owns the SASL server (PLAIN / MSSBCBS / ANONYMOUS /
// EXTERNAL, our own plugin per connection), the $cbs node, link authorisation per identity, flow
// control and dispositions. What a message means for the gateway is the handler's business.
//
//   ServerConnection c{options, handler};
//   c.on_input(bytes);                       // may call the handler
//   write(c.output()); c.output_done(n);     // until output() is empty
//   timer.expires_at(c.tick(now));           // idle timeout and heartbeats
//   ... c.settle(delivery, {});              // later: accepted, after the store committed
//
// One connection carries many identities (iot-hub-protocol.md §3.2): each CBS put-token that
// authenticates makes its identity usable on this connection until the token expires; PLAIN and
// EXTERNAL authenticate one identity (or, EXTERNAL, any identity the certificate is valid for).
// A link for identity X attaches only when X is authorised; otherwise it is refused with
// amqp:unauthorized-access and handler.count("unauthorized_link").
//
// Thread safety: none; one thread at a time (the session's executor). The handler is called
// synchronously from on_input(), tick() and the methods below; it must not destroy the
// connection from inside a call.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "edgehub/amqp_core/address.hpp"
#include "edgehub/amqp_core/message_codec.hpp"
#include "edgehub/core/client_id.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/core/message.hpp"
#include "edgehub/core/result.hpp"

namespace edgehub::amqp_core {

struct ConnectionOptions {
  std::string container_id = "edgehubd";
  /// Closes a silent peer after this long; half of it is advertised (edgeHub: 240 s).
  std::chrono::milliseconds idle_timeout{240000};
  std::uint32_t max_message_bytes = 256 * 1024;
  /// Credit of every receiving link: at most this many of its messages are in flight (received
  /// but not yet settled or answered), which ties a sender to the store's pace.
  std::uint32_t link_credit = 64;
  /// Telemetry messages in flight on the whole connection, all its links together: credit is
  /// shared out round-robin, so a connection multiplexing many identities is bounded too.
  std::uint32_t connection_credit = 64;
  std::size_t max_outbound_per_link = 1000;  ///< messages queued towards one client link
  std::size_t max_links = 4096;              ///< links open at once on one connection
  bool client_certificate = false;           ///< the TLS peer presented one: offer EXTERNAL
};

/// Refers to one received delivery awaiting settle(); stale ids are ignored.
using DeliveryId = std::uint64_t;

/// A twin request (iot-hub-protocol.md §7.3) and where its answer goes.
struct TwinRequest {
  core::ClientId id;
  std::string operation;  ///< GET, PATCH, PUT, DELETE (as sent)
  std::string resource;   ///< e.g. /properties/reported
  std::optional<MessageId> correlation_id;
  std::string body;
  std::uint64_t reply_link = 0;  ///< the twin link pair the request came on (0: any)
};

/// What the connection needs from the gateway. Called synchronously; see the class comment.
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  /// Checks a SAS token (PLAIN password or CBS put-token) for `id`; the token's expiry.
  virtual core::Result<core::SystemTime> authenticate_token(const core::ClientId& id,
                                                            std::string_view token) = 0;
  /// Checks the connection's TLS client certificate for `id`; the certificate's notAfter.
  virtual core::Result<core::SystemTime> authenticate_certificate(const core::ClientId& id) = 0;
  /// `id` became usable on this connection (first authorisation or renewal).
  virtual void on_authorised(const core::ClientId& id, core::SystemTime expires_at) = 0;
  /// `id` is no longer usable (token expired, closed by the gateway); its links are closed.
  virtual void on_deauthorised(const core::ClientId& id) = 0;
  /// The first link of `node` for `id` opened (active) or its last one closed (!active).
  /// Nodes: events/inputs (module inputs), c2d, methods, twin (desired-property updates).
  virtual void on_subscription(const core::ClientId& id, Node node, bool active) = 0;
  /// A telemetry message of `message.origin`; answer with settle(delivery, ...).
  virtual void on_telemetry(DeliveryId delivery, core::Message message) = 0;
  /// A twin request; answer with send_twin_reply().
  virtual void on_twin_request(TwinRequest request) = 0;
  virtual void on_method_response(const core::ClientId& id, std::string request_id, int status,
                                  std::string payload) = 0;
  /// The client settled a message sent with send() and a non-zero token: success for accepted,
  /// an error for rejected / released / modified or a link that closed first.
  virtual void on_outbound_settled(std::uint64_t token, core::ErrorCode outcome) = 0;
  /// A refusal or protocol fault, for the metrics (`reason` is a fixed label).
  virtual void count(std::string_view reason) = 0;
};

class ServerConnection {
 public:
  /// Throws std::bad_alloc only. `handler` must outlive the connection.
  ServerConnection(ConnectionOptions options, ConnectionHandler& handler);
  ~ServerConnection();
  ServerConnection(const ServerConnection&) = delete;
  ServerConnection& operator=(const ServerConnection&) = delete;

  /// Feeds received bytes (any split) and processes what they complete.
  void on_input(std::span<const std::byte> bytes);
  /// The peer closed its side.
  void on_input_closed();
  /// Bytes to send now (valid until the next call of any member).
  std::span<const std::byte> output();
  void output_done(std::size_t n);
  /// The transport can no longer send.
  void on_output_closed();
  /// Runs the idle-timeout and heartbeat logic; returns when to call again (nullopt: no timer).
  std::optional<core::SteadyTime> tick(core::SteadyTime now);
  /// Closes the links of identities whose authorisation ended before `now`; returns the next
  /// expiry (nullopt: none). Call from a timer armed at that time.
  std::optional<core::SystemTime> expire(core::SystemTime now);

  /// Both directions are done; the transport may be closed.
  bool finished() const;
  /// Nothing more will be written (a close frame, if any, is in output() or sent).
  bool output_closed() const;
  /// The peer sent OPEN (the connect deadline no longer applies).
  bool opened() const;
  /// The transport error or peer's close condition, for the log ("" when none).
  std::string error_text() const;

  /// Settles a telemetry delivery: accepted when `outcome` is success, else rejected with
  /// condition_name(outcome) (or the mapping of the session, via `condition`).
  void settle(DeliveryId delivery, core::ErrorCode outcome, std::string_view condition = {},
              std::string_view description = {});
  /// Sends to the client's link of (`id`, `node`): module inputs (events/inputs), c2d, methods,
  /// twin. A non-zero `token` sends unsettled and reports the client's disposition through
  /// on_outbound_settled; 0 sends pre-settled. Errors: Errc::no_link, Errc::outbound_full.
  core::Result<void> send(const core::ClientId& id, Node node, std::vector<std::byte> encoded,
                          std::uint64_t token);
  /// Answers a twin request on the link pair it came from.
  core::Result<void> send_twin_reply(const TwinRequest& request, std::vector<std::byte> encoded);
  /// Closes every link of `id` with `reason` and forgets its authorisation.
  void close_identity(const core::ClientId& id, core::ErrorCode reason);
  /// Closes the connection with `reason` (condition_name) and a description.
  void close(core::ErrorCode reason, std::string_view description);

  /// Received telemetry deliveries not yet settled.
  std::size_t unsettled() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgehub::amqp_core
