#include "upstream/mqtt_link.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "edgehub/hub/errors.hpp"
#include "edgehub/mqtt_proto/codec.hpp"
#include "edgehub/net/client_connect.hpp"
#include "edgehub/ops/logging.hpp"
#include "edgehub/upstream/credentials.hpp"
#include "upstream/endpoint.hpp"

namespace edgehub::upstream {

namespace asio = boost::asio;
namespace proto = edgehub::mqtt_proto;

namespace {

// MQTT 3.1.1 CONNACK codes IoT Hub uses for an identity it will not accept (iot-hub-protocol.md
// §2.1: the SDKs map 2, 4 and 5 to "unauthorized"); 1 and 3 are worth retrying.
bool refusal(int rc) {
  return rc == 2 || rc == 4 || rc == 5;
}

constexpr std::chrono::seconds kMaxRetryDelay{60};
// One write carries at most this much of the waiting publishes; the rest goes in the next one.
constexpr std::size_t kMaxWriteBytes = 256 * 1024;
// Control packets (PUBACKs for the hub's publishes above all) the writer has not taken yet: more
// than this means the server sends but does not read, and the connection is given up.
constexpr std::size_t kMaxOutboxBytes = 1024 * 1024;
// Packet ids are 16 bits and never reused while in flight.
constexpr std::size_t kMaxInFlightIds = 65'000;

std::chrono::steady_clock::duration until(core::SteadyTime deadline, core::SteadyTime now) {
  return std::max<std::chrono::steady_clock::duration>(deadline - now,
                                                       std::chrono::milliseconds(1));
}

}  // namespace

std::shared_ptr<MqttLink> MqttLink::create(core::ClientId id, const UpstreamOptions& options,
                                           const core::Clock& clock, Strand strand,
                                           Callbacks callbacks) {
  return std::shared_ptr<MqttLink>(
      new MqttLink(std::move(id), options, clock, std::move(strand), std::move(callbacks)));
}

MqttLink::MqttLink(core::ClientId id, const UpstreamOptions& options, const core::Clock& clock,
                   Strand strand, Callbacks callbacks)
    : id_(std::move(id)),
      options_(options),
      clock_(clock),
      strand_(std::move(strand)),
      callbacks_(std::move(callbacks)),
      renewal_timer_(strand_),
      retry_timer_(strand_),
      keep_alive_timer_(strand_),
      write_wake_(strand_, asio::steady_timer::time_point::max()),
      last_activity_(clock.steady_now()) {}

MqttLink::~MqttLink() = default;

void MqttLink::touch() {
  last_activity_ = clock_.steady_now();
}

bool MqttLink::idle_for(std::chrono::seconds idle) const {
  return quiet() && filters_.empty() && clock_.steady_now() - last_activity_ >= idle;
}

// --- the public side -----------------------------------------------------------------------------

void MqttLink::publish(std::string topic, std::vector<std::byte> payload, int qos,
                       hub::DoneCallback done) {
  if (stopped_) {
    if (done) done(hub::Errc::shutting_down);
    return;
  }
  if (pending() >= std::min(options_.max_pending_per_connection, kMaxInFlightIds)) {
    if (done) done(hub::Errc::queue_full);
    return;
  }
  touch();
  waiting_.push_back({std::move(topic), std::move(payload), qos, std::move(done)});
  if (state_ == State::idle) return connect();
  if (state_ == State::connected && !renewing_) wake_writer();
}

void MqttLink::set_filters(std::vector<std::string> filters) {
  const bool changed = filters != filters_;
  filters_ = std::move(filters);
  if (filters_.empty() || stopped_) return;
  if (state_ == State::idle) {
    connect();
  } else if (state_ == State::connected && changed) {
    // IoT Hub keeps what was subscribed before; subscribing again is harmless.
    subscribe_all();
  }
}

void MqttLink::ensure_connected() {
  if (state_ == State::idle) connect();
}

void MqttLink::close(core::ErrorCode reason) {
  renewal_timer_.cancel();
  retry_timer_.cancel();
  retry_armed_ = false;
  filters_.clear();
  renewing_ = false;
  fail_all(reason);
  if (state_ == State::connected) return disconnect();
  if (state_ == State::connecting) {
    ++epoch_;  // the attempt is abandoned: its coroutines see the new epoch and end
    drop_connection();
    state_ = State::idle;
  }
}

void MqttLink::shutdown() {
  stopped_ = true;
  ++epoch_;
  renewal_timer_.cancel();
  retry_timer_.cancel();
  keep_alive_timer_.cancel();
  write_wake_.cancel();
  fail_all(hub::Errc::shutting_down);
  // No DISCONNECT: the executor may no longer run. IoT Hub treats the closed socket as a
  // disconnect, and a clean session leaves nothing behind.
  if (transport_) transport_->close();
  transport_.reset();
  outbox_.clear();
  subscribing_.clear();
  state_ = State::idle;
}

// --- the connection ------------------------------------------------------------------------------

void MqttLink::connect() {
  if (stopped_ || state_ != State::idle) return;
  retry_timer_.cancel();
  retry_armed_ = false;
  auto credentials = callbacks_.credentials ? callbacks_.credentials(id_)
                                            : connect_credentials(options_, id_, clock_.now());
  if (!credentials) {
    ops::log(spdlog::level::err, {.device_id = id_.device, .module_id = id_.module},
             "upstream: no credentials for {}: {} (see docs/upstream.md: children need "
             "[provisioning] edgehub_module_key)",
             id_.to_string(), credentials.error().message());
    fail_all(hub::Errc::invalid_request);
    return;
  }
  const auto epoch = ++epoch_;
  state_ = State::connecting;
  connect_deadline_ = clock_.steady_now() + options_.operation_timeout;
  arm_renewal(credentials->expires_at);
  asio::co_spawn(
      strand_,
      [self = shared_from_this(), epoch, c = std::move(*credentials)]() mutable {
        return self->run(epoch, std::move(c));
      },
      asio::detached);
}

asio::awaitable<void> MqttLink::run(std::uint64_t epoch, ConnectCredentials credentials) {
  auto self = shared_from_this();
  auto connected = co_await net::connect_client(
      strand_, upstream_endpoint(options_, credentials.use_client_certificate, "mqtt"));
  if (epoch != epoch_) co_return;
  if (!connected) {
    on_connection_ended(epoch, connected.error().message(), -1);
    co_return;
  }
  std::shared_ptr<net::Transport> transport(std::move(*connected));
  transport_ = transport;

  proto::Connect connect;
  connect.clean_session = true;
  connect.keep_alive =
      static_cast<std::uint16_t>(std::min<std::int64_t>(options_.keep_alive.count(), 65'535));
  connect.client_id = id_.to_string();
  connect.username = std::move(credentials.username);
  if (!credentials.password.empty()) {
    const auto* p = reinterpret_cast<const std::byte*>(credentials.password.data());
    connect.password.emplace(p, p + credentials.password.size());
  }
  queue(connect);
  last_sent_ = last_received_ = clock_.steady_now();
  ping_outstanding_ = false;
  arm_keep_alive();
  asio::co_spawn(strand_, write_loop(epoch, transport), asio::detached);

  proto::Decoder decoder;
  std::string why;
  int connack_rc = -1;
  for (;;) {
    auto bytes = co_await transport->read_available();
    if (epoch != epoch_) co_return;
    if (!bytes) {
      why = bytes.error().message();
      break;
    }
    last_received_ = clock_.steady_now();
    ping_outstanding_ = false;
    decoder.feed(*bytes);
    for (;;) {
      auto packet = decoder.next();
      if (!packet) {
        why = protocol_error("malformed packet: " + packet.error().message());
        break;
      }
      if (!*packet) break;
      why = on_packet(std::move(**packet), connack_rc);
      // A callback may have closed or shut the link down.
      if (epoch != epoch_) co_return;
      if (!why.empty()) break;
    }
    if (!why.empty()) break;
  }
  transport->close();
  on_connection_ended(epoch, why, connack_rc);
}

asio::awaitable<void> MqttLink::write_loop(std::uint64_t epoch,
                                           std::shared_ptr<net::Transport> transport) {
  auto self = shared_from_this();
  std::vector<std::byte> batch;
  for (;;) {
    if (epoch != epoch_) co_return;
    batch.clear();
    std::swap(batch, outbox_);  // the two buffers trade places: both keep their capacity
    encode_waiting(batch);
    if (epoch != epoch_) co_return;  // a QoS 0 callback closed the link
    if (batch.empty()) {
      if (state_ == State::disconnecting) {
        // DISCONNECT is out: end the connection; the reader reports the end.
        co_await transport->shutdown();
        transport->close();
        co_return;
      }
      boost::system::error_code ec;
      write_wake_.expires_at(asio::steady_timer::time_point::max());
      co_await write_wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    auto written = co_await transport->write(asio::buffer(batch));
    if (epoch != epoch_) co_return;
    if (!written) {
      transport->close();  // the reader sees the end and reports it
      co_return;
    }
    last_sent_ = clock_.steady_now();
  }
}

void MqttLink::wake_writer() {
  write_wake_.cancel();
}

void MqttLink::queue(const proto::Packet& packet) {
  if (auto r = proto::encode(packet, outbox_); !r) {
    ops::log(spdlog::level::warn, {.device_id = id_.device, .module_id = id_.module},
             "upstream: cannot encode MQTT {} of {}: {}",
             proto::packet_type_name(proto::packet_type(packet)), id_.to_string(),
             r.error().message());
    return;
  }
  if (outbox_.size() > kMaxOutboxBytes && transport_) {
    ops::log(spdlog::level::warn, {.device_id = id_.device, .module_id = id_.module},
             "upstream connection of {}: the server does not read what it is sent; closing",
             id_.to_string());
    transport_->close();
    return;
  }
  wake_writer();
}

// The waiting publishes, in order, while the connection is open and no renewal holds them.
void MqttLink::encode_waiting(std::vector<std::byte>& out) {
  if (state_ != State::connected || renewing_) return;
  std::vector<hub::DoneCallback> handed_over;  // QoS 0: done once on the connection
  std::vector<hub::DoneCallback> refused;
  while (!waiting_.empty() && out.size() < kMaxWriteBytes) {
    auto w = std::move(waiting_.front());
    waiting_.pop_front();
    proto::Publish p;
    p.qos = w.qos > 0 ? proto::QoS::at_least_once : proto::QoS::at_most_once;
    p.topic = std::move(w.topic);
    p.payload = std::move(w.payload);
    if (p.qos == proto::QoS::at_least_once) p.packet_id = next_packet_id();
    if (auto r = proto::encode(proto::Packet(std::move(p)), out); !r) {
      ops::log(spdlog::level::warn, {.device_id = id_.device, .module_id = id_.module},
               "upstream: message of {} not sent: {}", id_.to_string(), r.error().message());
      if (w.done) refused.push_back(std::move(w.done));
      continue;
    }
    if (w.qos > 0) {
      inflight_.emplace(static_cast<std::uint16_t>(last_packet_id_), std::move(w.done));
    } else if (w.done) {
      handed_over.push_back(std::move(w.done));
    }
  }
  for (auto& d : refused)
    d(hub::Errc::invalid_request);
  for (auto& d : handed_over)
    d({});
}

std::uint16_t MqttLink::next_packet_id() {
  do {
    last_packet_id_ =
        static_cast<std::uint16_t>(last_packet_id_ == 65'535 ? 1 : last_packet_id_ + 1);
  } while (inflight_.contains(last_packet_id_) || subscribing_.contains(last_packet_id_));
  return last_packet_id_;
}

void MqttLink::arm_keep_alive() {
  const auto now = clock_.steady_now();
  core::SteadyTime deadline;
  if (state_ == State::connecting) {
    deadline = connect_deadline_;
  } else if (options_.keep_alive.count() > 0) {
    const auto ka =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.keep_alive);
    deadline = std::min({last_sent_ + ka, last_received_ + ka, last_received_ + ka * 3 / 2});
    if (ping_outstanding_) deadline = last_received_ + ka * 3 / 2;
  } else {
    return;
  }
  keep_alive_timer_.expires_after(until(deadline, now));
  keep_alive_timer_.async_wait([weak = weak_from_this(), epoch = epoch_](const auto& ec) {
    auto self = weak.lock();
    if (ec || !self || self->epoch_ != epoch || !self->transport_) return;
    self->on_keep_alive();
  });
}

void MqttLink::on_keep_alive() {
  const auto now = clock_.steady_now();
  const ops::LogFields fields{.device_id = id_.device, .module_id = id_.module};
  if (state_ == State::connecting) {
    if (now < connect_deadline_) return arm_keep_alive();
    ops::log(spdlog::level::info, fields, "upstream connection of {}: no CONNACK within {} s",
             id_.to_string(), options_.operation_timeout.count());
    transport_->close();  // the reader reports the failure
    return;
  }
  const auto ka =
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.keep_alive);
  if (now - last_received_ >= ka * 3 / 2) {
    ops::log(spdlog::level::info, fields,
             "upstream connection of {}: nothing from the server for 1.5 x keep-alive ({} s)",
             id_.to_string(), options_.keep_alive.count());
    transport_->close();  // the reader reports the loss
    return;
  }
  if (!ping_outstanding_ && (now - last_sent_ >= ka || now - last_received_ >= ka)) {
    ping_outstanding_ = true;
    queue(proto::Pingreq{});
  }
  arm_keep_alive();
}

// --- what the server sends -----------------------------------------------------------------------

std::string MqttLink::on_packet(proto::Packet&& packet, int& connack_rc) {
  const auto type = proto::packet_type(packet);
  if (state_ == State::connecting && type != proto::PacketType::connack) {
    return protocol_error(std::string(proto::packet_type_name(type)) + " before CONNACK");
  }
  switch (type) {
    case proto::PacketType::connack: {
      if (state_ != State::connecting) return protocol_error("a second CONNACK");
      const auto rc = static_cast<int>(std::get<proto::Connack>(packet).return_code);
      if (rc != 0) {
        connack_rc = rc;
        return "CONNACK " + std::to_string(rc);
      }
      on_connected();
      return {};
    }
    case proto::PacketType::puback:
      on_puback(std::get<proto::Puback>(packet).packet_id);
      return {};
    case proto::PacketType::suback:
      on_suback(std::get<proto::Suback>(packet));
      return {};
    case proto::PacketType::publish: {
      auto& p = std::get<proto::Publish>(packet);
      // Only QoS 0 and 1 are subscribed, so the server may not send QoS 2 (MQTT-3.8.4-6).
      if (p.qos == proto::QoS::exactly_once) return protocol_error("a QoS 2 PUBLISH");
      on_server_publish(std::move(p));
      return {};
    }
    case proto::PacketType::pingresp:
      return {};
    default:
      return protocol_error("an unexpected " + std::string(proto::packet_type_name(type)));
  }
}

std::string MqttLink::protocol_error(std::string why) {
  ops::log(spdlog::level::warn, {.device_id = id_.device, .module_id = id_.module},
           "upstream connection of {} to {}:{}: the server sent {}; closing it", id_.to_string(),
           options_.dial_host, options_.port, why);
  if (callbacks_.on_protocol_error) callbacks_.on_protocol_error(id_, why);
  return why;
}

void MqttLink::on_connected() {
  state_ = State::connected;
  renewing_ = false;  // a fresh token
  retry_delay_ = std::chrono::seconds(1);
  touch();
  arm_keep_alive();  // from the CONNACK deadline to the keep-alive
  ops::log(spdlog::level::debug, {.device_id = id_.device, .module_id = id_.module},
           "upstream connection of {} open", id_.to_string());
  callbacks_.on_event(id_, LinkEvent::connected);
  if (state_ != State::connected) return;  // closed by the callback
  subscribe_all();
  wake_writer();
}

void MqttLink::on_puback(std::uint16_t packet_id) {
  auto node = inflight_.extract(packet_id);
  if (node.empty()) return;  // not ours to complete (MQTT-4.3.2: the server must not, anyway)
  touch();
  if (node.mapped()) node.mapped()({});
  callbacks_.on_event(id_, LinkEvent::acked);
  renew_if_quiet();
}

void MqttLink::on_suback(const proto::Suback& suback) {
  auto node = subscribing_.extract(suback.packet_id);
  if (node.empty()) return;
  const auto& filters = node.mapped();
  for (std::size_t i = 0; i < suback.return_codes.size() && i < filters.size(); ++i) {
    if (suback.return_codes[i] == proto::kSubackFailure) {
      ops::log(spdlog::level::warn, {.device_id = id_.device, .module_id = id_.module},
               "upstream subscription of {} to {} refused", id_.to_string(), filters[i]);
    }
  }
}

void MqttLink::on_server_publish(proto::Publish&& p) {
  if (p.qos == proto::QoS::at_least_once) queue(proto::Puback{p.packet_id});
  touch();
  if (!callbacks_.on_message) return;
  std::string payload(reinterpret_cast<const char*>(p.payload.data()), p.payload.size());
  callbacks_.on_message(id_, std::move(p.topic), std::move(payload));
}

void MqttLink::subscribe_all() {
  if (state_ != State::connected) return;
  for (const auto& f : filters_) {
    proto::Subscribe s;
    s.packet_id = next_packet_id();
    const auto qos =
        f.rfind("devices/", 0) == 0 ? proto::QoS::at_least_once : proto::QoS::at_most_once;
    s.subscriptions.push_back({f, qos});
    subscribing_.emplace(s.packet_id, std::vector<std::string>{f});
    queue(s);
  }
}

// --- the end of a connection ---------------------------------------------------------------------

void MqttLink::drop_connection() {
  if (transport_) transport_->close();
  transport_.reset();
  outbox_.clear();
  subscribing_.clear();
  keep_alive_timer_.cancel();
  wake_writer();
}

void MqttLink::on_connection_ended(std::uint64_t epoch, const std::string& why, int connack_rc) {
  if (epoch != epoch_ || stopped_) return;
  const auto was = state_;
  ++epoch_;  // the writer and the keep-alive of this connection stop
  state_ = State::idle;
  drop_connection();
  const ops::LogFields fields{.device_id = id_.device, .module_id = id_.module};
  switch (was) {
    case State::connecting:
      renewal_timer_.cancel();
      if (refusal(connack_rc)) {
        ops::log(spdlog::level::warn, fields,
                 "upstream refused {} (CONNACK {}): its messages are dropped, not retried",
                 id_.to_string(), connack_rc);
        fail_all(hub::Errc::not_authorized);
        callbacks_.on_event(id_, LinkEvent::refused);
        return;
      }
      ops::log(spdlog::level::info, fields, "upstream connection of {} to {}:{}{} failed: {}",
               id_.to_string(), options_.dial_host, options_.port,
               options_.proxy && options_.transport == Transport::mqtt_websocket
                   ? " through the proxy"
                   : "",
               why);
      fail_all(hub::Errc::disconnected);
      callbacks_.on_event(id_, LinkEvent::unreachable);
      retry_later();
      return;
    case State::connected:
      renewing_ = false;
      renewal_timer_.cancel();
      ops::log(spdlog::level::info, fields, "upstream connection of {} lost: {}", id_.to_string(),
               why);
      fail_all(hub::Errc::disconnected);
      callbacks_.on_event(id_, LinkEvent::lost);
      retry_later();
      return;
    case State::disconnecting:
      // We ended it: for a new token, or close() (then only a new publish or filter needs it).
      if (std::exchange(renewing_, false) || !waiting_.empty() || !filters_.empty()) connect();
      return;
    case State::idle:
      return;
  }
}

void MqttLink::retry_later() {
  // Publishes re-open the connection themselves (paced by the forwarder's back-off); only
  // subscriptions need a link of their own to come back.
  if (filters_.empty() || retry_armed_ || stopped_) return;
  retry_armed_ = true;
  retry_timer_.expires_after(retry_delay_);
  retry_delay_ = std::min(retry_delay_ * 2, kMaxRetryDelay);
  retry_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->retry_armed_ = false;
    if (self->state_ == State::idle && !self->filters_.empty()) self->connect();
  });
}

void MqttLink::fail_all(core::ErrorCode ec) {
  std::vector<hub::DoneCallback> dones;
  for (auto& w : waiting_)
    if (w.done) dones.push_back(std::move(w.done));
  waiting_.clear();
  for (auto& [id, done] : inflight_)
    if (done) dones.push_back(std::move(done));
  inflight_.clear();
  for (auto& d : dones)
    d(ec);
}

// --- token renewal -------------------------------------------------------------------------------

void MqttLink::arm_renewal(core::SystemTime expires_at) {
  if (expires_at == core::SystemTime::max()) return;
  const auto at = expires_at - options_.token_renew_before;
  const auto delay = std::max<std::chrono::steady_clock::duration>(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(at - clock_.now()),
      std::chrono::seconds(1));
  renewal_timer_.expires_after(delay);
  renewal_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->state_ != State::connected) return;
    // MQTT cannot re-authenticate in place: reconnect with a new token, once what is in flight
    // has been acknowledged (new publishes wait meanwhile), so the renewal causes no duplicates.
    self->renewing_ = true;
    self->renew_if_quiet();
  });
}

void MqttLink::renew_if_quiet() {
  if (!renewing_ || state_ != State::connected || !inflight_.empty()) return;
  ops::log(spdlog::level::debug, {.device_id = id_.device, .module_id = id_.module},
           "upstream token of {} near expiry: reconnecting with a new one", id_.to_string());
  disconnect();
}

// DISCONNECT, then the writer ends the connection and the reader reports it (State::disconnecting).
void MqttLink::disconnect() {
  state_ = State::disconnecting;
  queue(proto::Disconnect{});
}

}  // namespace edgehub::upstream
