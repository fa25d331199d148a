#pragma once

// The running gateway: owns the event loop, the configuration snapshot and every long-lived part,
// and implements the service life cycle (style P9): start → READY=1 → reload on SIGHUP →
// STOPPING=1 on SIGTERM/SIGINT → bounded drain → exit.

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "app/daemon/reload_outcome.hpp"
#include "edgehub/amqp/session.hpp"
#include "edgehub/config/gateway_config.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/http/api.hpp"
#include "edgehub/http/c2d_queue.hpp"
#include "edgehub/hub/device_channels.hpp"
#include "edgehub/hub/forwarder.hpp"
#include "edgehub/hub/ingress.hpp"
#include "edgehub/hub/method_router.hpp"
#include "edgehub/hub/scheduler.hpp"
#include "edgehub/hub/twin_store.hpp"
#include "edgehub/identity/authenticator.hpp"
#include "edgehub/identity/layered_lookup.hpp"
#include "edgehub/identity/registry.hpp"
#include "edgehub/identity/scope_identities.hpp"
#include "edgehub/mqtt/session.hpp"
#include "edgehub/net/admin_http_server.hpp"
#include "edgehub/net/admin_socket.hpp"
#include "edgehub/net/listener.hpp"
#include "edgehub/net/tls_context.hpp"
#include "edgehub/ops/metrics.hpp"
#include "edgehub/ops/systemd.hpp"
#include "edgehub/pki/server_cert.hpp"
#include "edgehub/routing/route_table.hpp"
#include "edgehub/store/message_store.hpp"
#include "edgehub/upstream/device_scope_sync.hpp"
#include "edgehub/upstream/upstream_client.hpp"

namespace edgehub::app {

/// Thrown only by start(): a broken environment the operator must fix (bind failure, unusable
/// TLS material, store that cannot be opened). main() turns it into a message and exit code 1.
struct StartupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Gateway {
 public:
  enum class State { starting, running, reloading, stopping };

  Gateway(std::shared_ptr<const config::GatewayConfig> config, const core::Clock& clock);
  ~Gateway();

  /// Binds every listener and opens the store; throws StartupError.
  void start();
  /// Runs the event loop until a drain completes. Returns the process exit code.
  int run();

  State state() const noexcept { return state_; }
  ops::Registry& metrics() noexcept { return registry_; }

 private:
  void open_store();
  void start_pipeline();
  void start_upstream(const routing::RouteTable& routes);
  void teardown();
  void start_identities();
  void start_device_scope();
  /// Closes the connections of identities a device-scope sync took away (not those the
  /// identities file declares: it takes precedence).
  void close_revoked_scope(const std::vector<identity::Revocation>& revoked);
  void start_tls();
  void start_listeners();
  void arm_signals();
  void arm_watchdog();
  void arm_renewal();
  void install_server_identity(const pki::ServerIdentity& identity, std::string_view why);

  // reload.cpp: validate everything (stage), then apply it all; an error anywhere changes nothing.
  struct StagedReload {
    std::shared_ptr<const config::GatewayConfig> config;
    std::shared_ptr<const routing::RouteTable> routes;
    std::optional<pki::EdgeCa> edge_ca;
  };
  ReloadOutcome reload(std::string_view trigger);
  std::optional<StagedReload> stage_reload(ReloadOutcome& out) const;
  void apply_reload(StagedReload staged, ReloadOutcome& out);

  // admin.cpp: the admin socket's "status" and "reload" requests.
  void start_admin_socket();
  std::string admin_request(std::string_view request);
  std::string status_json();
  void begin_shutdown(int signal_number);
  void drain_done_if_idle();
  std::string health_json() const;

  std::shared_ptr<const config::GatewayConfig> config_;
  const core::Clock& clock_;
  core::SteadyTime started_at_;
  State state_ = State::starting;
  int pending_drains_ = 0;

  // Declared before io_ so they outlive it: destroying io_ destroys the coroutine frames of
  // connections still open at exit, and those hold references to these.
  ops::Registry registry_;
  ops::Gauge& cert_expiry_seconds_;
  net::TlsContextStore tls_;
  net::ConnectionBudget connection_budget_;
  net::ListenerStats listener_stats_;
  std::unique_ptr<pki::ServerCertManager> certs_;
  std::unique_ptr<identity::Registry> identities_;
  identity::ScopeIdentities scope_identities_;       ///< synchronised from IoT Hub or the parent
  std::unique_ptr<identity::LayeredLookup> lookup_;  ///< the file first, then the scope
  std::unique_ptr<identity::Authenticator> authenticator_;
  ops::SystemdNotifier notifier_;
  hub::DeviceChannels channels_{registry_};
  hub::AsioScheduler scheduler_;
  mqtt::SessionStats mqtt_stats_{registry_};
  config::LimitsConfig limits_;  ///< the live limits; sessions read them, a reload updates them
  mqtt::SessionContext mqtt_context_;
  amqp::SessionStats amqp_stats_{registry_};
  amqp::SessionContext amqp_context_;
  http::ApiStats http_stats_{registry_};
  /// C2D for devices polling over HTTPS; filled by the upstream client once it delivers C2D.
  http::C2dQueue c2d_{clock_};
  http::ApiContext http_context_;

  boost::asio::io_context io_{1};
  // After io_: the store posts completions onto it, and is closed (its thread joined) first.
  std::unique_ptr<store::MessageStore> store_;
  std::unique_ptr<hub::RoutingIngress> ingress_;
  std::unique_ptr<hub::MethodRouter> methods_;
  std::unique_ptr<hub::TwinStore> twins_;
  std::unique_ptr<hub::Forwarders> forwarders_;  ///< module-input endpoints and $upstream
  /// The upstream (AMQP or MQTT); null without [provisioning].
  std::unique_ptr<upstream::UpstreamClient> upstream_;
  /// With an upstream: HTTPS devices' C2D (after io_: its sweep timer runs on it).
  std::unique_ptr<http::C2dPollers> c2d_pollers_;
  /// Null without [provisioning]; before io_ goes, as it runs on it.
  std::unique_ptr<upstream::DeviceScopeSync> scope_sync_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer watchdog_timer_;
  boost::asio::steady_timer drain_timer_;
  boost::asio::steady_timer renewal_timer_;
  std::unique_ptr<net::AdminHttpServer> admin_http_;
  std::unique_ptr<net::AdminSocketServer> admin_socket_;
  std::optional<ReloadOutcome> last_reload_;
  std::vector<std::unique_ptr<net::Listener>> listeners_;
};

/// "starting", "running", "reloading", "stopping": as /health and the admin socket report it.
std::string_view state_name(Gateway::State s) noexcept;

}  // namespace edgehub::app
