#include "upstream/amqp_link.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

#include "edgehub/amqp_core/errors.hpp"
#include "edgehub/core/uuid.hpp"
#include "edgehub/core/version.hpp"
#include "edgehub/hub/errors.hpp"
#include "edgehub/net/client_connect.hpp"
#include "edgehub/ops/logging.hpp"
#include "edgehub/upstream/credentials.hpp"
#include "upstream/endpoint.hpp"

namespace edgehub::upstream {

namespace asio = boost::asio;
using amqp_core::Node;

namespace {

constexpr std::chrono::seconds kMaxRetryDelay{60};
// A refused identity is not asked for again sooner: its messages fail as not authorised meanwhile.
constexpr std::chrono::seconds kRefusalHold{60};
constexpr std::size_t kReadBuffer = 16 * 1024;
// A device waits for its twin GET; IoT Hub answers in milliseconds when it answers at all.
constexpr std::chrono::seconds kTwinGetTimeout{10};
constexpr std::size_t kMaxTwinGetsWaiting = 8;  ///< per identity, until it is authorised

std::optional<Node> node_of(hub::Subscription s) {
  switch (s) {
    case hub::Subscription::c2d:
      return Node::c2d;
    case hub::Subscription::methods:
      return Node::methods;
    case hub::Subscription::desired_properties:
      return Node::twin;
    default:
      return std::nullopt;
  }
}

bool none(hub::Subscriptions s) {
  return s.bits() == 0;
}

constexpr hub::Subscription kRelayed[] = {hub::Subscription::c2d, hub::Subscription::methods,
                                          hub::Subscription::desired_properties};

// IoT Hub's rejection conditions that no resend can fix.
core::ErrorCode sent_outcome(core::ErrorCode outcome, std::string_view condition) {
  if (!outcome) return {};
  if (condition == "amqp:unauthorized-access") return hub::Errc::not_authorized;
  if (condition == "amqp:link:message-size-exceeded") return hub::Errc::message_too_large;
  return hub::Errc::disconnected;
}

ops::LogFields fields_of(const core::ClientId& id) {
  return {.device_id = id.device, .module_id = id.module};
}

}  // namespace

std::shared_ptr<AmqpLink> AmqpLink::create(const UpstreamOptions& options, const core::Clock& clock,
                                           Strand strand, Callbacks callbacks) {
  return std::shared_ptr<AmqpLink>(
      new AmqpLink(options, clock, std::move(strand), std::move(callbacks)));
}

AmqpLink::AmqpLink(const UpstreamOptions& options, const core::Clock& clock, Strand strand,
                   Callbacks callbacks)
    : options_(options),
      clock_(clock),
      strand_(std::move(strand)),
      callbacks_(std::move(callbacks)),
      retry_timer_(strand_),
      tick_timer_(strand_),
      write_wake_(strand_, asio::steady_timer::time_point::max()) {}

AmqpLink::~AmqpLink() = default;

// --- the public side -----------------------------------------------------------------------------

void AmqpLink::send(core::Message message, hub::DoneCallback done) {
  if (stopped_) return done(hub::Errc::shutting_down);
  amqp_core::OutboundExtras extras;
  // IoT Hub stamps the connection's identity itself (as over MQTT: never $.cdid / $.cmid).
  extras.include_system_annotations = false;
  auto encoded = amqp_core::encode_message(message, extras);
  if (!encoded) return done(hub::Errc::invalid_request);
  const auto id = message.origin;
  auto& who = identity(id);
  if (who.auth == Auth::refused && clock_.steady_now() - who.refused_at < kRefusalHold) {
    return done(hub::Errc::not_authorized);
  }
  if (state_ == State::open && who.auth == Auth::authorised) {
    transmit(id, std::move(*encoded), std::move(done));
    return flush();
  }
  if (who.waiting.size() >= options_.max_pending_per_connection) {
    return done(hub::Errc::queue_full);
  }
  who.waiting.push_back({std::move(*encoded), std::move(done)});
  if (state_ == State::open) {
    if (who.auth == Auth::none || who.auth == Auth::refused) authenticate(id, who);
    return flush();
  }
  connect();
}

void AmqpLink::set_subscriptions(const core::ClientId& id, hub::Subscriptions subscriptions) {
  if (stopped_) return;
  // C2D exists for devices only (iot-hub-protocol.md §3.3).
  if (id.is_module()) subscriptions.remove(hub::Subscription::c2d);
  auto it = identities_.find(id);
  hub::Subscriptions relayed;
  for (auto s : kRelayed) {
    if (subscriptions.has(s)) relayed.add(s);
  }
  if (it == identities_.end() && none(relayed)) return;
  auto& who = identity(id);
  who.wanted = relayed;
  if (state_ != State::open) {
    if (needed()) connect();
    return;
  }
  if (who.auth == Auth::authorised) {
    apply_subscriptions(id, who);
  } else if (who.auth == Auth::none && !none(relayed)) {
    authenticate(id, who);
  }
  flush();
}

void AmqpLink::twin_request(const core::ClientId& id, TwinRequest request, TwinDone done) {
  if (stopped_) return done(hub::Errc::shutting_down);
  auto& who = identity(id);
  if (who.auth == Auth::refused && clock_.steady_now() - who.refused_at < kRefusalHold) {
    return done(hub::Errc::not_authorized);
  }
  if (state_ == State::open && who.auth == Auth::authorised) {
    send_twin_request(id, std::move(request), std::move(done));
    return flush();
  }
  if (who.twin_gets.size() >= kMaxTwinGetsWaiting) return done(hub::Errc::too_many_pending);
  who.twin_gets.push_back({std::move(request), std::move(done)});
  if (state_ != State::open) return connect();
  if (who.auth == Auth::none || who.auth == Auth::refused) authenticate(id, who);
  flush();
}

void AmqpLink::send_twin_request(const core::ClientId& id, TwinRequest twin, TwinDone done) {
  core::Message request;
  // An empty body is not a valid AMQP message for IoT Hub: a GET carries a single space.
  request.set_body(twin.body.empty() ? std::string(" ") : twin.body);
  amqp_core::OutboundExtras extras;
  extras.include_system_annotations = false;
  extras.annotations.emplace_back("operation", twin.operation);
  if (!twin.resource.empty()) extras.annotations.emplace_back("resource", twin.resource);
  const auto correlation = "twin-" + std::to_string(next_twin_get_++);
  extras.correlation_id = amqp_core::MessageId{amqp_core::MessageId::Type::string, correlation};
  auto encoded = amqp_core::encode_message(request, extras);
  if (!encoded) return done(hub::Errc::invalid_request);
  ++in_engine_;
  conn_->receive(id, Node::twin);  // the answer comes on the pair's receiving link
  auto sent = conn_->send(id, Node::twin, std::move(*encoded), 0);
  --in_engine_;
  if (!sent) return done(hub::Errc::queue_full);
  auto deadline = std::make_unique<asio::steady_timer>(strand_);
  deadline->expires_after(kTwinGetTimeout);
  deadline->async_wait([weak = weak_from_this(), correlation](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    auto node = self->twin_gets_.extract(correlation);
    if (!node.empty()) node.mapped().done(hub::Errc::timeout);
  });
  twin_gets_.emplace(correlation, PendingTwin{std::move(done), std::move(deadline)});
}

void AmqpLink::fail_twin_gets(Identity& who, core::ErrorCode ec) {
  auto waiting = std::move(who.twin_gets);
  who.twin_gets.clear();
  for (auto& w : waiting)
    w.done(ec);
}

void AmqpLink::answer_method(const core::ClientId& id, const std::string& request, int status,
                             std::string payload) {
  auto it = methods_.find(request);
  if (it == methods_.end() || it->second.id != id) return;
  auto pending = std::move(it->second);
  methods_.erase(it);
  if (!conn_ || state_ != State::open) return;  // the call ended with the connection
  core::Message reply;
  reply.set_body(payload);
  amqp_core::OutboundExtras extras;
  extras.include_system_annotations = false;
  extras.typed_properties.emplace_back("IoThub-status", std::int32_t{status});
  extras.correlation_id = pending.correlation_id;
  auto encoded = amqp_core::encode_message(reply, extras);
  if (!encoded) return;
  ++in_engine_;
  (void)conn_->send(id, Node::methods, std::move(*encoded), 0);
  --in_engine_;
  flush();
}

void AmqpLink::ensure_connected() {
  if (stopped_) return;
  auto& gw = identity({options_.edge_device_id, ""});
  gw.last_activity = clock_.steady_now();
  if (state_ == State::open) {
    if (gw.auth != Auth::authorised && gw.auth != Auth::pending) authenticate(gw_id(), gw);
    return flush();
  }
  connect();
}

void AmqpLink::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  ++epoch_;
  retry_timer_.cancel();
  tick_timer_.cancel();
  write_wake_.cancel();
  auto in_flight = std::move(in_flight_);
  for (auto& [token, f] : in_flight)
    f.done(hub::Errc::shutting_down);
  for (auto& [id, who] : identities_) {
    if (who.renewal) who.renewal->cancel();
    fail_waiting(who, hub::Errc::shutting_down);
    fail_twin_gets(who, hub::Errc::shutting_down);
  }
  identities_.clear();
  auto twin_gets = std::move(twin_gets_);
  twin_gets_.clear();
  for (auto& [correlation, pending] : twin_gets)
    pending.done(hub::Errc::shutting_down);
  if (transport_) transport_->close();
  transport_.reset();
  conn_.reset();
  state_ = State::idle;
}

void AmqpLink::sweep() {
  if (stopped_) return;
  const auto now = clock_.steady_now();
  for (auto it = identities_.begin(); it != identities_.end();) {
    auto& who = it->second;
    const bool busy = !none(who.wanted) || !who.waiting.empty() || !who.twin_gets.empty() ||
                      std::any_of(in_flight_.begin(), in_flight_.end(),
                                  [&](const auto& f) { return f.second.id == it->first; });
    if (busy || now - who.last_activity < options_.idle_timeout) {
      ++it;
      continue;
    }
    if (who.renewal) who.renewal->cancel();
    if (conn_ && state_ == State::open) {
      ++in_engine_;
      conn_->close_identity(it->first);
      --in_engine_;
    }
    it = identities_.erase(it);
  }
  if (identities_.empty() && conn_ && state_ == State::open) {
    closing_ = true;
    ++in_engine_;
    conn_->close();
    --in_engine_;
  }
  flush();
}

std::size_t AmqpLink::authorised_identities() const {
  return static_cast<std::size_t>(
      std::count_if(identities_.begin(), identities_.end(),
                    [](const auto& i) { return i.second.auth == Auth::authorised; }));
}

// --- identities ----------------------------------------------------------------------------------

core::ClientId AmqpLink::gw_id() const {
  return {options_.edge_device_id, ""};
}

AmqpLink::Identity& AmqpLink::identity(const core::ClientId& id) {
  auto [it, added] = identities_.try_emplace(id);
  it->second.last_activity = clock_.steady_now();
  return it->second;
}

void AmqpLink::authenticate(const core::ClientId& id, Identity& who) {
  const bool own = id == gw_id();
  if (own && options_.device_key.empty() && !options_.identity_cert.empty()) {
    // X.509 provisioning: the TLS client certificate authenticates the gateway itself.
    who.auth = Auth::authorised;
    return on_authorised(id, who);
  }
  auto credentials = callbacks_.credentials ? callbacks_.credentials(id)
                                            : connect_credentials(options_, id, clock_.now());
  if (!credentials) {
    ops::log(spdlog::level::err, fields_of(id),
             "upstream: no credentials for {}: {} (see docs/upstream.md: children need "
             "[provisioning] edgehub_module_key)",
             id.to_string(), credentials.error().message());
    who.auth = Auth::refused;
    who.refused_at = clock_.steady_now();
    fail_waiting(who, hub::Errc::invalid_request);
    fail_twin_gets(who, hub::Errc::invalid_request);
    return;
  }
  if (who.auth != Auth::authorised) who.auth = Auth::pending;
  // On behalf of a child, the chain lets a parent gateway or IoT Hub place a nested identity.
  ++in_engine_;
  who.request =
      conn_->put_token(cbs_audience(options_, id), credentials->password, credentials->auth_chain);
  --in_engine_;
  who.expires_at = credentials->expires_at;
  token_requests_[who.request] = id;
}

void AmqpLink::arm_renewal(const core::ClientId& id, Identity& who) {
  if (who.expires_at == core::SystemTime::max()) return;
  if (!who.renewal) who.renewal = std::make_unique<asio::steady_timer>(strand_);
  const auto left = who.expires_at - clock_.now() - options_.token_renew_before;
  who.renewal->expires_after(std::max<std::chrono::steady_clock::duration>(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(left),
      std::chrono::seconds(1)));
  who.renewal->async_wait([weak = weak_from_this(), id, epoch = epoch_](auto ec) {
    auto self = weak.lock();
    if (ec || !self || self->stopped_ || self->epoch_ != epoch) return;
    auto it = self->identities_.find(id);
    if (it == self->identities_.end() || self->state_ != State::open) return;
    // A new put-token for the same audience on the same connection (iot-hub-protocol.md §3.2).
    self->authenticate(id, it->second);
    self->flush();
  });
}

void AmqpLink::on_authorised(const core::ClientId& id, Identity& who) {
  if (callbacks_.on_event) callbacks_.on_event(id, LinkEvent::connected);
  auto waiting = std::move(who.waiting);
  who.waiting.clear();
  for (auto& w : waiting)
    transmit(id, std::move(w.encoded), std::move(w.done));
  apply_subscriptions(id, who);
  auto twin_gets = std::move(who.twin_gets);
  who.twin_gets.clear();
  for (auto& w : twin_gets)
    send_twin_request(id, std::move(w.request), std::move(w.done));
}

void AmqpLink::apply_subscriptions(const core::ClientId& id, Identity& who) {
  ++in_engine_;
  for (auto s : kRelayed) {
    const auto node = *node_of(s);
    if (who.wanted.has(s) && !who.held.has(s)) {
      conn_->receive(id, node);
      who.held.add(s);
      if (node == Node::twin) {
        // Desired-property notifications flow once asked for (iot-hub-protocol.md §7.3).
        core::Message request;
        request.set_body(" ");
        amqp_core::OutboundExtras extras;
        extras.include_system_annotations = false;
        extras.annotations.emplace_back("operation", std::string("PUT"));
        extras.annotations.emplace_back("resource",
                                        std::string("/notifications/twin/properties/desired"));
        extras.correlation_id =
            amqp_core::MessageId{amqp_core::MessageId::Type::string, core::random_uuid()};
        if (auto encoded = amqp_core::encode_message(request, extras)) {
          (void)conn_->send(id, Node::twin, std::move(*encoded), 0);
        }
      }
    } else if (!who.wanted.has(s) && who.held.has(s)) {
      conn_->stop_receiving(id, node);
      who.held.remove(s);
    }
  }
  --in_engine_;
}

void AmqpLink::fail_waiting(Identity& who, core::ErrorCode ec) {
  auto waiting = std::move(who.waiting);
  who.waiting.clear();
  for (auto& w : waiting)
    w.done(ec);
}

void AmqpLink::transmit(const core::ClientId& id, std::vector<std::byte> encoded,
                        hub::DoneCallback done) {
  const auto token = next_token_++;
  ++in_engine_;
  auto r = conn_->send(id, Node::events, std::move(encoded), token);
  --in_engine_;
  if (!r) return done(hub::Errc::queue_full);
  in_flight_.emplace(token, InFlight{id, std::move(done)});
}

bool AmqpLink::needed() const {
  return std::any_of(identities_.begin(), identities_.end(), [](const auto& i) {
    return !none(i.second.wanted) || !i.second.waiting.empty();
  });
}

// --- the connection ------------------------------------------------------------------------------

void AmqpLink::connect() {
  if (stopped_ || state_ != State::idle) return;
  retry_timer_.cancel();
  retry_armed_ = false;
  state_ = State::connecting;
  closing_ = false;
  const auto epoch = ++epoch_;
  asio::co_spawn(
      strand_, [self = shared_from_this(), epoch] { return self->run(epoch); }, asio::detached);
}

asio::awaitable<void> AmqpLink::run(std::uint64_t epoch) {
  auto self = shared_from_this();
  const auto endpoint = upstream_endpoint(
      options_, options_.device_key.empty() && !options_.identity_cert.empty(), "AMQPWSB10");
  auto connected = co_await net::connect_client(strand_, endpoint);
  if (epoch != epoch_) co_return;
  if (!connected) {
    on_connection_ended(epoch, connected.error().message());
    co_return;
  }
  transport_ = std::shared_ptr<net::Transport>(std::move(*connected));
  amqp_core::ClientOptions o;
  o.container_id = options_.edge_device_id;
  o.hostname = options_.iothub_hostname;
  o.client_version = "edgehubd/" + std::string(core::version());
  conn_ = std::make_unique<amqp_core::ClientConnection>(
      std::move(o), static_cast<amqp_core::ClientHandler&>(*this));
  auto transport = transport_;
  asio::co_spawn(
      strand_, [self, epoch] { return self->write_loop(epoch); }, asio::detached);
  flush();
  std::vector<std::byte> buffer(kReadBuffer);
  std::string why;
  for (;;) {
    auto n = co_await transport->read_some(asio::buffer(buffer));
    if (epoch != epoch_) co_return;
    if (!n) {
      why = n.error().message();
      ++in_engine_;
      conn_->on_input_closed();
      --in_engine_;
      break;
    }
    ++in_engine_;
    conn_->on_input(std::span(buffer.data(), *n));
    --in_engine_;
    flush();
    if (conn_->finished()) break;
  }
  if (auto text = conn_->error_text(); !text.empty()) why = text;
  on_connection_ended(epoch, why);
}

void AmqpLink::on_connection_ended(std::uint64_t epoch, const std::string& why) {
  if (epoch != epoch_ || stopped_) return;
  const bool was_open = state_ == State::open;
  ++epoch_;  // the writer, the tick and the renewals of this connection stop
  state_ = State::idle;
  if (transport_) transport_->close();
  transport_.reset();
  conn_.reset();
  outbox_.clear();
  tick_timer_.cancel();
  write_wake_.cancel();
  methods_.clear();
  token_requests_.clear();
  auto twin_gets = std::move(twin_gets_);
  twin_gets_.clear();
  for (auto& [correlation, pending] : twin_gets)
    pending.done(hub::Errc::disconnected);
  auto in_flight = std::move(in_flight_);
  in_flight_.clear();
  for (auto& [token, f] : in_flight)
    f.done(hub::Errc::disconnected);
  for (auto& [id, who] : identities_) {
    if (who.renewal) who.renewal->cancel();
    if (who.auth != Auth::refused) who.auth = Auth::none;
    who.held = {};
    fail_waiting(who, hub::Errc::disconnected);
    fail_twin_gets(who, hub::Errc::disconnected);
  }
  if (closing_) {
    ops::log(spdlog::level::debug, {}, "upstream AMQP connection closed: no identity left");
  } else {
    const bool proxied = options_.proxy && options_.transport == Transport::amqp_websocket;
    ops::log(spdlog::level::warn, {}, "upstream AMQP connection to {}:{}{} {}: {}",
             options_.dial_host, options_.port, proxied ? " through the proxy" : "",
             was_open ? "lost" : "failed", why);
    if (callbacks_.on_event) {
      callbacks_.on_event(gw_id(), was_open ? LinkEvent::lost : LinkEvent::unreachable);
    }
  }
  if (was_open) retry_delay_ = std::chrono::seconds(1);
  if (needed()) retry_later();
}

void AmqpLink::retry_later() {
  if (retry_armed_ || stopped_) return;
  retry_armed_ = true;
  retry_timer_.expires_after(retry_delay_);
  retry_delay_ = std::min(retry_delay_ * 2, kMaxRetryDelay);
  retry_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->retry_armed_ = false;
    if (self->needed()) self->connect();
  });
}

void AmqpLink::flush() {
  if (in_engine_ > 0 || !conn_) return;
  ++in_engine_;
  for (;;) {
    auto out = conn_->output();
    if (out.empty()) break;
    outbox_.emplace_back(out.begin(), out.end());
    conn_->output_done(out.size());
  }
  --in_engine_;
  if (!outbox_.empty()) write_wake_.cancel();
  arm_tick();
}

asio::awaitable<void> AmqpLink::write_loop(std::uint64_t epoch) {
  auto self = shared_from_this();
  auto transport = transport_;
  while (epoch == epoch_) {
    if (outbox_.empty()) {
      boost::system::error_code ec;
      write_wake_.expires_at(asio::steady_timer::time_point::max());
      co_await write_wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    auto bytes = std::move(outbox_.front());
    outbox_.pop_front();
    auto r = co_await transport->write(asio::buffer(bytes));
    if (!r) {
      transport->close();  // the reader sees the end and reports it
      co_return;
    }
  }
}

void AmqpLink::arm_tick() {
  if (!conn_) return;
  ++in_engine_;
  const auto deadline = conn_->tick(clock_.steady_now());
  --in_engine_;
  if (!deadline) return;
  if (tick_timer_.expiry() == *deadline) return;
  tick_timer_.expires_at(*deadline);
  tick_timer_.async_wait([weak = weak_from_this(), epoch = epoch_](const auto& ec) {
    auto self = weak.lock();
    if (ec || !self || self->epoch_ != epoch) return;
    self->flush();
  });
}

// --- amqp_core::ClientHandler --------------------------------------------------------------------

void AmqpLink::on_opened() {
  state_ = State::open;
  retry_delay_ = std::chrono::seconds(1);
  for (auto& [id, who] : identities_) {
    if (who.auth == Auth::none) authenticate(id, who);
  }
}

void AmqpLink::on_token_reply(std::uint64_t request, int status, std::string description) {
  auto node = token_requests_.extract(request);
  if (node.empty()) return;
  const auto id = node.mapped();
  auto it = identities_.find(id);
  if (it == identities_.end() || it->second.request != request) return;
  auto& who = it->second;
  if (status == 200 || status == 202) {
    const bool first = who.auth != Auth::authorised;
    who.auth = Auth::authorised;
    arm_renewal(id, who);
    if (first) on_authorised(id, who);
    return;
  }
  ops::log(spdlog::level::warn, fields_of(id), "upstream refused {} (CBS status {}): {}",
           id.to_string(), status, description);
  who.auth = Auth::refused;
  who.refused_at = clock_.steady_now();
  who.held = {};
  fail_waiting(who, hub::Errc::not_authorized);
  fail_twin_gets(who, hub::Errc::not_authorized);
  conn_->close_identity(id);
  if (callbacks_.on_event) callbacks_.on_event(id, LinkEvent::refused);
}

void AmqpLink::on_sent(std::uint64_t token, core::ErrorCode outcome, std::string condition) {
  auto node = in_flight_.extract(token);
  if (node.empty()) return;
  auto& f = node.mapped();
  if (auto it = identities_.find(f.id); it != identities_.end()) {
    it->second.last_activity = clock_.steady_now();
  }
  const auto result = sent_outcome(outcome, condition);
  if (!result && callbacks_.on_event) callbacks_.on_event(f.id, LinkEvent::acked);
  if (result && !condition.empty()) {
    ops::log(spdlog::level::info, fields_of(f.id), "upstream rejected a message: {}", condition);
  }
  f.done(result);
}

void AmqpLink::on_received(const core::ClientId& id, Node node,
                           amqp_core::ClientDeliveryId delivery,
                           amqp_core::DecodedMessage message) {
  if (auto it = identities_.find(id); it != identities_.end()) {
    it->second.last_activity = clock_.steady_now();
  }
  switch (node) {
    case Node::c2d: {
      message.message.origin = id;
      auto settle = [weak = weak_from_this(), epoch = epoch_, delivery](amqp_core::Disposition d) {
        auto self = weak.lock();
        if (!self || self->epoch_ != epoch || !self->conn_) return;
        ++self->in_engine_;
        self->conn_->settle(delivery, d);
        --self->in_engine_;
        self->flush();
      };
      if (!callbacks_.on_c2d) return conn_->settle(delivery, amqp_core::Disposition::released);
      return callbacks_.on_c2d(id, std::move(message.message), std::move(settle));
    }
    case Node::methods: {
      conn_->settle(delivery, amqp_core::Disposition::accepted);
      const auto* name = message.message.find_app("IoThub-methodname");
      if (!name || !name->value || !callbacks_.on_method) return;
      auto request = std::to_string(next_method_++);
      methods_[request] = {id, delivery, message.correlation_id};
      return callbacks_.on_method(id, *name->value, std::move(request),
                                  std::string(message.message.body_text()));
    }
    case Node::twin: {
      conn_->settle(delivery, amqp_core::Disposition::accepted);
      if (message.correlation_id) {
        if (auto pending = twin_gets_.extract(message.correlation_id->text); !pending.empty()) {
          const auto* status = message.annotation("status");
          TwinReply reply;
          if (!status ||
              std::from_chars(status->data(), status->data() + status->size(), reply.status).ec !=
                  std::errc{}) {
            return pending.mapped().done(hub::Errc::invalid_request);
          }
          reply.body = std::string(message.message.body_text());
          return pending.mapped().done(std::move(reply));
        }
        // The answer to our desired-notifications PUT.
        const auto* status = message.annotation("status");
        if (status && !status->starts_with("2")) {
          ops::log(spdlog::level::warn, fields_of(id),
                   "upstream refused desired-property notifications (status {})", *status);
        }
        return;
      }
      if (callbacks_.on_desired) {
        callbacks_.on_desired(id, std::string(message.message.body_text()));
      }
      return;
    }
    default:
      conn_->settle(delivery, amqp_core::Disposition::rejected);
      return;
  }
}

void AmqpLink::on_link_closed(const core::ClientId& id, Node node, std::string condition) {
  auto it = identities_.find(id);
  if (it == identities_.end()) return;
  auto& who = it->second;
  ops::log(spdlog::level::info, fields_of(id), "upstream closed a link of {}: {}", id.to_string(),
           condition.empty() ? "no condition" : condition);
  for (auto s : kRelayed) {
    if (node_of(s) == node) who.held.remove(s);
  }
  if (condition.starts_with("amqp:unauthorized-access") && who.auth == Auth::authorised) {
    // The token lapsed at the hub: authenticate again, then re-attach what is still wanted.
    who.auth = Auth::none;
    if (!none(who.wanted) || !who.waiting.empty()) authenticate(id, who);
  }
}

}  // namespace edgehub::upstream
