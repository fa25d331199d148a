#pragma once

// hub::DeviceChannels: the registry of connected identities and what they subscribed to
// (design.md §2, last line). Sessions attach their DeviceChannel for the identity they
// authenticated and keep the returned Registration for as long as the connection lives; the
// forwarders, the method router and the twin store look channels up and watch for changes.
//
// One live connection per identity, as IoT Hub: attaching a second channel for the same
// identity closes the older one with Errc::superseded (IoT Hub error 400027).
//
// Thread safety: every member may be called from any thread. Watch callbacks run on the thread
// that caused the change, outside the registry's lock; they must be quick and must not block
// (post to your own executor and look the identity up again there).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "edgehub/core/client_id.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/hub/device_channel.hpp"
#include "edgehub/ops/metrics.hpp"

namespace edgehub::hub {

class DeviceChannels {
 public:
  explicit DeviceChannels(ops::Registry& registry);
  ~DeviceChannels();
  DeviceChannels(const DeviceChannels&) = delete;
  DeviceChannels& operator=(const DeviceChannels&) = delete;

  /// A session's hold on its registry entry. Move-only; destroying it (or detach()) removes the
  /// entry unless a newer connection of the same identity replaced it already.
  class Registration {
   public:
    Registration() = default;
    Registration(Registration&& other) noexcept;
    Registration& operator=(Registration&& other) noexcept;
    ~Registration();

    /// Replaces the subscription set (the session calls this on SUBSCRIBE / UNSUBSCRIBE).
    void set_subscriptions(Subscriptions subscriptions);
    void subscribe(Subscription s);
    void unsubscribe(Subscription s);
    Subscriptions subscriptions() const;
    /// This connection's number: distinct for every attach, never 0.
    std::uint64_t connection() const noexcept { return connection_; }
    const core::ClientId& id() const noexcept { return id_; }
    explicit operator bool() const noexcept { return owner_ != nullptr; }
    void detach();

   private:
    friend class DeviceChannels;
    Registration(DeviceChannels* owner, core::ClientId id, std::uint64_t connection)
        : owner_(owner), id_(std::move(id)), connection_(connection) {}
    DeviceChannels* owner_ = nullptr;
    core::ClientId id_;
    std::uint64_t connection_ = 0;
  };

  /// Registers `channel` as the live connection of `id`, closing (with Errc::superseded) any
  /// earlier one. The registry keeps only a weak reference: the session owns its channel.
  [[nodiscard]] Registration attach(core::ClientId id, std::shared_ptr<DeviceChannel> channel,
                                    Subscriptions subscriptions = {});

  /// The live connection of an identity.
  struct Entry {
    std::shared_ptr<DeviceChannel> channel;
    std::uint64_t connection = 0;
    Subscriptions subscriptions;
  };
  /// nullopt when `id` is not connected (or its channel object is gone).
  std::optional<Entry> find(const core::ClientId& id) const;

  /// Closes the connections of these identities with `reason` (revocations on reload).
  /// Returns how many were connected.
  std::size_t close_identities(std::span<const core::ClientId> ids, core::ErrorCode reason);
  /// Closes every connection (shutdown).
  std::size_t close_all(core::ErrorCode reason);

  std::size_t size() const;

  /// Called with the identity whose connection or subscriptions changed.
  using WatchFn = std::function<void(const core::ClientId&)>;

  /// Keeps a watch callback registered while it lives. Move-only.
  class Watch {
   public:
    Watch() = default;
    Watch(Watch&& other) noexcept;
    Watch& operator=(Watch&& other) noexcept;
    ~Watch();
    void reset();

   private:
    friend class DeviceChannels;
    Watch(DeviceChannels* owner, std::uint64_t id) : owner_(owner), id_(id) {}
    DeviceChannels* owner_ = nullptr;
    std::uint64_t id_ = 0;
  };
  /// Registers `fn` for every change. The registry must outlive the Watch.
  [[nodiscard]] Watch watch(WatchFn fn);

  // Helpers that post one call onto a channel's executor (the DeviceChannel contract). When the
  // channel object is gone by the time the call would run, `done` gets Errc::disconnected.
  static void post_input(const std::shared_ptr<DeviceChannel>& channel, core::Message message,
                         std::string input, DoneCallback done);
  static void post_c2d(const std::shared_ptr<DeviceChannel>& channel, core::Message message,
                       DoneCallback done);
  static void post_method(const std::shared_ptr<DeviceChannel>& channel, MethodRequest request,
                          DoneCallback done);
  static void post_desired(const std::shared_ptr<DeviceChannel>& channel, DesiredPatch patch);
  static void post_close(const std::shared_ptr<DeviceChannel>& channel, core::ErrorCode reason);

 private:
  struct Slot {
    std::weak_ptr<DeviceChannel> channel;
    std::uint64_t connection = 0;
    Subscriptions subscriptions;
  };
  struct Stats {
    ops::Gauge& connected_clients;
    ops::CounterFamily& connect_success;
    ops::CounterFamily& disconnect;
  };

  void release(const core::ClientId& id, std::uint64_t connection);
  void update(const core::ClientId& id, std::uint64_t connection,
              const std::function<void(Subscriptions&)>& change);
  std::optional<Subscriptions> subscriptions_of(const core::ClientId& id,
                                                std::uint64_t connection) const;
  void notify(const core::ClientId& id);

  Stats stats_;
  mutable std::mutex mutex_;
  std::map<core::ClientId, Slot> slots_;
  std::uint64_t next_connection_ = 1;
  mutable std::mutex watch_mutex_;
  std::map<std::uint64_t, std::shared_ptr<WatchFn>> watches_;
  std::uint64_t next_watch_ = 1;
};

}  // namespace edgehub::hub
