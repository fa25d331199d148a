#include "upstream/mqtt_link.hpp"

#include <boost/asio/post.hpp>

#include "edgehub/hub/errors.hpp"
#include "edgehub/ops/logging.hpp"
#include "edgehub/upstream/credentials.hpp"

namespace edgehub::upstream {

namespace asio = boost::asio;

namespace {

std::string server_uri(const UpstreamOptions& o) {
  if (o.transport == Transport::mqtt_websocket) {
    return "wss://" + o.dial_host + ":" + std::to_string(o.port) + "/$iothub/websocket";
  }
  return "ssl://" + o.dial_host + ":" + std::to_string(o.port);
}

// MQTT 3.1.1 CONNACK codes IoT Hub uses for an identity it will not accept (iot-hub-protocol.md
// §2.1: the SDKs map 2, 4 and 5 to "unauthorized"); 1 and 3 are worth retrying.
bool refusal(int rc) {
  return rc == 2 || rc == 4 || rc == 5;
}

constexpr std::chrono::seconds kMaxRetryDelay{60};

}  // namespace

std::shared_ptr<MqttLink> MqttLink::create(core::ClientId id, const UpstreamOptions& options,
                                           const core::Clock& clock, Strand strand,
                                           Callbacks callbacks) {
  std::shared_ptr<MqttLink> link(
      new MqttLink(std::move(id), options, clock, std::move(strand), std::move(callbacks)));
  link->weak_self_ = link;
  link->make_client();
  return link;
}

// A fresh Paho client for every connection: Paho keeps publish commands queued before a loss was
// noticed and would send them on the next connection, after (or between) the forwarder's
// resends, which breaks per-queue order. A new client starts with an empty queue.
void MqttLink::make_client() {
  client_.reset();
  try {
    client_ = std::make_unique<::mqtt::async_client>(server_uri(options_), id_.to_string(),
                                                     ::mqtt::create_options(MQTTVERSION_3_1_1));
    std::weak_ptr<MqttLink> weak = weak_self_;
    auto strand_copy = strand_;
    client_->set_connection_lost_handler([weak, strand_copy](const std::string&) {
      asio::post(strand_copy, [weak] {
        if (auto self = weak.lock()) self->on_lost();
      });
    });
    client_->set_message_callback([weak, strand_copy](::mqtt::const_message_ptr m) {
      asio::post(strand_copy, [weak, topic = m->get_topic(), payload = m->get_payload_str()] {
        if (auto self = weak.lock()) self->callbacks_.on_message(self->id_, topic, payload);
      });
    });
  } catch (const std::exception& e) {
    ops::log(spdlog::level::err, {.device_id = id_.device, .module_id = id_.module},
             "upstream: cannot create the MQTT client for {}: {}", server_uri(options_), e.what());
    client_.reset();
  }
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
      last_activity_(clock.steady_now()) {}

MqttLink::~MqttLink() = default;

void MqttLink::touch() {
  last_activity_ = clock_.steady_now();
}

bool MqttLink::idle_for(std::chrono::seconds idle) const {
  return quiet() && filters_.empty() && clock_.steady_now() - last_activity_ >= idle;
}

std::uint64_t MqttLink::add_op(OpKind kind, hub::DoneCallback done) {
  const auto op = next_op_++;
  ops_.emplace(op, Op{kind, epoch_, std::move(done)});
  return op;
}

void MqttLink::publish(std::string topic, std::vector<std::byte> payload, int qos,
                       hub::DoneCallback done) {
  if (!client_) {
    if (done) done(hub::Errc::invalid_request);
    return;
  }
  if (pending() >= options_.max_pending_per_connection) {
    if (done) done(hub::Errc::queue_full);
    return;
  }
  touch();
  waiting_.push_back({std::move(topic), std::move(payload), qos, std::move(done)});
  if (state_ == State::idle) connect();
  flush();
}

void MqttLink::flush() {
  if (state_ != State::connected || renewing_) return;
  while (!waiting_.empty()) {
    auto w = std::move(waiting_.front());
    waiting_.pop_front();
    const auto op = add_op(OpKind::publish, std::move(w.done));
    if (w.qos > 0) {
      ops_.at(op).counted = true;
      ++inflight_;
    }
    try {
      client_->publish(w.topic, w.payload.data(), w.payload.size(), w.qos, false,
                       reinterpret_cast<void*>(static_cast<std::uintptr_t>(op)), *this);
    } catch (const ::mqtt::exception& e) {
      // Paho refuses synchronously when the connection just dropped; the loss callback follows.
      ops::log(spdlog::level::debug, {.device_id = id_.device, .module_id = id_.module},
               "upstream publish not accepted by Paho: {}", e.what());
      on_op(op, false, e.get_return_code());
    }
  }
}

void MqttLink::set_filters(std::vector<std::string> filters) {
  const bool changed = filters != filters_;
  filters_ = std::move(filters);
  if (filters_.empty() || !client_) return;
  if (state_ == State::idle) {
    connect();
  } else if (state_ == State::connected && changed) {
    // IoT Hub keeps what was subscribed before; subscribing again is harmless.
    subscribe_all();
  }
}

void MqttLink::ensure_connected() {
  if (client_ && state_ == State::idle) connect();
}

void MqttLink::connect() {
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
  ::mqtt::ssl_options ssl;
  ssl.set_enable_server_cert_auth(true);
  ssl.set_verify(true);  // the host name too, not only the chain
  // The system store (IoT Hub's public CA) and the configured trust bundle (a parent gateway's
  // or a test root).
  ssl.ca_path("/etc/ssl/certs");
  if (options_.trust_bundle) ssl.set_trust_store(options_.trust_bundle->string());
  if (credentials->use_client_certificate) {
    ssl.set_key_store(options_.identity_cert.string());
    ssl.set_private_key(options_.identity_pk.string());
  }
  auto builder = ::mqtt::connect_options_builder()
                     .mqtt_version(MQTTVERSION_3_1_1)
                     .clean_session(true)
                     .keep_alive_interval(options_.keep_alive)
                     .connect_timeout(options_.operation_timeout)
                     .automatic_reconnect(false)
                     .user_name(credentials->username)
                     .ssl(std::move(ssl));
  if (!credentials->password.empty()) builder.password(credentials->password);
  auto connect_options = builder.finalize();
  if (options_.transport == Transport::mqtt_websocket && options_.proxy) {
    connect_options.set_http_proxy(*options_.proxy);
    connect_options.set_https_proxy(*options_.proxy);
  }
  if (used_) make_client();
  if (!client_) {
    fail_all(hub::Errc::invalid_request);
    return;
  }
  used_ = true;
  ++epoch_;
  state_ = State::connecting;
  const auto op = add_op(OpKind::connect);
  try {
    client_->connect(connect_options, reinterpret_cast<void*>(static_cast<std::uintptr_t>(op)),
                     *this);
    arm_renewal(credentials->expires_at);
  } catch (const ::mqtt::exception& e) {
    ops::log(spdlog::level::warn, {.device_id = id_.device, .module_id = id_.module},
             "upstream connect of {} not started: {}", id_.to_string(), e.what());
    on_op(op, false, -1);
  }
}

void MqttLink::on_success(const ::mqtt::token& tok) {
  const auto op = reinterpret_cast<std::uintptr_t>(tok.get_user_context());
  asio::post(strand_, [weak = weak_self_, op] {
    if (auto self = weak.lock()) self->on_op(op, true, 0);
  });
}

void MqttLink::on_failure(const ::mqtt::token& tok) {
  const auto op = reinterpret_cast<std::uintptr_t>(tok.get_user_context());
  const int rc = tok.get_return_code();
  asio::post(strand_, [weak = weak_self_, op, rc] {
    if (auto self = weak.lock()) self->on_op(op, false, rc);
  });
}

void MqttLink::on_op(std::uint64_t op, bool ok, int rc) {
  auto it = ops_.find(op);
  if (it == ops_.end()) return;  // failed already when the connection was lost
  Op o = std::move(it->second);
  ops_.erase(it);
  const bool current = o.epoch == epoch_;
  switch (o.kind) {
    case OpKind::connect:
      if (!current || state_ != State::connecting) return;
      if (ok) {
        on_connected();
      } else {
        on_connect_failed(rc);
      }
      return;
    case OpKind::publish:
      if (o.counted && inflight_ > 0) --inflight_;
      touch();
      if (ok) {
        if (o.done) o.done({});
        callbacks_.on_event(id_, LinkEvent::acked);
      } else if (o.done) {
        o.done(hub::Errc::disconnected);
      }
      renew_if_quiet();
      return;
    case OpKind::subscribe:
      if (!ok) {
        ops::log(spdlog::level::warn, {.device_id = id_.device, .module_id = id_.module},
                 "upstream subscription of {} refused (rc {})", id_.to_string(), rc);
      }
      return;
    case OpKind::disconnect:
      if (!current) return;
      state_ = State::idle;
      if (renewing_) {
        renewing_ = false;
        connect();
      }
      return;
  }
}

void MqttLink::on_connected() {
  state_ = State::connected;
  renewing_ = false;  // a fresh token
  retry_delay_ = std::chrono::seconds(1);
  touch();
  ops::log(spdlog::level::debug, {.device_id = id_.device, .module_id = id_.module},
           "upstream connection of {} open", id_.to_string());
  callbacks_.on_event(id_, LinkEvent::connected);
  subscribe_all();
  flush();
}

void MqttLink::on_connect_failed(int rc) {
  state_ = State::idle;
  renewal_timer_.cancel();
  if (refusal(rc)) {
    ops::log(spdlog::level::warn, {.device_id = id_.device, .module_id = id_.module},
             "upstream refused {} (CONNACK {}): its messages are dropped, not retried",
             id_.to_string(), rc);
    fail_all(hub::Errc::not_authorized);
    callbacks_.on_event(id_, LinkEvent::refused);
    return;
  }
  ops::log(spdlog::level::info, {.device_id = id_.device, .module_id = id_.module},
           "upstream connection of {} to {}:{} failed (rc {})", id_.to_string(), options_.dial_host,
           options_.port, rc);
  fail_all(hub::Errc::disconnected);
  callbacks_.on_event(id_, LinkEvent::unreachable);
  retry_later();
}

void MqttLink::on_lost() {
  if (state_ != State::connected) return;
  state_ = State::idle;
  renewing_ = false;
  renewal_timer_.cancel();
  ops::log(spdlog::level::info, {.device_id = id_.device, .module_id = id_.module},
           "upstream connection of {} lost", id_.to_string());
  fail_all(hub::Errc::disconnected);
  callbacks_.on_event(id_, LinkEvent::lost);
  retry_later();
}

void MqttLink::retry_later() {
  // Publishes re-open the connection themselves (paced by the forwarder's back-off); only
  // subscriptions need a link of their own to come back.
  if (filters_.empty() || retry_armed_) return;
  retry_armed_ = true;
  retry_timer_.expires_after(retry_delay_);
  retry_delay_ = std::min(retry_delay_ * 2, kMaxRetryDelay);
  retry_timer_.async_wait([weak = weak_self_](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    self->retry_armed_ = false;
    if (self->state_ == State::idle && !self->filters_.empty()) self->connect();
  });
}

void MqttLink::subscribe_all() {
  for (const auto& f : filters_) {
    const int qos = f.rfind("devices/", 0) == 0 ? 1 : 0;
    const auto op = add_op(OpKind::subscribe);
    try {
      client_->subscribe(f, qos, reinterpret_cast<void*>(static_cast<std::uintptr_t>(op)), *this);
    } catch (const ::mqtt::exception& e) {
      on_op(op, false, e.get_return_code());
    }
  }
}

void MqttLink::fail_all(core::ErrorCode ec) {
  std::vector<hub::DoneCallback> dones;
  for (auto& w : waiting_)
    if (w.done) dones.push_back(std::move(w.done));
  waiting_.clear();
  for (auto it = ops_.begin(); it != ops_.end();) {
    if (it->second.kind == OpKind::publish) {
      if (it->second.done) dones.push_back(std::move(it->second.done));
      it = ops_.erase(it);
    } else {
      ++it;
    }
  }
  inflight_ = 0;
  for (auto& d : dones)
    d(ec);
}

void MqttLink::arm_renewal(core::SystemTime expires_at) {
  if (expires_at == core::SystemTime::max()) return;
  const auto at = expires_at - options_.token_renew_before;
  const auto delay = std::max<std::chrono::steady_clock::duration>(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(at - clock_.now()),
      std::chrono::seconds(1));
  renewal_timer_.expires_after(delay);
  renewal_timer_.async_wait([weak = weak_self_](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->state_ != State::connected) return;
    // MQTT cannot re-authenticate in place: reconnect with a new token, once what is in flight
    // has been acknowledged (new publishes wait meanwhile), so the renewal causes no duplicates.
    self->renewing_ = true;
    self->renew_if_quiet();
  });
}

void MqttLink::renew_if_quiet() {
  if (!renewing_ || state_ != State::connected || inflight_ != 0) return;
  ops::log(spdlog::level::debug, {.device_id = id_.device, .module_id = id_.module},
           "upstream token of {} near expiry: reconnecting with a new one", id_.to_string());
  state_ = State::disconnecting;
  const auto op = add_op(OpKind::disconnect);
  try {
    client_->disconnect(1000, reinterpret_cast<void*>(static_cast<std::uintptr_t>(op)), *this);
  } catch (const ::mqtt::exception&) {
    on_op(op, false, -1);
  }
}

void MqttLink::close(core::ErrorCode reason) {
  renewal_timer_.cancel();
  retry_timer_.cancel();
  filters_.clear();
  renewing_ = false;
  fail_all(reason);
  if (client_ && (state_ == State::connected || state_ == State::connecting)) {
    ++epoch_;  // a connect still in progress is abandoned
    state_ = State::disconnecting;
    const auto op = add_op(OpKind::disconnect);
    try {
      client_->disconnect(1000, reinterpret_cast<void*>(static_cast<std::uintptr_t>(op)), *this);
    } catch (const ::mqtt::exception&) {
      on_op(op, false, -1);
    }
  }
}

void MqttLink::shutdown() {
  renewal_timer_.cancel();
  retry_timer_.cancel();
  fail_all(hub::Errc::shutting_down);
  if (!client_) return;
  try {
    if (client_->is_connected()) client_->disconnect(500)->wait_for(std::chrono::seconds(2));
  } catch (const ::mqtt::exception&) {
    // Closing anyway.
  }
  client_.reset();
  state_ = State::idle;
}

}  // namespace edgehub::upstream
