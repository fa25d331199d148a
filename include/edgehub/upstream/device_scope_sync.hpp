#pragma once

// The device-scope synchroniser (edgehub-reference.md §2.4, docs/identities.md "Device scope"):
// pulls the identities in this gateway's scope from IoT Hub's device-scope API — or, nested,
// from the parent gateway's — into identity::ScopeIdentities, and keeps a copy in
// {state_dir}/device-scope.json (mode 0600) so that an offline restart still authenticates them.
//
// When: at start, every `refresh_interval` (edgeHub: 1 h), and when an unknown identity tries to
// connect, at most once per `miss_delay` (60 s; edgeHub waits 120 s).
//
// Threads: the HTTPS calls run on the given executor, never blocking it; the cache file is
// written by the synchroniser's own writer thread (latest scope wins: one pending write at most).
// Keys are secrets: nothing here logs an identity's credentials or the Authorization token.

// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without it
// clang-format on
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/identity/scope_identities.hpp"
#include "edgehub/ops/metrics.hpp"

namespace edgehub::upstream {

inline constexpr std::string_view kScopeCacheFile = "device-scope.json";

struct DeviceScopeOptions {
  std::string iothub_hostname;  ///< token audiences
  std::string edge_device_id;
  std::string host;  ///< parent_hostname when nested, else the IoT hub
  std::uint16_t port = 443;
  std::optional<std::filesystem::path> trust_bundle;
  /// [gateway] proxy (http://[user:password@]host:port): the HTTPS calls tunnel through it.
  std::optional<std::string> proxy;
  std::string edgehub_module_key;  ///< signs the Authorization token (audience .../$edgeHub)
  /// The gateway's own device key: a parent edgehubd authorises its child gateways by their
  /// device credentials (docs/http.md), so a 401 to the $edgeHub token is retried with it.
  std::string device_key;
  std::filesystem::path cache_file;
  std::chrono::seconds refresh_interval{3600};
  std::chrono::seconds miss_delay{60};
  std::chrono::seconds retry_after_failure{60};
  std::size_t page_size = 100;
  std::chrono::seconds token_ttl{3600};
  std::chrono::milliseconds request_timeout{60000};

  /// nullopt with `why` when the configuration has no [provisioning] or no key to sign with.
  static std::optional<DeviceScopeOptions> from_config(const config::GatewayConfig& config,
                                                       std::string& why);
};

class DeviceScopeSync {
 public:
  /// `scope`, `metrics` and `clock` must outlive the synchroniser.
  DeviceScopeSync(DeviceScopeOptions options, identity::ScopeIdentities& scope,
                  ops::Registry& metrics, const core::Clock& clock,
                  boost::asio::any_io_executor executor);
  ~DeviceScopeSync();

  DeviceScopeSync(const DeviceScopeSync&) = delete;
  DeviceScopeSync& operator=(const DeviceScopeSync&) = delete;

  /// Reads the cache file into `scope` (start-up, before the I/O threads serve). False with `why`
  /// when there is a file that cannot be used (it is then left alone and overwritten by the
  /// next sync); true when absent.
  bool load_cache(std::string& why);

  /// The first sync now, then the periodic ones.
  void start();
  void stop();

  /// An unknown identity tried to connect. Thread-safe and cheap: rate-limited to one sync per
  /// miss_delay; any thread.
  void request_refresh();

  /// A sync now, not rate-limited (a configuration reload). Any thread.
  void refresh_now();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace edgehub::upstream
