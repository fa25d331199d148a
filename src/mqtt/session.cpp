#include "edgehub/mqtt/session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "edgehub/hub/errors.hpp"
#include "edgehub/mqtt/iothub_topics.hpp"
#include "edgehub/mqtt/property_bag.hpp"
#include "edgehub/mqtt/telemetry.hpp"
#include "edgehub/mqtt/username.hpp"
#include "edgehub/mqtt_proto/connection.hpp"
#include "edgehub/ops/logging.hpp"
#include "mqtt/fifo.hpp"

namespace edgehub::mqtt {

namespace asio = boost::asio;
namespace proto = mqtt_proto;
using core::ErrorCode;

SessionStats::SessionStats(ops::Registry& r)
    : connects(r.counter("edgehubd_mqtt_connects_total", "MQTT CONNECTs by transport and result",
                         {"transport", "result"})),
      protocol_errors(r.counter("edgehubd_mqtt_protocol_errors_total",
                                "MQTT connections closed for a protocol violation", {"reason"})),
      refused(r.counter("edgehubd_mqtt_refused_total",
                        "MQTT operations refused (authorisation, topics, limits)", {"reason"})),
      bytes_in(
          r.counter("edgehubd_bytes_received_total", "Bytes received from devices", {"protocol"})),
      bytes_out(r.counter("edgehubd_bytes_sent_total", "Bytes sent to devices", {"protocol"})),
      sessions(r.gauge("edgehubd_mqtt_sessions", "Open MQTT connections", {"transport"})),
      mqtt_bytes_in(bytes_in.with({"mqtt"})),
      mqtt_bytes_out(bytes_out.with({"mqtt"})),
      sessions_tls(sessions.with({"tls"})),
      sessions_websocket(sessions.with({"websocket"})),
      connects_ok_tls(connects.with({"tls", "ok"})),
      connects_ok_websocket(connects.with({"websocket", "ok"})) {}

namespace {

// Store state namespace of persistent (clean session 0) MQTT sessions: key = client id,
// value = one byte of hub::Subscription bits.
constexpr std::string_view kSessionNamespace = "mqtt.session";
constexpr hub::Subscription kAllSubscriptions[] = {
    hub::Subscription::module_inputs, hub::Subscription::methods,
    hub::Subscription::desired_properties, hub::Subscription::c2d};
// A slow consumer may hold this much unsent data before the session is closed for it.
constexpr std::size_t kMaxOutboxBytes = 4 * 1024 * 1024;

std::string_view transport_label(const net::PeerInfo& p) {
  return p.kind == net::TransportKind::websocket ? "websocket" : "tls";
}

bool is_websocket(const net::PeerInfo& p) {
  return p.kind == net::TransportKind::websocket;
}

// The session is also the hub's handle on it (hub::DeviceChannel): the registry keeps a weak
// reference, and every call arrives posted onto the session's executor.
class Session final : public hub::DeviceChannel, public std::enable_shared_from_this<Session> {
 public:
  Session(std::unique_ptr<net::Transport> transport, SessionContext& ctx)
      : ctx_(ctx),
        transport_(std::move(transport)),
        conn_(limits_from(*ctx.limits)),
        timer_(transport_->get_executor()) {}

  void start();

  // Implements edgehub::hub::DeviceChannel
  asio::any_io_executor executor() const override { return transport_->get_executor(); }
  void deliver_input(core::Message message, std::string input, hub::DoneCallback done) override;
  void deliver_c2d(core::Message message, hub::DoneCallback done) override;
  void deliver_method(hub::MethodRequest request, hub::DoneCallback done) override;
  void deliver_desired(hub::DesiredPatch patch) override;
  void close(ErrorCode reason) override { begin_close(reason, "closed by the gateway"); }

 private:
  static proto::Limits limits_from(const config::LimitsConfig& l) {
    proto::Limits out;
    out.max_payload_bytes = l.max_message_bytes;
    out.max_inflight = static_cast<std::uint16_t>(
        std::clamp<std::uint32_t>(l.max_inflight_per_connection, 1, 65535));
    out.connect_timeout = l.connect_timeout;
    return out;
  }

  ops::LogFields fields() const {
    return {.device_id = identity_.device,
            .module_id = identity_.module,
            .remote_addr = transport_->peer().remote_address,
            .protocol = "mqtt"};
  }

  ops::Gauge& active_sessions() const {
    return is_websocket(transport_->peer()) ? ctx_.stats->sessions_websocket
                                            : ctx_.stats->sessions_tls;
  }
  void read_next();
  void on_read(core::Result<std::span<const std::byte>> bytes);
  void resume_reading();
  void finish();
  void execute(proto::Events events);
  void handle(proto::Packet&& packet);
  void on_connect(proto::Connect&& connect);
  void finish_connect(bool session_present, const identity::AuthenticatedIdentity& auth,
                      std::uint16_t keep_alive);
  void persist_subscriptions(std::function<void()> then);
  void on_publish(proto::Publish&& publish);
  void on_subscribe(const proto::Subscribe& subscribe);
  void on_unsubscribe(const proto::Unsubscribe& unsubscribe);
  void on_puback(std::uint16_t packet_id);
  void accept_telemetry(core::Message message, std::uint16_t packet_id, proto::QoS qos);
  void on_twin_request(const InboundTopic& topic, std::vector<std::byte> payload);
  void send_twin_response(int status, std::string rid, std::optional<std::int64_t> version,
                          std::string body);
  void flush_acks();
  void send_packet(const proto::Packet& packet);
  bool publish(proto::Publish packet, hub::DoneCallback done);
  void send_queued_inputs();
  void queue_bytes(std::vector<std::byte> bytes);
  void flush_soon();
  void flush();
  void release_output();
  static asio::awaitable<void> write_rest(std::shared_ptr<Session> self,
                                          std::vector<std::byte> bytes, std::size_t from);
  static asio::awaitable<void> shut_down(std::shared_ptr<Session> self);
  void begin_close(ErrorCode reason, std::string_view why);
  void arm_protocol_timer(proto::TimePoint deadline);
  void arm_token_expiry(core::SystemTime expires_at);
  void arm_timer();
  void on_timer();
  void publish_will();

  SessionContext& ctx_;
  std::unique_ptr<net::Transport> transport_;
  proto::ServerConnection conn_;
  // One timer for the protocol's deadline (CONNECT, keep-alive) and the SAS token's expiry,
  // armed for whichever comes first.
  asio::steady_timer timer_;
  /// Set while reading is paused for backpressure: the session itself, as nothing else holds it
  /// then (the store's callbacks hold it weakly); resume_reading() lets go of it.
  std::shared_ptr<Session> paused_;
  proto::TimePoint protocol_deadline_ = proto::TimePoint::max();
  proto::TimePoint token_deadline_ = proto::TimePoint::max();
  proto::TimePoint armed_deadline_ = proto::TimePoint::max();

  core::ClientId identity_;
  std::unique_ptr<proto::Will> will_;  ///< rare: no room for it in the session otherwise
  hub::DeviceChannels::Registration registration_;

  struct PendingAck {
    std::uint64_t seq = 0;  ///< per session; QoS 0 publishes all have packet id 0
    std::uint16_t packet_id = 0;
    bool qos1 = false;
    bool done = false;
    ErrorCode error;
  };
  Fifo<PendingAck> pending_acks_;  ///< PUBACKs go out in PUBLISH order (MQTT 4.6)
  std::uint64_t next_ack_seq_ = 1;

  struct QueuedInput {
    proto::Publish packet;
    hub::DoneCallback done;
  };
  Fifo<QueuedInput> queued_inputs_;  ///< waiting for a free QoS 1 packet identifier
  std::map<std::uint16_t, hub::DoneCallback> inflight_done_;

  std::vector<std::byte> output_;  ///< encoded packets not yet handed to the transport
  std::size_t writing_bytes_ = 0;  ///< handed to an asynchronous write that has not finished
  bool writing_ = false;           ///< write_rest() is running: it flushes output_ when done
  bool flush_posted_ = false;
  bool in_read_turn_ = false;  ///< the read loop flushes after the packets of one read
  bool shutting_down_ = false;
  bool closing_ = false;
  bool clean_disconnect_ = false;
  bool connected_ = false;
  bool persistent_ = false;  ///< clean session 0: subscriptions outlive the connection
  bool finished_ = false;    ///< reading ended and the session let go of the hub
};

void Session::start() {
  active_sessions().inc();
  execute(conn_.start(ctx_.clock->steady_now()));
  read_next();
}

// Reading is a chain of callbacks rather than a loop in a coroutine: a session waiting for its
// next packet holds only the transport's pending wait and its handler, not a coroutine frame
// (issue 11, RSS per idle connection).
void Session::read_next() {
  if (closing_) return finish();
  // Backpressure: stop reading while too many messages wait for the store.
  const auto max_pending = std::max<std::uint32_t>(1, ctx_.limits->max_inflight_per_connection);
  if (pending_acks_.size() >= max_pending) {
    paused_ = shared_from_this();
    return;
  }
  // No read buffer of its own: an idle session holds none (net::Transport::read_available).
  transport_->async_read_available(
      [self = shared_from_this()](core::Result<std::span<const std::byte>> bytes) {
        self->on_read(bytes);
      });
}

void Session::on_read(core::Result<std::span<const std::byte>> bytes) {
  if (!bytes) {
    if (!closing_) begin_close(bytes.error(), "connection lost");
    return finish();
  }
  ctx_.stats->mqtt_bytes_in.inc(bytes->size());
  // Every packet of the read is decoded and answered before one write carries the answers.
  in_read_turn_ = true;
  execute(conn_.on_bytes(*bytes, ctx_.clock->steady_now()));
  in_read_turn_ = false;
  flush();
  read_next();
}

void Session::resume_reading() {
  if (!paused_) return;
  // Posted: the caller (an acknowledgement, a close) is not left with the session's next read.
  asio::post(executor(), [self = std::exchange(paused_, nullptr)] { self->read_next(); });
}

void Session::finish() {
  if (std::exchange(finished_, true)) return;
  if (!clean_disconnect_ && connected_) publish_will();
  for (auto& [id, done] : inflight_done_)
    done(hub::Errc::disconnected);
  inflight_done_.clear();
  for (auto& q : queued_inputs_)
    q.done(hub::Errc::disconnected);
  queued_inputs_.clear();
  registration_.detach();
  timer_.cancel();
  active_sessions().dec();
}

void Session::execute(proto::Events events) {
  for (auto& e : events) {
    if (auto* send = std::get_if<proto::SendBytes>(&e)) {
      queue_bytes(std::move(send->bytes));
    } else if (auto* deliver = std::get_if<proto::Deliver>(&e)) {
      handle(std::move(deliver->packet));
    } else if (auto* arm = std::get_if<proto::ArmTimer>(&e)) {
      arm_protocol_timer(arm->deadline);
    } else if (auto* close = std::get_if<proto::Close>(&e)) {
      if (!close->reason) clean_disconnect_ = true;
      begin_close(close->reason, close->reason ? "protocol rule broken" : "client disconnected");
    }
  }
}

void Session::handle(proto::Packet&& packet) {
  std::visit(
      [this](auto&& p) {
        using P = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<P, proto::Connect>) {
          on_connect(std::move(p));
        } else if constexpr (std::is_same_v<P, proto::Publish>) {
          on_publish(std::move(p));
        } else if constexpr (std::is_same_v<P, proto::Subscribe>) {
          on_subscribe(p);
        } else if constexpr (std::is_same_v<P, proto::Unsubscribe>) {
          on_unsubscribe(p);
        } else if constexpr (std::is_same_v<P, proto::Puback>) {
          on_puback(p.packet_id);
        }
      },
      std::move(packet));
}

void Session::on_connect(proto::Connect&& connect) {
  const auto& peer = transport_->peer();
  auto refuse = [&](ErrorCode ec, std::string_view reason) {
    ctx_.stats->connects
        .with({std::string(transport_label(transport_->peer())), std::string(reason)})
        .inc();
    ops::log(spdlog::level::info, fields(), "MQTT CONNECT from client id '{}' refused: {} ({})",
             connect.client_id, reason, ec.message());
    if (auto r = conn_.refuse(ec)) execute(std::move(*r));
  };
  auto username = parse_username(connect.username.value_or(""));
  if (!username) return refuse(username.error(), "bad_username");
  if (auto r = check_client_id(*username, connect.client_id); !r) {
    return refuse(r.error(), "client_id_mismatch");
  }
  if (!core::iequals(username->host, ctx_.iothub_hostname) &&
      !core::iequals(username->host, ctx_.gateway_hostname)) {
    return refuse(proto::Errc::not_authorized, "unknown_hub");
  }
  identity::Credential credential = identity::NoCredential{};
  if (connect.password && !connect.password->empty()) {
    credential = identity::SasCredential{std::string(
        reinterpret_cast<const char*>(connect.password->data()), connect.password->size())};
  } else if (!peer.client_cert_chain_der.empty()) {
    identity::ClientCertificate cert;
    cert.leaf_der = peer.client_cert_chain_der.front();
    cert.chain_der.assign(peer.client_cert_chain_der.begin() + 1, peer.client_cert_chain_der.end());
    credential = std::move(cert);
  }
  auto auth = ctx_.authenticator->authenticate(username->identity, credential);
  identity_ = username->identity;
  if (!auth) return refuse(auth.error(), "not_authenticated");
  if (connect.will) {
    const auto topic = classify_publish_topic(connect.will->topic);
    if (topic.kind != TopicKind::telemetry || !may_publish(topic, identity_)) {
      return refuse(proto::Errc::not_authorized, "will_topic");
    }
    will_ = std::make_unique<proto::Will>(std::move(*connect.will));
  }
  registration_ = ctx_.channels->attach(identity_, shared_from_this());
  const auto key = identity_.to_string();
  const auto keep_alive = connect.keep_alive;
  auto self = shared_from_this();
  if (connect.clean_session) {
    // A clean session discards whatever an earlier persistent session left. Most clients never
    // had one: a read finds out, and spares them a durable delete (a store commit per connect).
    ctx_.store->async_get_state(
        std::string(kSessionNamespace), key,
        asio::bind_executor(executor(), [self, auth = *auth, keep_alive, key](
                                            core::Result<std::optional<std::vector<std::byte>>> r) {
          if (r && !r->has_value()) return self->finish_connect(false, auth, keep_alive);
          self->ctx_.store->async_erase_state(
              std::string(kSessionNamespace), key,
              asio::bind_executor(self->executor(), [self, auth, keep_alive](core::Result<bool>) {
                self->finish_connect(false, auth, keep_alive);
              }));
        }));
    return;
  }
  persistent_ = true;
  ctx_.store->async_get_state(
      std::string(kSessionNamespace), key,
      asio::bind_executor(executor(), [self, auth = *auth, keep_alive](
                                          core::Result<std::optional<std::vector<std::byte>>> r) {
        if (!r) return self->begin_close(r.error(), "session state not readable");
        const bool present = r->has_value() && !(*r)->empty();
        if (present) {
          hub::Subscriptions restored;
          const auto bits = static_cast<std::uint8_t>((**r)[0]);
          for (auto s : kAllSubscriptions) {
            if (bits & static_cast<std::uint8_t>(s)) restored.add(s);
          }
          self->registration_.set_subscriptions(restored);
        }
        self->finish_connect(present, auth, keep_alive);
      }));
}

void Session::finish_connect(bool session_present, const identity::AuthenticatedIdentity& auth,
                             std::uint16_t keep_alive) {
  if (closing_) return;
  auto accepted = conn_.accept(session_present, ctx_.clock->steady_now());
  if (!accepted) return begin_close(accepted.error(), "internal state");
  connected_ = true;
  (is_websocket(transport_->peer()) ? ctx_.stats->connects_ok_websocket
                                    : ctx_.stats->connects_ok_tls)
      .inc();
  ops::log(spdlog::level::info, fields(), "MQTT connected ({}, keep-alive {} s, {}{})",
           identity::to_string(auth.method), keep_alive, transport_label(transport_->peer()),
           session_present ? ", session resumed" : "");
  if (auth.method == identity::AuthType::sas) arm_token_expiry(auth.expires_at);
  execute(std::move(*accepted));
}

void Session::persist_subscriptions(std::function<void()> then) {
  if (!persistent_) return then();
  const auto bits = registration_.subscriptions().bits();
  ctx_.store->async_put_state(
      std::string(kSessionNamespace), identity_.to_string(), {static_cast<std::byte>(bits)},
      asio::bind_executor(executor(),
                          [weak = weak_from_this(), then = std::move(then)](core::Result<void> r) {
                            auto s = weak.lock();
                            if (!s) return;
                            // The acknowledgement waits for the subscription to be durable, so a
                            // SUBACK is never followed by a restart that forgot it.
                            if (!r) return s->begin_close(r.error(), "session state not writable");
                            then();
                          }));
}

void Session::arm_token_expiry(core::SystemTime expires_at) {
  // MQTT cannot re-authenticate in place: IoT Hub closes the connection when the token expires
  // and the SDK reconnects with a fresh one (iot-hub-protocol.md §1.5).
  const auto now = ctx_.clock->steady_now();
  const auto left = std::chrono::duration_cast<proto::TimePoint::duration>(
      std::max(expires_at - ctx_.clock->now(), core::SystemTime::duration::zero()));
  token_deadline_ = left < proto::TimePoint::max() - now ? now + left : proto::TimePoint::max();
  arm_timer();
}

void Session::on_publish(proto::Publish&& publish) {
  const auto topic = classify_publish_topic(publish.topic);
  if (topic.kind == TopicKind::twin_get || topic.kind == TopicKind::twin_reported_patch) {
    return on_twin_request(topic, std::move(publish.payload));
  }
  if (topic.kind == TopicKind::method_response) {
    ctx_.methods->on_method_response(
        identity_, topic.rid, topic.status,
        std::string(reinterpret_cast<const char*>(publish.payload.data()), publish.payload.size()));
    if (publish.qos == proto::QoS::at_least_once) send_packet(proto::Puback{publish.packet_id});
    return;
  }
  if (topic.kind != TopicKind::telemetry) {
    // IoT Hub is not a broker: any other topic closes the connection (iot-hub-protocol.md §2.2).
    ctx_.stats->refused.with({"topic"}).inc();
    return begin_close(proto::Errc::protocol_error, "PUBLISH to an unsupported topic");
  }
  if (!may_publish(topic, identity_)) {
    ctx_.stats->refused.with({"foreign_topic"}).inc();
    ops::log(spdlog::level::warn, fields(), "PUBLISH to another identity's topic '{}' refused",
             publish.topic);
    return begin_close(proto::Errc::not_authorized, "PUBLISH outside the identity's space");
  }
  auto message = telemetry_message(topic, publish.payload, publish.retain);
  if (!message) {
    ctx_.stats->refused.with({"bad_property_bag"}).inc();
    return begin_close(message.error(), "malformed property bag");
  }
  message->origin = identity_;
  accept_telemetry(std::move(*message), publish.packet_id, publish.qos);
}

void Session::accept_telemetry(core::Message message, std::uint16_t packet_id, proto::QoS qos) {
  const auto seq = next_ack_seq_++;
  pending_acks_.push_back({seq, packet_id, qos == proto::QoS::at_least_once, false, {}});
  auto on_done = [weak = weak_from_this(), seq](core::Result<hub::Accepted> r) {
    auto s = weak.lock();
    if (!s) return;
    // Sequence numbers are consecutive from the front: the entry is found by subtraction.
    auto& acks = s->pending_acks_;
    if (acks.empty() || seq < acks.front().seq || seq - acks.front().seq >= acks.size()) return;
    auto& p = acks[seq - acks.front().seq];
    p.done = true;
    p.error = r ? ErrorCode{} : r.error();
    s->flush_acks();
  };
  ctx_.ingress->async_accept(std::move(message),
                             asio::bind_executor(executor(), std::move(on_done)));
}

void Session::flush_acks() {
  while (!pending_acks_.empty() && pending_acks_.front().done) {
    const auto p = pending_acks_.front();
    pending_acks_.pop_front();
    if (p.error) {
      // No PUBACK: MQTT has no negative acknowledgement; the device resends after reconnecting.
      ctx_.stats->refused
          .with({std::string(hub::is_retryable(p.error) ? "store_refused" : "rejected")})
          .inc();
      return begin_close(p.error, "message not accepted");
    }
    if (p.qos1) send_packet(proto::Puback{p.packet_id});
  }
  resume_reading();
}

void Session::on_twin_request(const InboundTopic& topic, std::vector<std::byte> payload) {
  // Twin requests are QoS 0 in every SDK; the answer goes to $iothub/twin/res/{status}/.
  std::string rid(topic.rid);
  auto fail = [](int status, const core::ErrorCode& ec) {
    // The Node SDK ignores the status digits and treats a body with errorCode as the failure.
    return std::pair<int, std::string>(
        status, nlohmann::json{{"errorCode", status}, {"message", ec.message()}}.dump());
  };
  if (topic.kind == TopicKind::twin_get) {
    ctx_.twins->async_get(
        identity_, asio::bind_executor(executor(), [weak = weak_from_this(), rid,
                                                    fail](core::Result<std::string> r) mutable {
          auto s = weak.lock();
          if (!s) return;
          if (!r) {
            auto [status, body] = fail(hub::twin_error_status(r.error()), r.error());
            return s->send_twin_response(status, std::move(rid), std::nullopt, std::move(body));
          }
          s->send_twin_response(200, std::move(rid), std::nullopt, std::move(*r));
        }));
    return;
  }
  ctx_.twins->async_update_reported(
      identity_, std::string(reinterpret_cast<const char*>(payload.data()), payload.size()),
      asio::bind_executor(
          executor(), [weak = weak_from_this(), rid, fail](core::Result<std::int64_t> r) mutable {
            auto s = weak.lock();
            if (!s) return;
            if (!r) {
              s->ctx_.stats->refused.with({"twin_patch"}).inc();
              auto [status, body] = fail(hub::twin_error_status(r.error()), r.error());
              return s->send_twin_response(status, std::move(rid), std::nullopt, std::move(body));
            }
            s->send_twin_response(204, std::move(rid), *r, {});
          }));
}

void Session::send_twin_response(int status, std::string rid, std::optional<std::int64_t> version,
                                 std::string body) {
  if (closing_) return;
  proto::Publish packet;
  packet.topic = twin_response_topic(status, rid, version);
  packet.payload.resize(body.size());
  if (!body.empty()) std::memcpy(packet.payload.data(), body.data(), body.size());
  publish(std::move(packet), {});
}

void Session::on_subscribe(const proto::Subscribe& subscribe) {
  proto::Suback ack;
  ack.packet_id = subscribe.packet_id;
  for (const auto& s : subscribe.subscriptions) {
    const auto filter = classify_subscription(s.filter);
    if (filter.kind == FilterKind::unknown || !may_subscribe(filter, identity_)) {
      ctx_.stats->refused.with({"subscription"}).inc();
      ops::log(spdlog::level::info, fields(), "SUBSCRIBE '{}' refused", s.filter);
      ack.return_codes.push_back(proto::kSubackFailure);
      continue;
    }
    switch (filter.kind) {
      case FilterKind::module_inputs:
        registration_.subscribe(hub::Subscription::module_inputs);
        break;
      case FilterKind::methods:
        registration_.subscribe(hub::Subscription::methods);
        break;
      case FilterKind::twin_desired:
        registration_.subscribe(hub::Subscription::desired_properties);
        break;
      case FilterKind::c2d:
      case FilterKind::module_c2d:
        registration_.subscribe(hub::Subscription::c2d);
        break;
      default:
        break;
    }
    ack.return_codes.push_back(static_cast<std::uint8_t>(granted_qos(s.qos)));
  }
  persist_subscriptions([this, ack = std::move(ack)] { send_packet(ack); });
}

void Session::on_unsubscribe(const proto::Unsubscribe& unsubscribe) {
  for (const auto& f : unsubscribe.filters) {
    const auto filter = classify_subscription(f);
    switch (filter.kind) {
      case FilterKind::module_inputs:
        registration_.unsubscribe(hub::Subscription::module_inputs);
        break;
      case FilterKind::methods:
        registration_.unsubscribe(hub::Subscription::methods);
        break;
      case FilterKind::twin_desired:
        registration_.unsubscribe(hub::Subscription::desired_properties);
        break;
      case FilterKind::c2d:
      case FilterKind::module_c2d:
        registration_.unsubscribe(hub::Subscription::c2d);
        break;
      default:
        break;
    }
  }
  persist_subscriptions([this, id = unsubscribe.packet_id] { send_packet(proto::Unsuback{id}); });
}

void Session::on_puback(std::uint16_t packet_id) {
  if (auto it = inflight_done_.find(packet_id); it != inflight_done_.end()) {
    auto done = std::move(it->second);
    inflight_done_.erase(it);
    if (done) done({});
  }
  send_queued_inputs();
}

void Session::send_packet(const proto::Packet& packet) {
  auto events = conn_.send(packet);
  if (!events) return begin_close(events.error(), "could not encode a packet");
  execute(std::move(*events));
}

bool Session::publish(proto::Publish packet, hub::DoneCallback done) {
  auto published = conn_.publish(std::move(packet));
  if (!published) return false;
  if (published->packet_id != 0) inflight_done_[published->packet_id] = std::move(done);
  execute(std::move(published->events));
  return true;
}

void Session::deliver_input(core::Message message, std::string input, hub::DoneCallback done) {
  if (closing_ || !connected_) return done(hub::Errc::disconnected);
  if (queued_inputs_.size() >= ctx_.limits->max_outbound_queue) return done(hub::Errc::queue_full);
  proto::Publish packet;
  packet.qos = proto::QoS::at_least_once;
  packet.topic = module_input_topic(identity_.device, identity_.module, input,
                                    encode_property_bag(message, BagTarget::module_input));
  packet.payload = std::move(message.body);
  queued_inputs_.push_back({std::move(packet), std::move(done)});
  send_queued_inputs();
}

// C2D from the upstream (iot-hub-protocol.md §2.2): QoS 1 on devices/{d}/messages/devicebound/,
// sharing the module-input queue and its bound; the PUBACK completes it.
void Session::deliver_c2d(core::Message message, hub::DoneCallback done) {
  if (closing_ || !connected_) return done(hub::Errc::disconnected);
  if (identity_.is_module()) return done(hub::Errc::not_supported);  // IoT Hub has no module C2D
  if (queued_inputs_.size() >= ctx_.limits->max_outbound_queue) return done(hub::Errc::queue_full);
  proto::Publish packet;
  packet.qos = proto::QoS::at_least_once;
  packet.topic = c2d_topic(identity_.device, encode_property_bag(message, BagTarget::device));
  packet.payload = std::move(message.body);
  queued_inputs_.push_back({std::move(packet), std::move(done)});
  send_queued_inputs();
}

void Session::send_queued_inputs() {
  while (!queued_inputs_.empty() && !closing_) {
    auto& front = queued_inputs_.front();
    auto published = conn_.publish(front.packet);
    if (!published) {
      if (published.error() == proto::Errc::inflight_full) return;  // resumes on the next PUBACK
      auto done = std::move(front.done);
      queued_inputs_.pop_front();
      done(published.error());
      continue;
    }
    inflight_done_[published->packet_id] = std::move(front.done);
    queued_inputs_.pop_front();
    execute(std::move(published->events));
  }
}

void Session::deliver_method(hub::MethodRequest request, hub::DoneCallback done) {
  if (closing_ || !connected_) return done(hub::Errc::disconnected);
  proto::Publish packet;
  packet.topic = method_request_topic(request.method_name, request.request_id);
  packet.payload.resize(request.payload.size());
  std::memcpy(packet.payload.data(), request.payload.data(), request.payload.size());
  if (!publish(std::move(packet), {})) return done(hub::Errc::queue_full);
  done({});
}

void Session::deliver_desired(hub::DesiredPatch patch) {
  if (closing_ || !connected_) return;
  proto::Publish packet;
  packet.topic = desired_patch_topic(patch.version);
  packet.payload.resize(patch.json.size());
  std::memcpy(packet.payload.data(), patch.json.data(), patch.json.size());
  publish(std::move(packet), {});
}

void Session::queue_bytes(std::vector<std::byte> bytes) {
  if (bytes.empty() || shutting_down_) return;
  if (output_.empty()) {
    output_ = std::move(bytes);
  } else {
    output_.insert(output_.end(), bytes.begin(), bytes.end());
  }
  if (output_.size() + writing_bytes_ > kMaxOutboxBytes && !closing_) {
    ctx_.stats->refused.with({"slow_consumer"}).inc();
    ops::log(spdlog::level::warn, fields(),
             "closing a connection that does not read ({} bytes queued)",
             output_.size() + writing_bytes_);
    closing_ = true;
    shutting_down_ = true;
    release_output();
    transport_->close();
    return;
  }
  flush_soon();
}

// Whatever else becomes ready before the posted flush runs (the other completions of one group
// commit, already queued on this executor) joins the same write.
void Session::flush_soon() {
  if (flush_posted_ || in_read_turn_ || writing_) return;
  flush_posted_ = true;
  asio::post(executor(), [self = shared_from_this()] { self->flush(); });
}

void Session::flush() {
  flush_posted_ = false;
  if (writing_) return;  // write_rest() flushes what was queued meanwhile
  if (!output_.empty() && !shutting_down_) {
    auto written = transport_->try_write(asio::buffer(output_));
    if (!written) {
      release_output();
      closing_ = true;
    } else if (*written == output_.size()) {
      ctx_.stats->mqtt_bytes_out.inc(*written);
      release_output();
    } else {
      // The socket is full, or the transport writes only from a coroutine: the rest goes out
      // asynchronously, and what is queued meanwhile after it.
      writing_ = true;
      writing_bytes_ = output_.size() - *written;
      ctx_.stats->mqtt_bytes_out.inc(*written);
      asio::co_spawn(executor(), write_rest(shared_from_this(), std::move(output_), *written),
                     asio::detached);
      output_ = {};
      return;
    }
  }
  // Closing: what the protocol queued (a CONNACK refusal, for instance) is out; the transport is
  // shut down, and the read loop ends when that happens.
  if (closing_ && !shutting_down_) {
    shutting_down_ = true;
    asio::co_spawn(executor(), shut_down(shared_from_this()), asio::detached);
  }
}

void Session::release_output() {
  // An idle connection keeps no output buffer: the next packet brings its own.
  std::vector<std::byte>().swap(output_);
}

asio::awaitable<void> Session::write_rest(std::shared_ptr<Session> self,
                                          std::vector<std::byte> bytes, std::size_t from) {
  auto r = co_await self->transport_->write(asio::buffer(bytes) + from);
  self->writing_ = false;
  self->writing_bytes_ = 0;
  if (!r) {
    self->release_output();
    self->closing_ = true;
  } else {
    self->ctx_.stats->mqtt_bytes_out.inc(bytes.size() - from);
  }
  self->flush();
}

asio::awaitable<void> Session::shut_down(std::shared_ptr<Session> self) {
  co_await self->transport_->shutdown();
}

void Session::begin_close(ErrorCode reason, std::string_view why) {
  if (closing_) return;
  closing_ = true;
  if (reason && reason.category() == proto::mqtt_category() && !clean_disconnect_) {
    ctx_.stats->protocol_errors.with({reason.message()}).inc();
  }
  ops::log(reason ? spdlog::level::info : spdlog::level::debug, fields(),
           "MQTT connection closing: {}{}{}", why, reason ? ": " : "",
           reason ? reason.message() : "");
  // The flush writes what the protocol queued and then shuts the transport down.
  flush_soon();
  resume_reading();
}

void Session::arm_protocol_timer(proto::TimePoint deadline) {
  protocol_deadline_ = deadline;
  arm_timer();
}

void Session::arm_timer() {
  const auto deadline = std::min(protocol_deadline_, token_deadline_);
  if (deadline == armed_deadline_) return;
  armed_deadline_ = deadline;
  if (deadline == proto::TimePoint::max()) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(deadline);
  timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (auto s = weak.lock(); s && !ec) s->on_timer();
  });
}

void Session::on_timer() {
  armed_deadline_ = proto::TimePoint::max();
  const auto now = ctx_.clock->steady_now();
  if (now >= token_deadline_) {
    token_deadline_ = proto::TimePoint::max();
    ctx_.stats->refused.with({"token_expired"}).inc();
    return begin_close(proto::Errc::not_authorized, "SAS token expired");
  }
  if (now >= protocol_deadline_) {
    // Firing early or late is harmless: ServerConnection::on_timer() re-arms.
    protocol_deadline_ = proto::TimePoint::max();
    execute(conn_.on_timer(now));
  }
  arm_timer();
}

void Session::publish_will() {
  if (!will_) return;
  const auto topic = classify_publish_topic(will_->topic);
  auto message = telemetry_message(topic, will_->payload, will_->retain, TelemetrySource::will);
  if (!message) return;
  message->origin = identity_;
  // Fire and forget: the connection is gone, there is nobody to acknowledge to.
  ctx_.ingress->async_accept(std::move(*message), asio::bind_executor(executor(), [](auto&&) {}));
}

}  // namespace

void serve(std::unique_ptr<net::Transport> transport, SessionContext& context) {
  auto ex = transport->get_executor();
  auto session = std::make_shared<Session>(std::move(transport), context);
  asio::post(ex, [session] { session->start(); });
}

}  // namespace edgehub::mqtt
