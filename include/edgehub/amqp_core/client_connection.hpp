#pragma once

// amqp_core::ClientConnection: the gateway's own AMQP 1.0 connection to IoT Hub (or to a parent
// gateway), over Qpid Proton's connection driver (style P1: bytes and time in, bytes and handler
// calls out; no sockets, no clock reads, no threads). It is the client role of what
// ServerConnection serves (iot-hub-protocol.md §3, §11.3): SASL ANONYMOUS, OPEN with the hub's
// host name, one session, one $cbs link pair carrying a put-token per identity, and per identity
// the links IoT Hub's device API names, attached the first time they are used.
//
//   ClientConnection c{options, handler};
//   c.put_token("hub%2Fdevices%2Fd1", token);          // reply: handler.on_token_reply
//   c.send(d1, Node::events, encoded, 7);               // disposition: handler.on_sent(7, ...)
//   c.receive(d1, Node::c2d);                           // messages: handler.on_received
//   write(c.output()); c.output_done(n); c.on_input(bytes); timer.expires_at(c.tick(now));
//
// Method and twin links come in pairs sharing a com.microsoft:channel-correlation-id; send() and
// receive() of those nodes attach both. Thread safety: none; one thread at a time. The handler is
// called synchronously from on_input(), tick() and the methods below.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgehub/amqp_core/address.hpp"
#include "edgehub/amqp_core/message_codec.hpp"
#include "edgehub/core/client_id.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"

namespace edgehub::amqp_core {

struct ClientOptions {
  std::string container_id = "edgehubd";
  std::string hostname;  ///< OPEN hostname: the IoT hub's name (iot-hub-protocol.md §11.3)
  /// Advertised to the peer (edgeHub upstream: 60 s with server heartbeats).
  std::chrono::milliseconds idle_timeout{60000};
  std::string client_version;                ///< com.microsoft:client-version of every link
  std::uint32_t receive_credit = 10;         ///< per receiving link (C2D, methods, twin)
  std::size_t max_outbound_per_link = 1000;  ///< messages waiting for credit on one link
  std::uint32_t max_message_bytes = 1024 * 1024;
};

/// Refers to one received delivery awaiting settle(); stale ids are ignored.
using ClientDeliveryId = std::uint64_t;

enum class Disposition { accepted, rejected, released };

class ClientHandler {
 public:
  virtual ~ClientHandler() = default;
  /// The peer's OPEN arrived: the connection is up.
  virtual void on_opened() = 0;
  /// The $cbs reply to put_token() `request`: 200 or 202 authorise the audience's identity.
  virtual void on_token_reply(std::uint64_t request, int status, std::string description) = 0;
  /// The peer settled a message sent with a non-zero token: success when accepted, else
  /// Errc::not_accepted and the rejection's condition ("" for released / modified / a link
  /// that closed first).
  virtual void on_sent(std::uint64_t token, core::ErrorCode outcome, std::string condition) = 0;
  /// A message on the receiving link of (`id`, `node`); answer with settle(delivery, ...).
  virtual void on_received(const core::ClientId& id, Node node, ClientDeliveryId delivery,
                           DecodedMessage message) = 0;
  /// The peer closed or refused a link of (`id`, `node`), with its condition.
  virtual void on_link_closed(const core::ClientId& id, Node node, std::string condition) = 0;
};

class ClientConnection {
 public:
  /// Throws std::bad_alloc only. `handler` must outlive the connection.
  ClientConnection(ClientOptions options, ClientHandler& handler);
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  void on_input(std::span<const std::byte> bytes);
  void on_input_closed();
  /// Bytes to send now (valid until the next call of any member).
  std::span<const std::byte> output();
  void output_done(std::size_t n);
  void on_output_closed();
  /// Idle timeout and heartbeats; when to call again (nullopt: no timer).
  std::optional<core::SteadyTime> tick(core::SteadyTime now);

  bool opened() const;
  bool finished() const;
  /// The transport error or the peer's close condition ("" when none).
  std::string error_text() const;

  /// Sends a CBS put-token for `audience` (URL-encoded, as in the token's sr) with the SAS
  /// `token` and, when not empty, the `auth-chain` of a nested identity ("leaf;child;gw");
  /// returns the request number on_token_reply will name.
  std::uint64_t put_token(std::string_view audience, std::string_view token,
                          std::string_view auth_chain = {});
  /// Sends on the link of (`id`, `node`) towards the peer: events (telemetry), methods
  /// (responses) or twin (requests). A non-zero `token` sends unsettled and reports the
  /// outcome through on_sent; 0 sends pre-settled. Errc::outbound_full when the link's queue
  /// is full, Errc::unknown_address for a node that has no sending link.
  core::Result<void> send(const core::ClientId& id, Node node, std::vector<std::byte> encoded,
                          std::uint64_t token);
  /// Holds the receiving link of (`id`, `node`) open: c2d, methods or twin.
  void receive(const core::ClientId& id, Node node);
  /// Detaches the receiving link of (`id`, `node`) (and its sending partner for methods/twin).
  void stop_receiving(const core::ClientId& id, Node node);
  /// Detaches every link of `id`; what it had unsettled is reported as not accepted.
  void close_identity(const core::ClientId& id);
  void settle(ClientDeliveryId delivery, Disposition disposition);
  /// Closes the connection (CLOSE without error).
  void close();

  /// Links open now, for tests and metrics.
  std::size_t link_count() const;
  /// Messages sent unsettled and not yet settled by the peer, all links.
  std::size_t unsettled() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The address of `node` for `id` as a client names it: /devices/{d}[/modules/{m}]/... with ids
/// percent-encoded where a path needs it.
std::string client_link_address(const core::ClientId& id, Node node);

}  // namespace edgehub::amqp_core
