#include "edgehub/amqp/session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>

#include "edgehub/amqp_core/connection.hpp"
#include "edgehub/amqp_core/errors.hpp"
#include "edgehub/amqp_core/message_codec.hpp"
#include "edgehub/hub/errors.hpp"
#include "edgehub/ops/logging.hpp"

namespace edgehub::amqp {

namespace asio = boost::asio;
using amqp_core::Node;
using core::ErrorCode;

SessionStats::SessionStats(ops::Registry& r)
    : connections(r.counter("edgehubd_amqp_connections_total",
                            "AMQP connections by protocol and outcome", {"protocol", "result"})),
      refused(r.counter("edgehubd_amqp_refused_total", "AMQP requests, links and messages refused",
                        {"protocol", "reason"})),
      identities(r.counter("edgehubd_amqp_identity_auth_total",
                           "Identities authorised on AMQP connections (CBS, PLAIN, X.509)",
                           {"protocol", "result"})),
      bytes_in(
          r.counter("edgehubd_bytes_received_total", "Bytes received from devices", {"protocol"})),
      bytes_out(r.counter("edgehubd_bytes_sent_total", "Bytes sent to devices", {"protocol"})),
      open(r.gauge("edgehubd_amqp_connections", "Open AMQP connections", {"protocol"})) {}

namespace {

// A slow consumer may hold this much unsent data before the connection is closed for it.
constexpr std::size_t kMaxOutboxBytes = 4 * 1024 * 1024;
// After our close frame, how long the peer gets to close its side before the socket is closed.
constexpr std::chrono::seconds kDrainTimeout{2};

std::string_view protocol_label(const net::PeerInfo& p) {
  return p.kind == net::TransportKind::websocket ? "amqpws" : "amqp";
}

// The one hub error -> AMQP disposition mapping (docs/amqp.md).
std::string_view condition_for(const ErrorCode& ec) {
  if (ec == hub::Errc::message_too_large) return "amqp:link:message-size-exceeded";
  // edgeHub reports a full store as throttling, which the SDKs retry (edgehub-reference §1.4).
  if (ec == hub::Errc::store_refused) return "com.microsoft:device-container-throttled";
  if (ec.category() == amqp_core::amqp_category()) return amqp_core::condition_name(ec);
  return "amqp:internal-error";
}

class Session;

// The hub's handle on one identity of this connection. Calls arrive posted onto the executor.
class Channel final : public hub::DeviceChannel {
 public:
  Channel(std::weak_ptr<Session> session, core::ClientId id, asio::any_io_executor ex)
      : session_(std::move(session)), id_(std::move(id)), executor_(std::move(ex)) {}
  asio::any_io_executor executor() const override { return executor_; }
  void deliver_input(core::Message message, std::string input, hub::DoneCallback done) override;
  void deliver_c2d(core::Message message, hub::DoneCallback done) override;
  void deliver_method(hub::MethodRequest request, hub::DoneCallback done) override;
  void deliver_desired(hub::DesiredPatch patch) override;
  void close(ErrorCode reason) override;

 private:
  std::weak_ptr<Session> session_;
  core::ClientId id_;
  asio::any_io_executor executor_;
};

class Session : public std::enable_shared_from_this<Session>, public amqp_core::ConnectionHandler {
 public:
  Session(std::unique_ptr<net::Transport> transport, SessionContext& ctx)
      : ctx_(ctx),
        transport_(std::move(transport)),
        executor_(transport_->get_executor()),
        protocol_(protocol_label(transport_->peer())),
        remote_(transport_->peer().remote_address),
        conn_(options_from(*ctx.limits, transport_->peer()), *this),
        tick_timer_(executor_),
        expiry_timer_(executor_),
        connect_timer_(executor_),
        drain_timer_(executor_),
        write_wake_(executor_) {
    write_wake_.expires_at(asio::steady_timer::time_point::max());
  }

  asio::awaitable<void> run();

  // Called by Channel on this executor.
  void deliver_input(const core::ClientId& id, core::Message message, std::string input,
                     hub::DoneCallback done);
  void deliver_c2d(const core::ClientId& id, core::Message message, hub::DoneCallback done);
  void deliver_method(const core::ClientId& id, hub::MethodRequest request, hub::DoneCallback done);
  void deliver_desired(const core::ClientId& id, hub::DesiredPatch patch);
  void close_from_hub(const core::ClientId& id, ErrorCode reason);
  /// Sends on the client's link of (`id`, `node`); the client's disposition completes `done`.
  void send_unsettled(const core::ClientId& id, Node node, std::vector<std::byte> encoded,
                      hub::DoneCallback done);

  // Implements edgehub::amqp_core::ConnectionHandler
  core::Result<core::SystemTime> authenticate_token(const core::ClientId& id,
                                                    std::string_view token) override;
  core::Result<core::SystemTime> authenticate_certificate(const core::ClientId& id) override;
  void on_authorised(const core::ClientId& id, core::SystemTime expires_at) override;
  void on_deauthorised(const core::ClientId& id) override;
  void on_subscription(const core::ClientId& id, Node node, bool active) override;
  void on_telemetry(amqp_core::DeliveryId delivery, core::Message message) override;
  void on_twin_request(amqp_core::TwinRequest request) override;
  void on_method_response(const core::ClientId& id, std::string request_id, int status,
                          std::string payload) override;
  void on_outbound_settled(std::uint64_t token, ErrorCode outcome) override;
  void count(std::string_view reason) override;

 private:
  static amqp_core::ConnectionOptions options_from(const config::LimitsConfig& l,
                                                   const net::PeerInfo& peer) {
    amqp_core::ConnectionOptions o;
    o.max_message_bytes = l.max_message_bytes;
    o.link_credit = std::clamp<std::uint32_t>(l.max_inflight_per_connection, 1, 1000);
    o.connection_credit = o.link_credit;
    o.max_outbound_per_link = std::max<std::uint32_t>(1, l.max_outbound_queue);
    o.client_certificate = !peer.client_cert_chain_der.empty();
    return o;
  }

  ops::LogFields fields(const core::ClientId* id = nullptr) const {
    return {.device_id = id ? std::string_view(id->device) : std::string_view{},
            .module_id = id ? std::string_view(id->module) : std::string_view{},
            .remote_addr = remote_,
            .protocol = protocol_};
  }

  void flush();
  /// Runs `f` (which calls the engine) and then flushes once; handler calls made from inside
  /// the engine do not flush on their own (no output is taken while Proton dispatches).
  template <typename F>
  auto engine(F&& f) {
    FlushAfter after{*this, in_flush_};
    in_flush_ = true;
    return f();
  }
  struct FlushAfter {
    Session& session;
    bool outer;
    ~FlushAfter() {
      session.in_flush_ = outer;
      if (!outer) session.flush();
    }
  };
  void arm_tick(std::optional<core::SteadyTime> deadline);
  void arm_expiry(std::optional<core::SystemTime> at);
  void send_twin_reply(const amqp_core::TwinRequest& request, int status, std::string body,
                       std::optional<std::int64_t> version);
  void fail_pending(ErrorCode reason);
  asio::awaitable<void> write_loop();

  SessionContext& ctx_;
  std::unique_ptr<net::Transport> transport_;
  asio::any_io_executor executor_;
  std::string protocol_;
  std::string remote_;
  amqp_core::ServerConnection conn_;
  asio::steady_timer tick_timer_;
  asio::steady_timer expiry_timer_;
  asio::steady_timer connect_timer_;
  asio::steady_timer drain_timer_;
  asio::steady_timer write_wake_;  ///< cancelled to wake the write loop

  struct Identity {
    std::shared_ptr<Channel> channel;
    hub::DeviceChannels::Registration registration;
  };
  std::map<core::ClientId, Identity> identities_;
  std::map<std::uint64_t, hub::DoneCallback> pending_done_;  ///< module inputs awaiting settlement
  std::uint64_t next_token_ = 1;
  std::optional<core::SystemTime> expiry_armed_;

  std::deque<std::vector<std::byte>> outbox_;
  std::size_t outbox_bytes_ = 0;
  bool closing_ = false;
  bool ended_ = false;
  bool closed_and_counted_ = false;  ///< we closed the socket and counted why
  bool in_flush_ = false;
};

void Channel::deliver_input(core::Message message, std::string input, hub::DoneCallback done) {
  if (auto s = session_.lock())
    return s->deliver_input(id_, std::move(message), std::move(input), std::move(done));
  done(hub::Errc::disconnected);
}
void Channel::deliver_c2d(core::Message message, hub::DoneCallback done) {
  if (auto s = session_.lock()) return s->deliver_c2d(id_, std::move(message), std::move(done));
  done(hub::Errc::disconnected);
}
void Channel::deliver_method(hub::MethodRequest request, hub::DoneCallback done) {
  if (auto s = session_.lock()) return s->deliver_method(id_, std::move(request), std::move(done));
  done(hub::Errc::disconnected);
}
void Channel::deliver_desired(hub::DesiredPatch patch) {
  if (auto s = session_.lock()) s->deliver_desired(id_, std::move(patch));
}
void Channel::close(ErrorCode reason) {
  if (auto s = session_.lock()) s->close_from_hub(id_, reason);
}

asio::awaitable<void> Session::run() {
  auto self = shared_from_this();
  auto& open = ctx_.stats->open.with({protocol_});
  open.inc();
  asio::co_spawn(executor_, write_loop(), asio::detached);
  connect_timer_.expires_after(ctx_.limits->connect_timeout);
  connect_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto s = weak.lock();
    if (!s || ec || s->conn_.opened() || s->ended_) return;
    // A connection refused for malformed input before its OPEN is already counted and only
    // waits for its peer to read the last frame: it ends here without a second count.
    if (!s->conn_.output_closed()) {
      s->count("connect_timeout");
      s->closed_and_counted_ = true;
      ops::log(spdlog::level::info, s->fields(), "AMQP connection closed: no OPEN in time");
    }
    s->transport_->close();
  });
  flush();

  auto& bytes_in = ctx_.stats->bytes_in.with({protocol_});
  while (!ended_) {
    // No read buffer of its own: an idle connection holds none (net::Transport::read_available).
    const auto bytes = co_await transport_->read_available();
    if (!bytes) {
      // Proton would count a socket we closed ourselves as the peer's abort.
      if (!closed_and_counted_) engine([&] { conn_.on_input_closed(); });
      break;
    }
    bytes_in.inc(bytes->size());
    engine([&] { conn_.on_input(*bytes); });
  }
  ended_ = true;
  const auto why = conn_.error_text();
  ctx_.stats->connections.with({protocol_, conn_.opened() ? "closed" : "never_opened"}).inc();
  ops::log(why.empty() ? spdlog::level::debug : spdlog::level::info, fields(),
           "AMQP connection ended{}{}", why.empty() ? "" : ": ", why);
  fail_pending(hub::Errc::disconnected);
  identities_.clear();
  tick_timer_.cancel();
  expiry_timer_.cancel();
  connect_timer_.cancel();
  drain_timer_.cancel();
  write_wake_.cancel();
  open.dec();
}

void Session::flush() {
  // Handler calls arrive from inside engine calls, whose callers flush when they return.
  if (in_flush_) return;
  in_flush_ = true;
  for (;;) {
    const auto out = conn_.output();
    if (out.empty()) break;
    outbox_bytes_ += out.size();
    outbox_.emplace_back(out.begin(), out.end());
    conn_.output_done(out.size());
  }
  if (outbox_bytes_ > kMaxOutboxBytes && !closing_) {
    count("slow_consumer");
    closed_and_counted_ = true;
    ops::log(spdlog::level::warn, fields(),
             "closing an AMQP connection that does not read ({} bytes queued)", outbox_bytes_);
    closing_ = true;
    in_flush_ = false;
    transport_->close();
    return;
  }
  if (!ended_) arm_tick(conn_.tick(ctx_.clock->steady_now()));
  // tick() may have produced heartbeats or a close frame.
  for (;;) {
    const auto out = conn_.output();
    if (out.empty()) break;
    outbox_bytes_ += out.size();
    outbox_.emplace_back(out.begin(), out.end());
    conn_.output_done(out.size());
  }
  in_flush_ = false;
  write_wake_.cancel();
}

void Session::arm_tick(std::optional<core::SteadyTime> deadline) {
  if (!deadline) return;
  if (tick_timer_.expiry() == *deadline) return;
  tick_timer_.expires_at(*deadline);
  tick_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (auto s = weak.lock(); s && !ec && !s->ended_) s->flush();
  });
}

void Session::arm_expiry(std::optional<core::SystemTime> at) {
  if (!at) {
    expiry_armed_.reset();
    expiry_timer_.cancel();
    return;
  }
  if (expiry_armed_ && *expiry_armed_ <= *at) return;
  expiry_armed_ = at;
  const auto left = *at - ctx_.clock->now();
  expiry_timer_.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(left));
  expiry_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto s = weak.lock();
    if (!s || ec || s->ended_) return;
    s->expiry_armed_.reset();
    s->arm_expiry(s->engine([&] { return s->conn_.expire(s->ctx_.clock->now()); }));
  });
}

core::Result<core::SystemTime> Session::authenticate_token(const core::ClientId& id,
                                                           std::string_view token) {
  auto auth = ctx_.authenticator->authenticate(id, identity::SasCredential{std::string(token)});
  if (!auth) {
    ctx_.stats->identities.with({protocol_, "refused"}).inc();
    ops::log(spdlog::level::info, fields(&id), "AMQP token for {} refused: {}", id.to_string(),
             auth.error().message());
    return auth.error();
  }
  return auth->expires_at;
}

core::Result<core::SystemTime> Session::authenticate_certificate(const core::ClientId& id) {
  const auto& chain = transport_->peer().client_cert_chain_der;
  if (chain.empty()) return amqp_core::Errc::unauthorized;
  identity::ClientCertificate cert;
  cert.leaf_der = chain.front();
  cert.chain_der.assign(chain.begin() + 1, chain.end());
  auto auth = ctx_.authenticator->authenticate(id, std::move(cert));
  if (!auth) {
    ctx_.stats->identities.with({protocol_, "refused"}).inc();
    ops::log(spdlog::level::info, fields(&id), "AMQP client certificate for {} refused: {}",
             id.to_string(), auth.error().message());
    return auth.error();
  }
  return auth->expires_at;
}

void Session::on_authorised(const core::ClientId& id, core::SystemTime expires_at) {
  arm_expiry(expires_at);
  if (identities_.contains(id)) {
    ctx_.stats->identities.with({protocol_, "renewed"}).inc();
    ops::log(spdlog::level::debug, fields(&id), "AMQP authorisation of {} renewed", id.to_string());
    return;
  }
  ctx_.stats->identities.with({protocol_, "ok"}).inc();
  auto channel = std::make_shared<Channel>(weak_from_this(), id, executor_);
  auto registration = ctx_.channels->attach(id, channel);
  identities_.emplace(id, Identity{std::move(channel), std::move(registration)});
  ops::log(spdlog::level::info, fields(&id), "AMQP identity {} authorised ({})", id.to_string(),
           protocol_);
}

void Session::on_deauthorised(const core::ClientId& id) {
  ops::log(spdlog::level::info, fields(&id), "AMQP identity {} no longer authorised",
           id.to_string());
  identities_.erase(id);
}

void Session::on_subscription(const core::ClientId& id, Node node, bool active) {
  auto it = identities_.find(id);
  if (it == identities_.end()) return;
  std::optional<hub::Subscription> s;
  switch (node) {
    case Node::events:
    case Node::inputs:
      s = hub::Subscription::module_inputs;
      break;
    case Node::c2d:
      s = hub::Subscription::c2d;
      break;
    case Node::methods:
      s = hub::Subscription::methods;
      break;
    case Node::twin:
      // edgeHub subscribes a client to desired updates when its twin receiving link opens.
      s = hub::Subscription::desired_properties;
      break;
    case Node::cbs:
      break;
  }
  if (!s) return;
  if (active) {
    it->second.registration.subscribe(*s);
  } else {
    it->second.registration.unsubscribe(*s);
  }
}

void Session::on_telemetry(amqp_core::DeliveryId delivery, core::Message message) {
  ctx_.ingress->async_accept(
      std::move(message), asio::bind_executor(executor_, [weak = weak_from_this(),
                                                          delivery](core::Result<hub::Accepted> r) {
        auto s = weak.lock();
        if (!s || s->ended_) return;
        if (!r) s->count(hub::is_retryable(r.error()) ? "store_refused" : "rejected");
        s->engine([&] {
          if (r) return s->conn_.settle(delivery, {});
          s->conn_.settle(delivery, r.error(), condition_for(r.error()), r.error().message());
        });
      }));
}

void Session::on_twin_request(amqp_core::TwinRequest request) {
  auto fail_body = [](int status, const ErrorCode& ec) {
    return nlohmann::json{{"errorCode", status}, {"message", ec.message()}}.dump();
  };
  const auto& op = request.operation;
  if (core::iequals(op, "GET")) {
    ctx_.twins->async_get(
        request.id, asio::bind_executor(executor_, [weak = weak_from_this(), request,
                                                    fail_body](core::Result<std::string> r) {
          auto s = weak.lock();
          if (!s || s->ended_) return;
          if (!r) {
            const int status = hub::twin_error_status(r.error());
            return s->send_twin_reply(request, status, fail_body(status, r.error()), {});
          }
          s->send_twin_reply(request, 200, std::move(*r), {});
        }));
    return;
  }
  if (core::iequals(op, "PATCH") && core::iequals(request.resource, "/properties/reported")) {
    ctx_.twins->async_update_reported(
        request.id, request.body,
        asio::bind_executor(
            executor_, [weak = weak_from_this(), request, fail_body](core::Result<std::int64_t> r) {
              auto s = weak.lock();
              if (!s || s->ended_) return;
              if (!r) {
                s->count("twin_patch");
                const int status = hub::twin_error_status(r.error());
                return s->send_twin_reply(request, status, fail_body(status, r.error()), {});
              }
              s->send_twin_reply(request, 204, {}, *r);
            }));
    return;
  }
  const bool desired = core::iequals(request.resource, "/notifications/twin/properties/desired");
  if (desired && (core::iequals(op, "PUT") || core::iequals(op, "DELETE"))) {
    if (auto it = identities_.find(request.id); it != identities_.end()) {
      if (core::iequals(op, "PUT")) {
        it->second.registration.subscribe(hub::Subscription::desired_properties);
      } else {
        it->second.registration.unsubscribe(hub::Subscription::desired_properties);
      }
    }
    return send_twin_reply(request, 200, {}, {});
  }
  count("twin_operation");
  send_twin_reply(request, 400,
                  nlohmann::json{{"errorCode", 400},
                                 {"message", "unsupported twin operation '" + op + "' on '" +
                                                 request.resource + "'"}}
                      .dump(),
                  {});
}

void Session::send_twin_reply(const amqp_core::TwinRequest& request, int status, std::string body,
                              std::optional<std::int64_t> version) {
  core::Message reply;
  reply.set_body(body);
  amqp_core::OutboundExtras extras;
  extras.include_system_annotations = false;
  extras.correlation_id = request.correlation_id;
  extras.annotations.emplace_back("status", static_cast<std::int32_t>(status));
  if (version) extras.annotations.emplace_back("version", *version);
  auto encoded = amqp_core::encode_message(reply, extras);
  if (!encoded) return count("encode_failed");
  auto sent = engine([&] { return conn_.send_twin_reply(request, std::move(*encoded)); });
  if (!sent) count("twin_no_link");
}

void Session::on_method_response(const core::ClientId& id, std::string request_id, int status,
                                 std::string payload) {
  ctx_.methods->on_method_response(id, request_id, status, std::move(payload));
}

void Session::on_outbound_settled(std::uint64_t token, ErrorCode outcome) {
  auto it = pending_done_.find(token);
  if (it == pending_done_.end()) return;
  auto done = std::move(it->second);
  pending_done_.erase(it);
  if (!done) return;
  if (outcome == amqp_core::Errc::no_link) return done(hub::Errc::disconnected);
  if (outcome == amqp_core::Errc::rejected) return done(hub::Errc::rejected);
  done(outcome);
}

void Session::count(std::string_view reason) {
  ctx_.stats->refused.with({protocol_, std::string(reason)}).inc();
}

void Session::fail_pending(ErrorCode reason) {
  auto pending = std::move(pending_done_);
  pending_done_.clear();
  for (auto& [token, done] : pending) {
    if (done) done(reason);
  }
}

void Session::deliver_input(const core::ClientId& id, core::Message message, std::string input,
                            hub::DoneCallback done) {
  if (ended_ || closing_) return done(hub::Errc::disconnected);
  amqp_core::OutboundExtras extras;
  extras.annotations.emplace_back("x-opt-input-name", input);
  auto encoded = amqp_core::encode_message(message, extras);
  if (!encoded) return done(encoded.error());
  send_unsettled(id, Node::events, std::move(*encoded), std::move(done));
}

// C2D from the upstream (iot-hub-protocol.md §2.2) on the device's
// /devices/{d}/messages/devicebound receiver link, unsettled: the device's disposition completes
// it, as the PUBACK does over MQTT.
void Session::deliver_c2d(const core::ClientId& id, core::Message message, hub::DoneCallback done) {
  if (ended_ || closing_) return done(hub::Errc::disconnected);
  if (id.is_module()) return done(hub::Errc::not_supported);  // IoT Hub has no module C2D
  auto encoded = amqp_core::encode_message(message, {});
  if (!encoded) return done(encoded.error());
  send_unsettled(id, Node::c2d, std::move(*encoded), std::move(done));
}

void Session::send_unsettled(const core::ClientId& id, Node node, std::vector<std::byte> encoded,
                             hub::DoneCallback done) {
  const auto token = next_token_++;
  pending_done_[token] = std::move(done);
  auto sent = engine([&] { return conn_.send(id, node, std::move(encoded), token); });
  if (!sent) {
    auto d = std::move(pending_done_[token]);
    pending_done_.erase(token);
    d(sent.error() == amqp_core::Errc::outbound_full ? ErrorCode(hub::Errc::queue_full)
                                                     : ErrorCode(hub::Errc::disconnected));
  }
}

void Session::deliver_method(const core::ClientId& id, hub::MethodRequest request,
                             hub::DoneCallback done) {
  if (ended_ || closing_) return done(hub::Errc::disconnected);
  core::Message message;
  message.set_body(request.payload);
  message.set_app("IoThub-methodname", request.method_name);
  amqp_core::OutboundExtras extras;
  extras.include_system_annotations = false;
  extras.correlation_id =
      amqp_core::MessageId{amqp_core::MessageId::Type::string, request.request_id};
  auto encoded = amqp_core::encode_message(message, extras);
  if (!encoded) return done(encoded.error());
  // Method requests go pre-settled, like IoT Hub's QoS 0; the response closes the loop.
  auto r = engine([&] { return conn_.send(id, Node::methods, std::move(*encoded), 0); });
  if (!r) {
    return done(r.error() == amqp_core::Errc::outbound_full ? ErrorCode(hub::Errc::queue_full)
                                                            : ErrorCode(hub::Errc::disconnected));
  }
  done({});
}

void Session::deliver_desired(const core::ClientId& id, hub::DesiredPatch patch) {
  if (ended_ || closing_) return;
  core::Message message;
  message.set_body(patch.json);
  amqp_core::OutboundExtras extras;
  extras.include_system_annotations = false;
  extras.annotations.emplace_back("version", patch.version);
  auto encoded = amqp_core::encode_message(message, extras);
  if (!encoded) return;
  // Best effort, like IoT Hub: a patch that finds no link or a full queue is dropped.
  auto sent = engine([&] { return conn_.send(id, Node::twin, std::move(*encoded), 0); });
  if (!sent) count("desired_dropped");
}

void Session::close_from_hub(const core::ClientId& id, ErrorCode reason) {
  if (ended_) return;
  ops::log(spdlog::level::info, fields(&id), "AMQP identity {} closed by the gateway: {}",
           id.to_string(), reason.message());
  engine([&] {
    if (reason == hub::Errc::shutting_down) {
      return conn_.close(amqp_core::Errc::closed_by_gateway, "the gateway is shutting down");
    }
    // Other identities on this connection stay: only this one's links end (superseded by a newer
    // connection, or revoked).
    conn_.close_identity(id, amqp_core::Errc::closed_by_gateway);
  });
}

asio::awaitable<void> Session::write_loop() {
  auto self = shared_from_this();
  auto& bytes_out = ctx_.stats->bytes_out.with({protocol_});
  for (;;) {
    if (outbox_.empty()) {
      if (closing_ || ended_ || conn_.output_closed()) break;
      boost::system::error_code ec;
      co_await write_wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      write_wake_.expires_at(asio::steady_timer::time_point::max());
      continue;
    }
    auto bytes = std::move(outbox_.front());
    outbox_.pop_front();
    outbox_bytes_ -= bytes.size();
    auto r = co_await transport_->write(asio::buffer(bytes));
    if (!r) {
      closing_ = true;
      transport_->close();
      break;
    }
    bytes_out.inc(bytes.size());
  }
  conn_.on_output_closed();
  if (!ended_ && !closing_) {
    // Our last frame (a CLOSE, a SASL outcome) is out. The peer may still be sending (a client
    // pipelines its header and OPEN after sasl-init): closing now would reset the connection
    // and discard that frame at the peer (amqp-proton-notes.md). Keep reading until the peer
    // closes, at most kDrainTimeout.
    drain_timer_.expires_after(kDrainTimeout);
    drain_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (auto s = weak.lock(); s && !ec) s->transport_->close();
    });
    while (!ended_) {
      boost::system::error_code ec;
      co_await write_wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      write_wake_.expires_at(asio::steady_timer::time_point::max());
    }
  }
  co_await transport_->shutdown();
}

}  // namespace

void serve(std::unique_ptr<net::Transport> transport, SessionContext& context) {
  auto ex = transport->get_executor();
  auto session = std::make_shared<Session>(std::move(transport), context);
  asio::co_spawn(
      ex, [session]() { return session->run(); }, asio::detached);
}

}  // namespace edgehub::amqp
