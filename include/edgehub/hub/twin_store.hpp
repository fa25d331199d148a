#pragma once

// hub::TwinStore: the gateway's local twin of each identity (iot-hub-protocol.md §7,
// edgehub-reference.md §6.2), kept in the store's key-value state (namespace "twin", key = the
// client id "d" or "d/m") so it survives restarts. With a CloudTwins (the upstream) a GET asks
// IoT Hub first and caches its answer; the cache answers while IoT Hub cannot.
//
// - GET completes with the device view
// {"desired":{...,"$version":n},"reported":{...,"$version":m}}.
//   An identity without a twin gets IoT Hub's new twin: both sections empty with $version 1.
// - A reported patch is validated with edgeHub's rules (TwinErrc: depth <= 10, names <= 1 KiB
//   without '.', '$', space or control characters, strings <= 4 KiB, integers within +/-2^52,
//   document <= 32 KiB, no nulls in arrays), merged (null deletes a member), persisted with the
//   reported $version incremented, and completes with the new version (MQTT: 204 with
//   $version). It is then routed as a /twinChangeNotifications message through the Ingress.
// - Every accepted reported patch is also merged into the identity's pending patch (null kept:
//   it deletes at IoT Hub too), written in the same state value as the twin, so a patch
//   acknowledged to the device survives a crash. With a CloudTwins, pending patches are pushed
//   to IoT Hub every `reported_sync_interval` and at once after on_cloud_online(); a 2xx removes
//   a pending patch unless a newer patch was merged into it meanwhile, a 4xx drops it (logged,
//   counted), anything else keeps it for the next round (edgeHub's ReportedPropertiesStore).
// - set_desired applies a desired patch whose $version is the cached one + 1 (or that has none)
//   and sends it to the identity's session when connected and subscribed to desired-property
//   notifications (none are queued, as IoT Hub). Any other $version (a notification was missed)
//   fetches the whole twin from the cloud, replaces the cached desired section and sends the
//   session the difference (changed members, null for removed ones) with the new $version.
//   refresh_desired() does the same after the upstream came back, at most once per
//   `min_desired_refresh` per identity (edgeHub's StoringTwinManager).
//
// Operations on one identity run one at a time in arrival order (a GET after a PATCH sees it);
// identities proceed independently. At most kMaxTwinOpsPerIdentity wait per identity
// (Errc::too_many_pending beyond). Completions: void(core::Result<T>) on the handler's
// associated executor. Thread-safe.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "edgehub/core/client_id.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/hub/device_channels.hpp"
#include "edgehub/hub/ingress.hpp"
#include "edgehub/ops/metrics.hpp"
#include "edgehub/store/message_store.hpp"

namespace edgehub::hub {

/// Why a twin patch was refused (400); message() is the reason to show the client.
enum class TwinErrc {
  malformed_json = 1,    ///< not valid JSON
  not_an_object,         ///< the patch is not a JSON object
  too_deep,              ///< nesting deeper than kMaxTwinDepth
  name_too_long,         ///< a property name over kMaxTwinNameBytes
  invalid_name,          ///< a name with '.', '$', space or a control character
  value_too_long,        ///< a string value over kMaxTwinStringBytes
  integer_out_of_range,  ///< an integer outside +/-2^52
  document_too_large,    ///< the patch or the resulting section over kMaxTwinDocumentBytes
  null_in_array,         ///< an array holding null
};

const boost::system::error_category& twin_category() noexcept;
inline boost::system::error_code make_error_code(TwinErrc e) noexcept {
  return {static_cast<int>(e), twin_category()};
}

/// The status for a failed twin operation: 400 for a TwinErrc, 429 for Errc::too_many_pending,
/// else 500.
int twin_error_status(const boost::system::error_code& ec) noexcept;

inline constexpr std::size_t kMaxTwinDepth = 10;
inline constexpr std::size_t kMaxTwinNameBytes = 1024;
inline constexpr std::size_t kMaxTwinStringBytes = 4096;
inline constexpr std::size_t kMaxTwinDocumentBytes = 32 * 1024;
inline constexpr std::int64_t kMaxTwinInteger = 4503599627370495;   // 2^52 - 1
inline constexpr std::int64_t kMinTwinInteger = -4503599627370496;  // -2^52
inline constexpr std::size_t kMaxTwinOpsPerIdentity = 32;

/// The validation of a reported-properties patch alone (no store), for sessions that want to
/// refuse early. Success or a TwinErrc.
core::Result<void> validate_reported_patch(std::string_view patch_json);

/// The difference that turns the desired section `from` into `to`: members added or changed
/// (objects compared member by member), null for members removed. `$`-members are skipped.
std::string desired_difference(std::string_view from_json, std::string_view to_json);

/// Where the twin store gets an identity's twin from IoT Hub, and sends reported properties to:
/// the upstream client.
class CloudTwins {
 public:
  virtual ~CloudTwins() = default;
  /// IoT Hub's twin of `id` as JSON ({"desired":{…},"reported":{…}}), or an error (offline,
  /// refused, no answer in time). `done` once, from any thread.
  virtual void fetch_twin(const core::ClientId& id,
                          std::function<void(core::Result<std::string>)> done) = 0;
  /// Sends a reported-properties patch of `id` to IoT Hub. `done` once, from any thread, with
  /// IoT Hub's status (2xx: applied; 4xx: refused for good; other: worth another try) or an error
  /// when IoT Hub could not be asked or did not answer in time.
  virtual void update_reported(const core::ClientId& id, std::string patch_json,
                               std::function<void(core::Result<int>)> done) = 0;
};

struct TwinStoreOptions {
  /// How often pending reported patches are pushed to IoT Hub (ReportedPropertiesSyncFrequency).
  std::chrono::milliseconds reported_sync_interval{5000};
  /// The least time between two refresh_desired() fetches of one identity (MinTwinSyncPeriod).
  std::chrono::milliseconds min_desired_refresh{120000};
};

class TwinStore {
 public:
  /// `store`, `channels`, `registry` and `clock` must outlive the twin store; `ingress` (may be
  /// null: no change notifications) too.
  TwinStore(store::MessageStore& store, DeviceChannels& channels, Ingress* ingress,
            ops::Registry& registry, const core::Clock& clock,
            boost::asio::any_io_executor executor, TwinStoreOptions options = {});
  ~TwinStore();
  TwinStore(const TwinStore&) = delete;
  TwinStore& operator=(const TwinStore&) = delete;

  /// GETs ask `cloud` first and cache what it answers; when it fails the cached twin answers
  /// (edgeHub's StoringTwinManager: never an empty twin while one is cached). Null: local only.
  /// Set before traffic; `cloud` must outlive the twin store or be unset first. While set, pending
  /// reported patches are synchronised every `reported_sync_interval`.
  void set_cloud(CloudTwins* cloud);

  /// The upstream is reachable again: pending reported patches go now.
  void on_cloud_online();

  /// Fetches `id`'s twin from the cloud (unless fetched less than `min_desired_refresh` ago),
  /// replaces the cached desired section and sends a subscribed session the difference, if any.
  void refresh_desired(core::ClientId id);

  /// One synchronisation round of the pending reported patches now; completes with how many
  /// identities have none left afterwards (synchronised or dropped as refused).
  template <typename Token>
  auto async_sync_reported(Token&& token) {
    return boost::asio::async_initiate<Token, void(core::Result<std::size_t>)>(
        [this](auto handler) {
          sync_reported(store::make_completion<std::size_t>(std::move(handler), executor_));
        },
        token);
  }

  /// The twin document as JSON text.
  template <typename Token>
  auto async_get(core::ClientId id, Token&& token) {
    return boost::asio::async_initiate<Token, void(core::Result<std::string>)>(
        [this](auto handler, core::ClientId i) {
          get(std::move(i), store::make_completion<std::string>(std::move(handler), executor_));
        },
        token, std::move(id));
  }

  /// Applies a reported-properties patch; completes with the new reported $version.
  template <typename Token>
  auto async_update_reported(core::ClientId id, std::string patch_json, Token&& token) {
    return boost::asio::async_initiate<Token, void(core::Result<std::int64_t>)>(
        [this](auto handler, core::ClientId i, std::string p) {
          update_reported(std::move(i), std::move(p),
                          store::make_completion<std::int64_t>(std::move(handler), executor_));
        },
        token, std::move(id), std::move(patch_json));
  }

  /// Applies a desired-properties patch from IoT Hub; completes with the new desired $version
  /// after notifying the connected, subscribed session (the difference after a version gap).
  template <typename Token>
  auto async_set_desired(core::ClientId id, std::string patch_json, Token&& token) {
    return boost::asio::async_initiate<Token, void(core::Result<std::int64_t>)>(
        [this](auto handler, core::ClientId i, std::string p) {
          set_desired(std::move(i), std::move(p),
                      store::make_completion<std::int64_t>(std::move(handler), executor_));
        },
        token, std::move(id), std::move(patch_json));
  }

 private:
  struct Impl;
  void get(core::ClientId id, store::Completion<std::string> done);
  void update_reported(core::ClientId id, std::string patch, store::Completion<std::int64_t> done);
  void set_desired(core::ClientId id, std::string patch, store::Completion<std::int64_t> done);
  void sync_reported(store::Completion<std::size_t> done);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace edgehub::hub

template <>
struct boost::system::is_error_code_enum<edgehub::hub::TwinErrc> : std::true_type {};
