#include "edgehub/hub/device_channels.hpp"

#include <boost/asio/post.hpp>
#include <utility>

#include "edgehub/hub/errors.hpp"
#include "edgehub/ops/logging.hpp"

namespace edgehub::hub {

DeviceChannels::DeviceChannels(ops::Registry& registry)
    : stats_{
          registry.gauge("edgehub_connected_clients", "Clients connected to the gateway").with({}),
          registry.counter("edgehub_client_connect_success_total", "Successful client connections",
                           {"id"}),
          registry.counter("edgehub_client_disconnect_total", "Client disconnections", {"id"})} {}

DeviceChannels::~DeviceChannels() = default;

// --- Registration ---------------------------------------------------------------------------

DeviceChannels::Registration::Registration(Registration&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      id_(std::move(other.id_)),
      connection_(std::exchange(other.connection_, 0)) {}

DeviceChannels::Registration& DeviceChannels::Registration::operator=(
    Registration&& other) noexcept {
  if (this != &other) {
    detach();
    owner_ = std::exchange(other.owner_, nullptr);
    id_ = std::move(other.id_);
    connection_ = std::exchange(other.connection_, 0);
  }
  return *this;
}

DeviceChannels::Registration::~Registration() {
  detach();
}

void DeviceChannels::Registration::detach() {
  if (auto* owner = std::exchange(owner_, nullptr)) owner->release(id_, connection_);
}

void DeviceChannels::Registration::set_subscriptions(Subscriptions subscriptions) {
  if (owner_) owner_->update(id_, connection_, [&](Subscriptions& s) { s = subscriptions; });
}

void DeviceChannels::Registration::subscribe(Subscription sub) {
  if (owner_) owner_->update(id_, connection_, [&](Subscriptions& s) { s.add(sub); });
}

void DeviceChannels::Registration::unsubscribe(Subscription sub) {
  if (owner_) owner_->update(id_, connection_, [&](Subscriptions& s) { s.remove(sub); });
}

Subscriptions DeviceChannels::Registration::subscriptions() const {
  if (!owner_) return {};
  return owner_->subscriptions_of(id_, connection_).value_or(Subscriptions{});
}

// --- Watch ----------------------------------------------------------------------------------

DeviceChannels::Watch::Watch(Watch&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), id_(std::exchange(other.id_, 0)) {}

DeviceChannels::Watch& DeviceChannels::Watch::operator=(Watch&& other) noexcept {
  if (this != &other) {
    reset();
    owner_ = std::exchange(other.owner_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

DeviceChannels::Watch::~Watch() {
  reset();
}

void DeviceChannels::Watch::reset() {
  if (auto* owner = std::exchange(owner_, nullptr)) {
    std::lock_guard lock(owner->watch_mutex_);
    owner->watches_.erase(id_);
  }
}

DeviceChannels::Watch DeviceChannels::watch(WatchFn fn) {
  std::lock_guard lock(watch_mutex_);
  const auto id = next_watch_++;
  watches_.emplace(id, std::make_shared<WatchFn>(std::move(fn)));
  return Watch(this, id);
}

// --- Registry -------------------------------------------------------------------------------

DeviceChannels::Registration DeviceChannels::attach(core::ClientId id,
                                                    std::shared_ptr<DeviceChannel> channel,
                                                    Subscriptions subscriptions) {
  std::shared_ptr<DeviceChannel> previous;
  std::uint64_t connection = 0;
  const std::string label = id.to_string();
  {
    std::lock_guard lock(mutex_);
    connection = next_connection_++;
    auto [it, inserted] = slots_.try_emplace(id);
    if (!inserted) {
      previous = it->second.channel.lock();
      // The old connection stops counting now; its Registration finds a newer connection
      // number later and leaves the entry alone.
      stats_.disconnect.with({label}).inc();
    } else {
      stats_.connected_clients.inc();
    }
    it->second = Slot{channel, connection, subscriptions};
  }
  stats_.connect_success.with({label}).inc();
  if (previous) {
    ops::log(spdlog::level::info, {.device_id = id.device, .module_id = id.module},
             "closing the previous connection of {}: the identity connected again", label);
    post_close(previous, make_error_code(Errc::superseded));
  }
  notify(id);
  return Registration(this, std::move(id), connection);
}

void DeviceChannels::release(const core::ClientId& id, std::uint64_t connection) {
  {
    std::lock_guard lock(mutex_);
    auto it = slots_.find(id);
    if (it == slots_.end() || it->second.connection != connection) return;
    slots_.erase(it);
    stats_.connected_clients.dec();
  }
  stats_.disconnect.with({id.to_string()}).inc();
  notify(id);
}

void DeviceChannels::update(const core::ClientId& id, std::uint64_t connection,
                            const std::function<void(Subscriptions&)>& change) {
  {
    std::lock_guard lock(mutex_);
    auto it = slots_.find(id);
    if (it == slots_.end() || it->second.connection != connection) return;
    const auto before = it->second.subscriptions;
    change(it->second.subscriptions);
    if (before == it->second.subscriptions) return;
  }
  notify(id);
}

std::optional<Subscriptions> DeviceChannels::subscriptions_of(const core::ClientId& id,
                                                              std::uint64_t connection) const {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(id);
  if (it == slots_.end() || it->second.connection != connection) return std::nullopt;
  return it->second.subscriptions;
}

std::optional<DeviceChannels::Entry> DeviceChannels::find(const core::ClientId& id) const {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(id);
  if (it == slots_.end()) return std::nullopt;
  auto channel = it->second.channel.lock();
  if (!channel) return std::nullopt;
  return Entry{std::move(channel), it->second.connection, it->second.subscriptions};
}

std::size_t DeviceChannels::close_identities(std::span<const core::ClientId> ids,
                                             core::ErrorCode reason) {
  std::vector<std::shared_ptr<DeviceChannel>> to_close;
  {
    std::lock_guard lock(mutex_);
    for (const auto& id : ids) {
      auto it = slots_.find(id);
      if (it == slots_.end()) continue;
      if (auto c = it->second.channel.lock()) to_close.push_back(std::move(c));
    }
  }
  // The entries stay until the sessions end and drop their Registrations, so disconnect
  // accounting happens in one place.
  for (auto& c : to_close)
    post_close(c, reason);
  return to_close.size();
}

std::size_t DeviceChannels::close_all(core::ErrorCode reason) {
  std::vector<core::ClientId> ids;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, slot] : slots_)
      ids.push_back(id);
  }
  return close_identities(ids, reason);
}

std::size_t DeviceChannels::size() const {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

void DeviceChannels::notify(const core::ClientId& id) {
  std::vector<std::shared_ptr<WatchFn>> fns;
  {
    std::lock_guard lock(watch_mutex_);
    fns.reserve(watches_.size());
    for (const auto& [key, fn] : watches_)
      fns.push_back(fn);
  }
  for (const auto& fn : fns)
    (*fn)(id);
}

// --- Posting onto a channel's executor ------------------------------------------------------

void DeviceChannels::post_input(const std::shared_ptr<DeviceChannel>& channel,
                                core::Message message, std::string input, DoneCallback done) {
  std::weak_ptr<DeviceChannel> weak = channel;
  boost::asio::post(channel->executor(), [weak, m = std::move(message), in = std::move(input),
                                          d = std::move(done)]() mutable {
    if (auto c = weak.lock()) {
      c->deliver_input(std::move(m), std::move(in), std::move(d));
    } else {
      d(make_error_code(Errc::disconnected));
    }
  });
}

void DeviceChannels::post_c2d(const std::shared_ptr<DeviceChannel>& channel, core::Message message,
                              DoneCallback done) {
  std::weak_ptr<DeviceChannel> weak = channel;
  boost::asio::post(channel->executor(),
                    [weak, m = std::move(message), d = std::move(done)]() mutable {
                      if (auto c = weak.lock()) {
                        c->deliver_c2d(std::move(m), std::move(d));
                      } else {
                        d(make_error_code(Errc::disconnected));
                      }
                    });
}

void DeviceChannels::post_method(const std::shared_ptr<DeviceChannel>& channel,
                                 MethodRequest request, DoneCallback done) {
  std::weak_ptr<DeviceChannel> weak = channel;
  boost::asio::post(channel->executor(),
                    [weak, r = std::move(request), d = std::move(done)]() mutable {
                      if (auto c = weak.lock()) {
                        c->deliver_method(std::move(r), std::move(d));
                      } else {
                        d(make_error_code(Errc::disconnected));
                      }
                    });
}

void DeviceChannels::post_desired(const std::shared_ptr<DeviceChannel>& channel,
                                  DesiredPatch patch) {
  std::weak_ptr<DeviceChannel> weak = channel;
  boost::asio::post(channel->executor(), [weak, p = std::move(patch)]() mutable {
    if (auto c = weak.lock()) c->deliver_desired(std::move(p));
  });
}

void DeviceChannels::post_close(const std::shared_ptr<DeviceChannel>& channel,
                                core::ErrorCode reason) {
  std::weak_ptr<DeviceChannel> weak = channel;
  boost::asio::post(channel->executor(), [weak, reason] {
    if (auto c = weak.lock()) c->close(reason);
  });
}

}  // namespace edgehub::hub
