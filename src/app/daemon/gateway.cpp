#include "app/daemon/gateway.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <csignal>
#include <nlohmann/json.hpp>

#include "edgehub/config/load.hpp"
#include "edgehub/core/uuid.hpp"
#include "edgehub/core/version.hpp"
#include "edgehub/ops/logging.hpp"
#include "edgehub/ops/process_metrics.hpp"
#include "edgehub/pki/edge_ca.hpp"
#include "edgehub/store/sqlite_store.hpp"

namespace edgehub::app {

namespace asio = boost::asio;

namespace {

// edgeHub's default labels on every metric (edgehub-reference.md §8), so dashboards built for
// IoT Edge select edgehubd's series unchanged.
std::vector<std::pair<std::string, std::string>> default_labels(const config::GatewayConfig& c) {
  return {{"iothub", c.iothub_hostname},
          {"edge_device", c.device_id},
          {"instance_number", core::random_uuid()}};
}

std::string format_time(core::SystemTime t) {
  const auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string_view state_name(Gateway::State s) noexcept {
  switch (s) {
    case Gateway::State::starting:
      return "starting";
    case Gateway::State::running:
      return "running";
    case Gateway::State::reloading:
      return "reloading";
    case Gateway::State::stopping:
      return "stopping";
  }
  return "unknown";
}

Gateway::Gateway(std::shared_ptr<const config::GatewayConfig> config, const core::Clock& clock)
    : config_(std::move(config)),
      clock_(clock),
      started_at_(clock.steady_now()),
      registry_(default_labels(*config_)),
      cert_expiry_seconds_(registry_
                               .gauge("edgehubd_server_certificate_expiry_seconds",
                                      "Seconds until the served TLS server certificate expires")
                               .with({})),
      connection_budget_(config_->limits.max_connections),
      listener_stats_(registry_),
      signals_(io_, SIGTERM, SIGINT, SIGHUP),
      watchdog_timer_(io_),
      drain_timer_(io_),
      renewal_timer_(io_) {
  ops::register_process_metrics(registry_, clock_);
}

Gateway::~Gateway() = default;

void Gateway::start() {
  const auto& cfg = *config_;
  for (const auto& table : cfg.ignored_tables) {
    spdlog::debug("config: ignoring [{}] (an aziot table edgehubd does not use)", table);
  }
  open_store();
  start_identities();
  start_pipeline();
  start_tls();
  start_listeners();
  if (cfg.metrics) {
    admin_http_ = std::make_unique<net::AdminHttpServer>(
        io_, net::AdminHttpServer::Handlers{[this] { return registry_.render(); },
                                            [this] { return health_json(); }});
    if (auto r = admin_http_->start(*cfg.metrics); !r) {
      throw StartupError("cannot listen on [gateway] metrics = \"" + cfg.metrics->to_string() +
                         "\": " + r.error().message() +
                         " (choose a free address, or set metrics = \"\" to disable)");
    }
    spdlog::info("metrics and health on http://{}:{}/metrics and /health", cfg.metrics->host,
                 admin_http_->port());
  } else {
    spdlog::info("metrics endpoint disabled ([gateway] metrics = \"\")");
  }
  start_admin_socket();
  arm_signals();
  arm_watchdog();
  arm_renewal();
  state_ = State::running;
  notifier_.ready();
  spdlog::info("edgehubd {} ready: gateway {} for {} (device {})", core::version(), cfg.hostname,
               cfg.iothub_hostname, cfg.device_id);
}

void Gateway::open_store() {
  const auto& cfg = *config_;
  std::error_code ec;
  std::filesystem::create_directories(cfg.state_dir, ec);
  if (ec) {
    throw StartupError("cannot create [gateway] state_dir " + cfg.state_dir.string() + ": " +
                       ec.message());
  }
  std::string diagnostic;
  auto store = store::open_sqlite_store(store::Options::from_config(cfg.store, cfg.state_dir),
                                        registry_, clock_, io_.get_executor(), diagnostic);
  if (!store) throw StartupError(diagnostic);
  store_ = std::move(*store);
  spdlog::info("store open in {} (sync = {}, quota {} MiB, when full: {})", cfg.state_dir.string(),
               cfg.store.sync == config::StoreSync::full ? "full" : "normal", cfg.store.max_disk_mb,
               cfg.store.when_full == config::WhenFull::refuse ? "refuse" : "drop_oldest");
}

void Gateway::start_pipeline() {
  const auto& cfg = *config_;
  std::vector<routing::RouteIssue> issues;
  auto table = routing::RouteTable::build(cfg, issues);
  if (!table) {
    std::string message = "routes do not compile:";
    for (const auto& i : issues)
      message += "\n  " + i.to_string();
    throw StartupError(message);
  }
  auto routes = std::make_shared<const routing::RouteTable>(std::move(*table));
  // $upstream ("iothub") messages wait in the store until an upstream connection drains them;
  // module-input endpoints get a forwarder each.
  forwarders_ = std::make_unique<hub::Forwarders>(*store_, channels_, scheduler_, registry_,
                                                  io_.get_executor(), cfg.device_id);
  forwarders_->update_routes(*routes);
  ingress_ = std::make_unique<hub::RoutingIngress>(
      *store_, routes, hub::IngressOptions{cfg.device_id, cfg.limits.max_message_bytes}, registry_,
      clock_, io_.get_executor(),
      [forwarders = forwarders_.get()](const std::vector<store::QueueId>& queues) {
        forwarders->on_committed(queues);
      });
  methods_ = std::make_unique<hub::MethodRouter>(channels_, scheduler_, registry_, clock_,
                                                 io_.get_executor());
  twins_ = std::make_unique<hub::TwinStore>(*store_, channels_, ingress_.get(), registry_, clock_,
                                            io_.get_executor());
  start_upstream(*routes);
  const auto module_inputs =
      std::count_if(routes->endpoints().begin(), routes->endpoints().end(),
                    [](const auto& e) { return e.kind == routing::EndpointKind::module_input; });
  spdlog::info("{} routes, {} module-input endpoints", routes->routes().size(), module_inputs);

  limits_ = cfg.limits;
  mqtt_context_.limits = &limits_;
  mqtt_context_.iothub_hostname = cfg.iothub_hostname;
  mqtt_context_.gateway_hostname = cfg.hostname;
  mqtt_context_.authenticator = authenticator_.get();
  mqtt_context_.ingress = ingress_.get();
  mqtt_context_.channels = &channels_;
  mqtt_context_.store = store_.get();
  mqtt_context_.twins = twins_.get();
  mqtt_context_.methods = methods_.get();
  mqtt_context_.stats = &mqtt_stats_;
  mqtt_context_.clock = &clock_;

  amqp_context_.limits = &limits_;
  amqp_context_.authenticator = authenticator_.get();
  amqp_context_.ingress = ingress_.get();
  amqp_context_.channels = &channels_;
  amqp_context_.twins = twins_.get();
  amqp_context_.methods = methods_.get();
  amqp_context_.stats = &amqp_stats_;
  amqp_context_.clock = &clock_;

  http_context_.edge_device_id = cfg.device_id;
  http_context_.limits = &limits_;
  http_context_.authenticator = authenticator_.get();
  http_context_.registry = identities_.get();
  http_context_.ingress = ingress_.get();
  http_context_.methods = methods_.get();
  http_context_.c2d = &c2d_;
  http_context_.stats = &http_stats_;
}

void Gateway::start_upstream(const routing::RouteTable& routes) {
  std::string why;
  auto options = upstream::UpstreamOptions::from_config(*config_, why);
  if (!options) {
    spdlog::warn("upstream: {}", why);
    return;
  }
  const auto where = options->dial_host + ":" + std::to_string(options->port);
  upstream_ = std::make_unique<upstream::UpstreamClient>(
      std::move(*options),
      upstream::UpstreamDeps{
          channels_, methods_.get(), twins_.get(), registry_, clock_,
          [this](const std::string& device) {
            const auto d = lookup_->find(core::ClientId{device, {}});
            return d ? d->parent : std::string();
          },
          [this](const core::ClientId& id) { return authenticator_->last_token(id); }},
      io_.get_executor());
  std::vector<std::uint32_t> priorities;
  for (const auto& q : routes.queues())
    if (q.endpoint_id == routing::kUpstreamEndpointId) priorities.push_back(q.priority);
  forwarders_->add_endpoint(std::string(routing::kUpstreamEndpointId), upstream_->make_sink(),
                            std::move(priorities), upstream::upstream_forwarder_options());
  upstream_->start();
  twins_->set_cloud(upstream_.get());
  c2d_pollers_ = std::make_unique<http::C2dPollers>(channels_, c2d_, clock_, io_.get_executor());
  http_context_.c2d_pollers = c2d_pollers_.get();
  switch (config_->upstream_protocol) {
    case config::UpstreamProtocol::mqtt:
    case config::UpstreamProtocol::mqttws:
      spdlog::info(
          "upstream: MQTT{} to {}, one connection per identity",
          config_->upstream_protocol == config::UpstreamProtocol::mqttws ? " over WebSocket" : "",
          where);
      break;
    case config::UpstreamProtocol::amqp:
    case config::UpstreamProtocol::amqpws:
      spdlog::info(
          "upstream: AMQP{} to {}, one connection for every identity",
          config_->upstream_protocol == config::UpstreamProtocol::amqpws ? " over WebSocket" : "",
          where);
      break;
  }
}

void Gateway::teardown() {
  // Sessions and forwarders first (they use the ingress and the store), then the ingress, then
  // the store, whose destructor finishes queued writes and joins its thread.
  if (forwarders_) forwarders_->stop_all();
  forwarders_.reset();
  // After the forwarders (they hold its sink); before the loop goes (its links live on it).
  c2d_pollers_.reset();  // its registrations go before the upstream that watches them
  if (twins_) twins_->set_cloud(nullptr);
  if (upstream_) upstream_->stop();
  upstream_.reset();
  if (scope_sync_) scope_sync_->stop();
  listeners_.clear();
  if (methods_) methods_->shutdown(hub::Errc::shutting_down);
  methods_.reset();
  twins_.reset();
  ingress_.reset();
  store_.reset();
}

void Gateway::start_identities() {
  const auto& cfg = *config_;
  identities_ = std::make_unique<identity::Registry>(
      cfg.identities.value_or(std::filesystem::path{}), cfg.device_id);
  std::vector<identity::RegistryIssue> issues;
  if (!identities_->load(issues)) {
    std::string message = "identities file not usable:";
    for (const auto& issue : issues)
      message += "\n  " + issue.to_string();
    throw StartupError(message);
  }
  const auto count = identities_->snapshot()->identities().size();
  if (cfg.identities) {
    spdlog::info("{} identities from {}", count, cfg.identities->string());
  } else {
    spdlog::info(
        "no [gateway] identities file: only identities synchronised from IoT Hub can connect");
  }
  lookup_ = std::make_unique<identity::LayeredLookup>(*identities_, scope_identities_);
  auto auth = identity::Authenticator::create(
      {cfg.iothub_hostname, cfg.hostname, cfg.trust_bundle_cert, cfg.limits.max_token_lifetime,
       cfg.authentication_mode == config::AuthenticationMode::cloud},
      *lookup_, clock_, registry_);
  if (!auth) {
    throw StartupError("trust_bundle_cert " +
                       cfg.trust_bundle_cert.value_or(std::filesystem::path{}).string() +
                       " cannot be read: " + auth.error().message());
  }
  authenticator_ = std::move(*auth);
  if (cfg.authentication_mode == config::AuthenticationMode::cloud_and_scope) {
    spdlog::warn(
        "authentication_mode = \"cloud_and_scope\" behaves as \"scope\": an identity outside the "
        "device scope is refused, not checked with IoT Hub (docs/upstream.md)");
  }
  start_device_scope();
}

void Gateway::start_device_scope() {
  std::string why;
  auto options = upstream::DeviceScopeOptions::from_config(*config_, why);
  if (!options) {
    spdlog::info("device scope: {}", why);
    return;
  }
  scope_identities_.on_revoked(
      [this](const std::vector<identity::Revocation>& revoked) { close_revoked_scope(revoked); });
  scope_sync_ = std::make_unique<upstream::DeviceScopeSync>(std::move(*options), scope_identities_,
                                                            registry_, clock_, io_.get_executor());
  // Before the listeners open (the I/O thread does not run yet): an offline start authenticates
  // the devices of the last sync.
  if (!scope_sync_->load_cache(why)) {
    spdlog::warn("device scope: cache not used: {}; waiting for a sync", why);
  }
  lookup_->on_miss([sync = scope_sync_.get()](const core::ClientId&) { sync->request_refresh(); });
  scope_sync_->start();
}

void Gateway::close_revoked_scope(const std::vector<identity::Revocation>& revoked) {
  std::vector<core::ClientId> closing;
  for (const auto& r : revoked) {
    if (identities_->find(r.id)) continue;  // the identities file decides for it (precedence)
    closing.push_back(r.id);
    spdlog::info("identity {} {} in the device scope: its connection is closed", r.id.to_string(),
                 identity::describe(r.reason));
  }
  channels_.close_identities(closing, hub::Errc::revoked);
}

void Gateway::start_tls() {
  const auto& cfg = *config_;
  std::string why;
  auto ca = pki::open_edge_ca(cfg, clock_.now(), why);
  if (!ca) throw StartupError(why);
  if (ca->quickstart) spdlog::warn("{}", pki::quickstart_warning(*ca));
  certs_ = std::make_unique<pki::ServerCertManager>(cfg.state_dir,
                                                    pki::ServerCertPolicy::from_config(cfg));
  auto outcome = certs_->start(std::move(*ca), clock_.now(), why);
  if (!outcome) throw StartupError(why);
  install_server_identity(outcome->identity,
                          outcome->reused ? "reused from state_dir" : outcome->reason);
  if (!tls_.current())
    throw StartupError("the issued server certificate could not be loaded into TLS");
}

void Gateway::install_server_identity(const pki::ServerIdentity& identity, std::string_view why) {
  std::string error;
  if (auto r = tls_.update({identity.chain_pem, identity.key_pem}, error); !r) {
    spdlog::error("server certificate {} not installed: {}; new handshakes keep the previous one",
                  identity.serial_hex, error);
    return;
  }
  cert_expiry_seconds_.set(
      std::chrono::duration<double>(identity.not_after - clock_.now()).count());
  spdlog::info("server certificate serial {} for {} valid until {} ({}); renewal at {}",
               identity.serial_hex, config_->hostname, format_time(identity.not_after), why,
               format_time(pki::renewal_time(identity)));
}

void Gateway::start_listeners() {
  const auto& cfg = *config_;
  struct Wanted {
    net::Listener::Kind kind;
    const std::optional<config::HostPort>& where;
    const char* key;
  };
  const Wanted wanted[] = {{net::Listener::Kind::mqtt, cfg.listen.mqtt, "mqtt"},
                           {net::Listener::Kind::amqp, cfg.listen.amqp, "amqp"},
                           {net::Listener::Kind::https, cfg.listen.https, "https"}};
  auto serve_mqtt = [this](std::unique_ptr<net::Transport> t) {
    mqtt::serve(std::move(t), mqtt_context_);
  };
  auto serve_amqp = [this](std::unique_ptr<net::Transport> t) {
    amqp::serve(std::move(t), amqp_context_);
  };
  auto serve_http = [this](net::HttpRequest request, const net::PeerInfo& peer) {
    return http::handle_request(std::move(request), peer, http_context_);
  };
  for (const auto& w : wanted) {
    if (!w.where) {
      spdlog::info("{} listener disabled ([gateway.listen] {} = \"\")", w.key, w.key);
      continue;
    }
    auto listener = std::make_unique<net::Listener>(
        io_, w.kind, tls_, cfg.limits, connection_budget_, listener_stats_,
        net::ListenerHandlers{serve_mqtt, serve_amqp, serve_http});
    if (auto r = listener->start(*w.where); !r) {
      std::string fix =
          "choose a free address or disable the listener with " + std::string(w.key) + " = \"\"";
      if (r.error() == boost::system::errc::permission_denied) {
        fix = "ports below 1024 need root or CAP_NET_BIND_SERVICE (the systemd unit grants it)";
      }
      throw StartupError("cannot listen on [gateway.listen] " + std::string(w.key) + " = \"" +
                         w.where->to_string() + "\": " + r.error().message() + " (" + fix + ")");
    }
    spdlog::info("{} listener on {} (port {})", w.key, w.where->to_string(), listener->port());
    listeners_.push_back(std::move(listener));
  }
}

void Gateway::arm_renewal() {
  if (!certs_) return;
  const auto delay = certs_->next_renewal() - clock_.now();
  renewal_timer_.expires_after(std::max<std::chrono::steady_clock::duration>(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay),
      std::chrono::seconds(1)));
  renewal_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || state_ == State::stopping) return;
    std::string why;
    auto renewed = certs_->poll(clock_.now(), why);
    if (!renewed) {
      spdlog::error("server certificate renewal failed: {}; retrying in 60 s", why);
      renewal_timer_.expires_after(std::chrono::seconds(60));
      renewal_timer_.async_wait([this](const boost::system::error_code& e) {
        if (!e) arm_renewal();
      });
      return;
    }
    if (*renewed) install_server_identity(**renewed, certs_->last_reason());
    arm_renewal();
  });
}

int Gateway::run() {
  io_.run();
  teardown();
  spdlog::info("edgehubd stopped");
  return 0;
}

void Gateway::arm_signals() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    if (signal_number == SIGHUP) {
      reload("SIGHUP");
      arm_signals();
    } else {
      begin_shutdown(signal_number);
    }
  });
}

void Gateway::arm_watchdog() {
  const auto interval = ops::SystemdNotifier::watchdog_interval();
  if (!interval) return;
  // Sent from the event loop itself: a blocked loop stops the pings and systemd restarts us.
  notifier_.watchdog();
  watchdog_timer_.expires_after(*interval);
  watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && state_ != State::stopping) arm_watchdog();
  });
}

void Gateway::begin_shutdown(int signal_number) {
  if (state_ == State::stopping) return;
  state_ = State::stopping;
  notifier_.stopping();
  spdlog::info("{}: draining (at most {} s)", signal_number == SIGINT ? "SIGINT" : "SIGTERM",
               config_->drain_timeout.count());
  watchdog_timer_.cancel();
  signals_.cancel();
  if (admin_http_) admin_http_->stop();
  if (admin_socket_) admin_socket_->stop();
  for (auto& l : listeners_)
    l->stop();
  renewal_timer_.cancel();
  // Each long-lived part that needs time to finish (sessions, store flush) increments
  // pending_drains_ and calls drain_done() when finished; the timer bounds the wait.
  drain_timer_.expires_after(config_->drain_timeout);
  drain_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) spdlog::warn("drain timeout reached; closing what is left");
    io_.stop();
  });
  drain_done_if_idle();
}

void Gateway::drain_done_if_idle() {
  if (pending_drains_ == 0) drain_timer_.cancel();
}

std::string Gateway::health_json() const {
  const auto uptime = std::chrono::duration<double>(clock_.steady_now() - started_at_).count();
  nlohmann::json j = {{"status", state_ == State::running ? "healthy" : "degraded"},
                      {"state", state_name(state_)},
                      {"uptime_seconds", uptime},
                      {"version", core::version()},
                      {"hostname", config_->hostname},
                      {"device_id", config_->device_id}};
  return j.dump();
}

}  // namespace edgehub::app
