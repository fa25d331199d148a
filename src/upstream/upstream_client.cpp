#include "edgehub/upstream/upstream_client.hpp"

#include <algorithm>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "edgehub/hub/errors.hpp"
#include "edgehub/mqtt/property_bag.hpp"
#include "edgehub/ops/logging.hpp"
#include "edgehub/upstream/connectivity.hpp"
#include "edgehub/upstream/credentials.hpp"
#include "edgehub/upstream/topics.hpp"
#include "upstream/amqp_link.hpp"
#include "upstream/mqtt_link.hpp"

namespace edgehub::upstream {

namespace asio = boost::asio;

hub::ForwarderOptions upstream_forwarder_options() {
  hub::ForwarderOptions o;
  // Store reads of up to 100 entries (and ForwarderOptions::batch_bytes): the drain reads the
  // queue in fewer round trips; what is unacknowledged stays bounded by the window.
  o.batch = 100;
  o.window = 100;               // edgeHub: 10 per batch x UpstreamFanOutFactor 10
  o.window_bytes = 256 * 1024;  // IoT Hub's batch bound
  o.ack_timeout = std::chrono::milliseconds(30000);
  o.retry_delay = std::chrono::milliseconds(1000);
  o.max_retry_delay = std::chrono::milliseconds(60000);
  o.jitter = std::chrono::milliseconds(1000);
  return o;
}

namespace {

// As over AMQP (amqp_link.cpp): IoT Hub answers twin requests in milliseconds when it answers.
constexpr std::chrono::seconds kTwinRequestTimeout{10};
constexpr std::size_t kMaxTwinRequests = 1024;  ///< MQTT twin requests awaiting an answer

struct ClientStats {
  explicit ClientStats(ops::Registry& r)
      : connections(r.gauge("edgehubd_upstream_connections",
                            "Open upstream MQTT connections (one per identity)")
                        .with(std::vector<std::string>{})),
        connects(r.counter("edgehubd_upstream_connects_total",
                           "Upstream connection attempts by outcome", {"result"})),
        cloud_to_device(r.counter("edgehubd_upstream_cloud_to_device_total",
                                  "Messages IoT Hub sent for downstream clients, by kind and "
                                  "outcome",
                                  {"kind", "result"})),
        protocol_errors(r.counter("edgehubd_upstream_protocol_errors_total",
                                  "Upstream MQTT connections closed because the server broke "
                                  "the protocol (a malformed or unexpected packet)")
                            .with(std::vector<std::string>{})) {}
  ops::Gauge& connections;
  ops::CounterFamily& connects;
  ops::CounterFamily& cloud_to_device;
  ops::Counter& protocol_errors;
};

}  // namespace

struct UpstreamClient::Impl : std::enable_shared_from_this<Impl> {
  Impl(UpstreamOptions o, UpstreamDeps d, asio::any_io_executor executor)
      : options(std::move(o)),
        deps(d),
        strand(asio::make_strand(executor)),
        connectivity(d.registry, options.edge_device_id + "/$edgeHub", d.clock),
        stats(d.registry),
        probe_timer(strand),
        sweep_timer(strand) {}

  core::Result<ConnectCredentials> credentials_of(const core::ClientId& id) const {
    std::optional<std::string> device_token;
    if (options.forward_device_tokens && deps.device_token) device_token = deps.device_token(id);
    return connect_credentials(options, id, deps.clock.now(),
                               auth_chain(options, id, deps.parent_of), device_token);
  }

  bool uses_amqp() const {
    return options.transport == Transport::amqp_tls ||
           options.transport == Transport::amqp_websocket;
  }

  // The AMQP upstream: one link (connection) for every identity, made on first use.
  AmqpLink& amqp_link() {
    if (amqp) return *amqp;
    std::weak_ptr<Impl> weak = weak_from_this();
    AmqpLink::Callbacks callbacks{
        [weak](const core::ClientId& who, LinkEvent e) {
          if (auto self = weak.lock()) self->on_link_event(who, e);
        },
        [weak](const core::ClientId& who, core::Message message, AmqpLink::Settle settle) {
          auto self = weak.lock();
          if (!self) return settle(amqp_core::Disposition::released);
          self->deliver_c2d(who, std::move(message), [settle](core::ErrorCode outcome) {
            // Complete, reject (IoT Hub dead-letters it) or abandon (IoT Hub delivers it again).
            settle(!outcome                         ? amqp_core::Disposition::accepted
                   : outcome == hub::Errc::rejected ? amqp_core::Disposition::rejected
                                                    : amqp_core::Disposition::released);
          });
        },
        [weak](const core::ClientId& who, std::string method, std::string request,
               std::string payload) {
          if (auto self = weak.lock()) {
            self->relay_method(who, std::move(method), std::move(request), std::move(payload));
          }
        },
        [weak](const core::ClientId& who, std::string patch) {
          if (auto self = weak.lock()) self->relay_desired(who, std::move(patch));
        },
        [weak](const core::ClientId& who) -> core::Result<ConnectCredentials> {
          auto self = weak.lock();
          if (!self) return hub::Errc::shutting_down;
          return self->credentials_of(who);
        }};
    amqp = AmqpLink::create(options, deps.clock, strand, std::move(callbacks));
    return *amqp;
  }

  UpstreamOptions options;
  UpstreamDeps deps;
  Strand strand;
  Connectivity connectivity;
  ClientStats stats;
  asio::steady_timer probe_timer;
  asio::steady_timer sweep_timer;
  hub::DeviceChannels::Watch watch;
  std::atomic<std::uint64_t> generation{1};
  std::atomic<bool> stopped{false};

  // Strand state.
  std::map<core::ClientId, std::shared_ptr<MqttLink>> links;
  /// Closed links kept until their DISCONNECT went out and the connection ended.
  std::vector<std::shared_ptr<MqttLink>> retired;
  std::shared_ptr<AmqpLink> amqp;
  /// Identities whose downstream client subscribed to desired properties: refreshed after an
  /// outage.
  std::set<core::ClientId> desired_subscribers;
  /// MQTT twin requests awaiting their $iothub/twin/res/ answer, by $rid (unique across
  /// identities: a broker standing in for IoT Hub may show one identity's answers to another).
  struct PendingTwin {
    core::ClientId id;
    AmqpLink::TwinDone done;
    std::unique_ptr<asio::steady_timer> deadline;
  };
  std::map<std::string, PendingTwin> twin_requests;
  std::uint64_t next_twin_rid = 1;

  void retire(std::map<core::ClientId, std::shared_ptr<MqttLink>>::iterator it) {
    it->second->close(hub::Errc::disconnected);
    retired.push_back(std::move(it->second));
    links.erase(it);
    update_connections();
  }

  // Wake-ups of the sinks (any thread).
  std::mutex wake_mutex;
  std::map<std::uint64_t, std::function<void()>> wakes;
  std::uint64_t next_wake = 1;

  std::shared_ptr<MqttLink> link_for(const core::ClientId& id) {
    if (auto it = links.find(id); it != links.end()) return it->second;
    if (links.size() >= options.max_connections) return nullptr;
    std::weak_ptr<Impl> weak = weak_from_this();
    MqttLink::Callbacks callbacks{
        [weak](const core::ClientId& who, LinkEvent e) {
          if (auto self = weak.lock()) self->on_link_event(who, e);
        },
        [weak](const core::ClientId& who, std::string topic, std::string payload) {
          if (auto self = weak.lock()) self->on_cloud_message(who, topic, std::move(payload));
        },
        [weak](const core::ClientId& who) -> core::Result<ConnectCredentials> {
          auto self = weak.lock();
          if (!self) return hub::Errc::shutting_down;
          return self->credentials_of(who);
        },
        [weak](const core::ClientId&, std::string_view) {
          if (auto self = weak.lock()) self->stats.protocol_errors.inc();
        }};
    auto link = MqttLink::create(id, options, deps.clock, strand, std::move(callbacks));
    links.emplace(id, link);
    return link;
  }

  void send(core::Message message, hub::DoneCallback done) {
    if (stopped) return done(hub::Errc::shutting_down);
    if (uses_amqp()) return amqp_link().send(std::move(message), std::move(done));
    auto link = link_for(message.origin);
    if (!link) return done(hub::Errc::too_many_pending);
    link->publish(telemetry_topic(message), std::move(message.body), 1, std::move(done));
  }

  void on_link_event(const core::ClientId& id, LinkEvent e) {
    switch (e) {
      case LinkEvent::connected:
        stats.connects.with({"success"}).inc();
        update_connections();
        if (connectivity.on_success()) became_online();
        return;
      case LinkEvent::acked:
        if (connectivity.on_success()) became_online();
        return;
      case LinkEvent::refused:
        stats.connects.with({"refused"}).inc();
        // IoT Hub answered: the upstream is reachable even though this identity is not welcome.
        if (connectivity.on_success()) became_online();
        return;
      case LinkEvent::unreachable:
        stats.connects.with({"failed"}).inc();
        went_offline();
        return;
      case LinkEvent::lost:
        update_connections();
        went_offline();
        ops::log(spdlog::level::debug, {.device_id = id.device, .module_id = id.module},
                 "upstream connection lost");
        return;
    }
  }

  void update_connections() {
    std::size_t n = amqp && amqp->connected() ? 1 : 0;
    for (const auto& [id, link] : links)
      n += link->connected() ? 1 : 0;
    stats.connections.set(static_cast<double>(n));
  }

  void went_offline() {
    if (connectivity.on_failure()) generation = connectivity.generation();
    arm_probe();
  }

  void became_online() {
    std::vector<std::function<void()>> to_call;
    {
      std::lock_guard lock(wake_mutex);
      for (const auto& [n, w] : wakes)
        to_call.push_back(w);
    }
    for (auto& w : to_call)
      w();
    if (deps.twins) {
      // edgeHub's ReportedPropertiesStore syncs after a reconnect, and StoringTwinManager
      // re-fetches the twins of connected clients (at most every 120 s each).
      deps.twins->on_cloud_online();
      for (const auto& id : desired_subscribers)
        deps.twins->refresh_desired(id);
    }
  }

  // --- connectivity probe (edgehub-reference.md §5.3) ---------------------------------------

  void arm_probe() {
    probe_timer.expires_after(connectivity.online() ? options.online_probe_after
                                                    : options.probe_interval);
    probe_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopped) return;
      self->probe();
      self->arm_probe();
    });
  }

  void probe() {
    const bool quiet_too_long =
        deps.clock.steady_now() - connectivity.last_success() >= options.online_probe_after;
    if (connectivity.online() && !quiet_too_long) return;
    // Opening the gateway's own connection is the probe: CONNACK (AMQP: the gateway's accepted
    // put-token) means IoT Hub is reachable.
    if (uses_amqp()) return amqp_link().ensure_connected();
    if (auto link = link_for({options.edge_device_id, ""})) link->ensure_connected();
  }

  // --- idle connections ---------------------------------------------------------------------

  void arm_sweep() {
    sweep_timer.expires_after(std::min<std::chrono::seconds>(
        options.idle_timeout / 2 + std::chrono::seconds(1), std::chrono::seconds(30)));
    sweep_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopped) return;
      self->sweep();
      self->arm_sweep();
    });
  }

  void sweep() {
    if (amqp) amqp->sweep();
    std::erase_if(retired, [](const auto& link) { return link->closed(); });
    for (auto it = links.begin(); it != links.end();) {
      auto next = std::next(it);
      if (it->second->idle_for(options.idle_timeout)) retire(it);
      it = next;
    }
    update_connections();
  }

  // --- cloud to device (edgehub-reference.md §6) --------------------------------------------

  // A downstream client connected, disconnected or changed its subscriptions: hold the matching
  // upstream subscriptions on its behalf, and close its upstream connection when it leaves
  // (CloseCloudConnectionOnDeviceDisconnect) unless messages are still on their way.
  void on_downstream_change(const core::ClientId& id) {
    if (stopped) return;
    auto entry = deps.channels.find(id);
    if (entry && entry->subscriptions.has(hub::Subscription::desired_properties)) {
      desired_subscribers.insert(id);
    } else {
      desired_subscribers.erase(id);
    }
    if (uses_amqp()) {
      return amqp_link().set_subscriptions(id, entry ? entry->subscriptions : hub::Subscriptions{});
    }
    update_filters(id);
  }

  bool twin_requests_of(const core::ClientId& id) const {
    return std::any_of(twin_requests.begin(), twin_requests.end(),
                       [&](const auto& r) { return r.second.id == id; });
  }

  // The MQTT filters `id`'s link holds: what its downstream client subscribed to, plus twin
  // responses while the twin store waits for one.
  void update_filters(const core::ClientId& id) {
    std::vector<std::string> filters;
    if (auto entry = deps.channels.find(id)) {
      if (entry->subscriptions.has(hub::Subscription::c2d) && !id.is_module()) {
        filters.push_back(c2d_filter(id.device));
      }
      if (entry->subscriptions.has(hub::Subscription::methods)) {
        filters.emplace_back(kMethodsFilter);
      }
      if (entry->subscriptions.has(hub::Subscription::desired_properties)) {
        filters.emplace_back(kDesiredFilter);
      }
    }
    if ((!filters.empty() && filters.back() == kDesiredFilter) || twin_requests_of(id)) {
      filters.emplace_back(kTwinResponsesFilter);
    }
    auto it = links.find(id);
    if (filters.empty()) {
      if (it == links.end()) return;
      it->second->set_filters({});
      if (it->second->quiet()) retire(it);
      return;
    }
    if (auto link = link_for(id)) link->set_filters(std::move(filters));
  }

  void on_cloud_message(const core::ClientId& id, const std::string& topic, std::string payload) {
    const auto t = classify_cloud_topic(topic);
    const ops::LogFields fields{.device_id = id.device, .module_id = id.module};
    switch (t.kind) {
      case CloudTopicKind::c2d:
        return relay_c2d(id, t, std::move(payload));
      case CloudTopicKind::method_request:
        return relay_method(id, std::string(t.method), std::string(t.rid), std::move(payload));
      case CloudTopicKind::desired_patch:
        return relay_desired(id, std::move(payload));
      case CloudTopicKind::twin_response:
        return on_twin_response(id, t, std::move(payload));
      case CloudTopicKind::unknown:
        stats.cloud_to_device.with({"unknown", "dropped"}).inc();
        ops::log(spdlog::level::warn, fields, "upstream sent an unexpected topic; dropped");
        return;
    }
  }

  // --- twin requests (iot-hub-protocol.md §7) ------------------------------------------------

  void twin_request(const core::ClientId& id, AmqpLink::TwinRequest request,
                    AmqpLink::TwinDone done) {
    if (stopped) return done(hub::Errc::shutting_down);
    // A device waits for its GET: while offline the cache answers at once. A reported patch has
    // no one waiting, and its attempt (every sync round) is how the upstream comes back.
    if (request.operation == "GET" && !connectivity.online()) {
      return done(hub::Errc::disconnected);
    }
    if (uses_amqp()) return amqp_link().twin_request(id, std::move(request), std::move(done));
    if (twin_requests.size() >= kMaxTwinRequests) return done(hub::Errc::too_many_pending);
    auto link = link_for(id);
    if (!link) return done(hub::Errc::too_many_pending);
    const auto rid = std::to_string(next_twin_rid++);
    auto deadline = std::make_unique<asio::steady_timer>(strand);
    deadline->expires_after(kTwinRequestTimeout);
    deadline->async_wait([weak = weak_from_this(), rid](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (!ec && self) self->finish_twin_request(rid, hub::Errc::timeout);
    });
    twin_requests.emplace(rid, PendingTwin{id, std::move(done), std::move(deadline)});
    // Subscribed before the request goes out: the link sends in order, IoT Hub handles in order.
    update_filters(id);
    const auto topic = request.operation == "GET" ? twin_get_topic(rid) : reported_patch_topic(rid);
    std::vector<std::byte> body(request.body.size());
    if (!body.empty()) std::memcpy(body.data(), request.body.data(), body.size());
    link->publish(topic, std::move(body), 0, [weak = weak_from_this(), rid](core::ErrorCode ec) {
      auto self = weak.lock();
      if (ec && self) self->finish_twin_request(rid, ec);
    });
  }

  void finish_twin_request(const std::string& rid, core::Result<AmqpLink::TwinReply> r) {
    auto node = twin_requests.extract(rid);
    if (node.empty()) return;
    auto& pending = node.mapped();
    pending.deadline->cancel();
    pending.done(std::move(r));
    if (!stopped) update_filters(pending.id);
  }

  void on_twin_response(const core::ClientId& id, const CloudTopic& t, std::string payload) {
    auto it = twin_requests.find(std::string(t.rid));
    if (it == twin_requests.end() || it->second.id != id) {
      ops::log(spdlog::level::debug, {.device_id = id.device, .module_id = id.module},
               "upstream twin response {} for no pending request ignored", t.status);
      return;
    }
    finish_twin_request(std::string(t.rid), AmqpLink::TwinReply{t.status, std::move(payload)});
  }

  void relay_c2d(const core::ClientId& id, const CloudTopic& t, std::string payload) {
    const ops::LogFields fields{.device_id = id.device, .module_id = id.module};
    core::Message message;
    if (t.device != id.device || !mqtt::decode_property_bag(t.bag, message)) {
      stats.cloud_to_device.with({"c2d", "invalid"}).inc();
      ops::log(spdlog::level::warn, fields, "upstream C2D message with a bad topic dropped");
      return;
    }
    message.origin = id;
    message.set_body(payload);
    // The link acknowledges the C2D publish on arrival (QoS 1), so the outcome is only counted.
    deliver_c2d(id, std::move(message), [](core::ErrorCode) {});
  }

  // Hands a C2D message to the device's downstream connection; `settled` hears the device's
  // outcome: success once it completed the message, hub::Errc::rejected when it rejected it, any
  // other error when it abandoned it or it could not be delivered (IoT Hub may deliver it again).
  void deliver_c2d(const core::ClientId& id, core::Message message,
                   std::function<void(core::ErrorCode)> settled) {
    auto entry = deps.channels.find(id);
    if (!entry || !entry->subscriptions.has(hub::Subscription::c2d)) {
      // As edgeHub: logged and not completed; IoT Hub keeps it for a later delivery.
      stats.cloud_to_device.with({"c2d", "not_connected"}).inc();
      ops::log(spdlog::level::info, {.device_id = id.device, .module_id = id.module},
               "C2D message for a client not connected: not relayed");
      return settled(make_error_code(hub::Errc::not_connected));
    }
    hub::DeviceChannels::post_c2d(
        entry->channel, std::move(message),
        asio::bind_executor(strand, [weak = weak_from_this(), id,
                                     settled = std::move(settled)](core::ErrorCode ec) {
          auto self = weak.lock();
          if (!self) return;
          self->stats.cloud_to_device
              .with({"c2d", ec == hub::Errc::rejected ? "rejected"
                            : ec                      ? "failed"
                                                      : "delivered"})
              .inc();
          if (ec && ec != hub::Errc::rejected) {
            ops::log(spdlog::level::info, {.device_id = id.device, .module_id = id.module},
                     "C2D message not delivered: {}", ec.message());
          }
          settled(ec);
        }));
  }

  void relay_method(const core::ClientId& id, std::string method, std::string rid,
                    std::string payload) {
    auto reply = [weak = weak_from_this(), id, rid](int status, std::string body) {
      auto self = weak.lock();
      if (!self) return;
      if (self->amqp) return self->amqp->answer_method(id, rid, status, std::move(body));
      auto it = self->links.find(id);
      if (it == self->links.end()) return;
      std::vector<std::byte> bytes(body.size());
      std::memcpy(bytes.data(), body.data(), body.size());
      it->second->publish(method_response_topic(status, rid), std::move(bytes), 0, {});
    };
    if (!deps.methods) {
      stats.cloud_to_device.with({"method", "not_supported"}).inc();
      return reply(501, R"({"message":"direct methods are not relayed by this gateway"})");
    }
    hub::MethodCall call;
    call.target = id;
    call.method_name = std::move(method);
    call.payload = payload.empty() ? "null" : std::move(payload);
    // IoT Hub enforces the caller's own timeout; wait as long as any call may last.
    call.response_timeout = hub::kMaxResponseTimeout;
    deps.methods->async_invoke(
        std::move(call), asio::bind_executor(strand, [weak = weak_from_this(),
                                                      reply](core::Result<hub::MethodResponse> r) {
          auto self = weak.lock();
          if (!self) return;
          if (r) {
            self->stats.cloud_to_device.with({"method", "answered"}).inc();
            return reply(r->status, r->payload.empty() ? "null" : r->payload);
          }
          // 404 when the client is not connected or not subscribed, as IoT Hub answers.
          const int status = hub::method_error_status(r.error());
          self->stats.cloud_to_device.with({"method", std::to_string(status)}).inc();
          reply_error(reply, status, r.error().message());
        }));
  }

  static void reply_error(const std::function<void(int, std::string)>& reply, int status,
                          const std::string& message) {
    std::string escaped;
    for (char c : message) {
      if (c == '"' || c == '\\') escaped += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) escaped += c;
    }
    reply(status, "{\"errorCode\":" + std::to_string(status) + ",\"message\":\"" + escaped + "\"}");
  }

  void relay_desired(const core::ClientId& id, std::string payload) {
    if (!deps.twins) {
      stats.cloud_to_device.with({"desired", "not_supported"}).inc();
      return;
    }
    deps.twins->async_set_desired(
        id, std::move(payload),
        asio::bind_executor(strand, [weak = weak_from_this(), id](core::Result<std::int64_t> r) {
          auto self = weak.lock();
          if (!self) return;
          self->stats.cloud_to_device.with({"desired", r ? "applied" : "invalid"}).inc();
          if (!r) {
            ops::log(spdlog::level::warn, {.device_id = id.device, .module_id = id.module},
                     "desired-properties patch from upstream not applied: {}", r.error().message());
          }
        }));
  }
};

namespace {

class UpstreamSink final : public hub::EndpointSink {
 public:
  explicit UpstreamSink(std::shared_ptr<UpstreamClient::Impl> impl) : impl_(std::move(impl)) {}
  ~UpstreamSink() override {
    std::lock_guard lock(impl_->wake_mutex);
    impl_->wakes.erase(wake_id_);
  }

  // Implements edgehub::hub::EndpointSink
  std::uint64_t connection() const override { return impl_->generation.load(); }
  void send(core::Message message, hub::DoneCallback done) override {
    asio::post(impl_->strand,
               [impl = impl_, m = std::move(message), d = std::move(done)]() mutable {
                 impl->send(std::move(m), std::move(d));
               });
  }
  void set_wake(std::function<void()> wake) override {
    std::lock_guard lock(impl_->wake_mutex);
    wake_id_ = impl_->next_wake++;
    impl_->wakes.emplace(wake_id_, std::move(wake));
  }
  std::string to_label() const override { return "upstream"; }
  std::string input_label() const override { return ""; }

 private:
  std::shared_ptr<UpstreamClient::Impl> impl_;
  std::uint64_t wake_id_ = 0;
};

}  // namespace

UpstreamClient::UpstreamClient(UpstreamOptions options, UpstreamDeps deps,
                               asio::any_io_executor executor)
    : impl_(std::make_shared<Impl>(std::move(options), deps, std::move(executor))) {}

UpstreamClient::~UpstreamClient() {
  stop();
}

void UpstreamClient::start() {
  std::weak_ptr<Impl> weak = impl_;
  impl_->watch = impl_->deps.channels.watch([weak](const core::ClientId& id) {
    if (auto impl = weak.lock()) {
      asio::post(impl->strand, [impl, id] { impl->on_downstream_change(id); });
    }
  });
  asio::post(impl_->strand, [impl = impl_] {
    impl->arm_sweep();
    impl->arm_probe();
  });
}

void UpstreamClient::stop() {
  if (impl_->stopped.exchange(true)) return;
  impl_->watch.reset();
  // The executor may no longer run (daemon teardown): cancel and shut down directly. The links
  // close their sockets without waiting; their coroutines end with the executor.
  impl_->probe_timer.cancel();
  impl_->sweep_timer.cancel();
  for (auto& [id, link] : impl_->links)
    link->shutdown();
  for (auto& link : impl_->retired)
    link->shutdown();
  if (impl_->amqp) impl_->amqp->shutdown();
  impl_->links.clear();
  impl_->retired.clear();
  auto twin_requests = std::move(impl_->twin_requests);
  impl_->twin_requests.clear();
  for (auto& [rid, pending] : twin_requests) {
    pending.deadline->cancel();
    pending.done(hub::Errc::shutting_down);
  }
}

std::unique_ptr<hub::EndpointSink> UpstreamClient::make_sink() {
  return std::make_unique<UpstreamSink>(impl_);
}

void UpstreamClient::send(core::Message message, hub::DoneCallback done) {
  asio::post(impl_->strand, [impl = impl_, m = std::move(message), d = std::move(done)]() mutable {
    impl->send(std::move(m), std::move(d));
  });
}

void UpstreamClient::fetch_twin(const core::ClientId& id,
                                std::function<void(core::Result<std::string>)> done) {
  asio::post(impl_->strand, [impl = impl_, id, done = std::move(done)]() mutable {
    impl->twin_request(id, {"GET", "", ""},
                       [done = std::move(done)](core::Result<AmqpLink::TwinReply> r) {
                         if (!r) return done(r.error());
                         if (r->status != 200) return done(hub::Errc::not_connected);
                         done(std::move(r->body));
                       });
  });
}

void UpstreamClient::update_reported(const core::ClientId& id, std::string patch_json,
                                     std::function<void(core::Result<int>)> done) {
  asio::post(impl_->strand,
             [impl = impl_, id, patch = std::move(patch_json), done = std::move(done)]() mutable {
               impl->twin_request(id, {"PATCH", "/properties/reported", std::move(patch)},
                                  [done = std::move(done)](core::Result<AmqpLink::TwinReply> r) {
                                    if (!r) return done(r.error());
                                    done(r->status);
                                  });
             });
}

std::uint64_t UpstreamClient::generation() const noexcept {
  return impl_->generation.load();
}

}  // namespace edgehub::upstream
