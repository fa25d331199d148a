#include "edgehub/hub/method_router.hpp"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <charconv>
#include <map>
#include <utility>

#include "edgehub/ops/logging.hpp"

namespace edgehub::hub {

namespace {

bool valid_method_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxMethodNameLength) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

struct MethodRouter::Impl : std::enable_shared_from_this<Impl> {
  enum class State { waiting, sent };
  struct Pending {
    core::ClientId caller;
    core::ClientId target;
    std::string method_name;
    std::string payload;
    std::chrono::seconds response_timeout{};
    store::Completion<MethodResponse> done;
    core::SteadyTime started{};
    State state = State::waiting;
    std::uint64_t connection = 0;
    TimerHandle timer;
  };

  Impl(DeviceChannels& c, Scheduler& s, ops::Registry& r, const core::Clock& k,
       boost::asio::any_io_executor ex, MethodRouterOptions o)
      : channels(c),
        scheduler(s),
        clock(k),
        strand(boost::asio::make_strand(ex)),
        options(o),
        total(r.counter("edgehub_direct_methods_total", "Direct method calls", {"from", "to"})),
        duration(r.summary("edgehub_direct_method_duration_seconds",
                           "Time to complete a direct method call", {"from", "to"})) {}

  void begin(MethodCall call, store::Completion<MethodResponse> done) {
    if (!valid_method_name(call.method_name) || call.payload.size() > kMaxMethodPayloadBytes ||
        call.response_timeout < kMinResponseTimeout ||
        call.response_timeout > kMaxResponseTimeout ||
        call.connect_timeout < std::chrono::seconds(0) ||
        call.connect_timeout > kMaxConnectTimeout) {
      done(make_error_code(Errc::invalid_request));
      return;
    }
    if (pending.size() >= options.max_pending) {
      done(make_error_code(Errc::too_many_pending));
      return;
    }
    total.with({call.caller.to_string(), call.target.to_string()}).inc();
    const auto id = next_id++;
    Pending p;
    p.caller = std::move(call.caller);
    p.target = std::move(call.target);
    p.method_name = std::move(call.method_name);
    p.payload = std::move(call.payload);
    p.response_timeout = call.response_timeout;
    p.done = std::move(done);
    p.started = clock.steady_now();
    auto& entry = pending.emplace(id, std::move(p)).first->second;
    count.store(pending.size());
    if (try_send(id, entry)) return;
    if (call.connect_timeout == std::chrono::seconds(0)) {
      finish(id, make_error_code(Errc::not_connected));
      return;
    }
    // Wait for the target to connect and subscribe; the watch calls on_change().
    entry.timer = scheduler.call_after(strand, call.connect_timeout, [weak = weak_from_this(), id] {
      if (auto self = weak.lock()) {
        auto it = self->pending.find(id);
        if (it != self->pending.end() && it->second.state == State::waiting)
          self->finish(id, make_error_code(Errc::not_connected));
      }
    });
  }

  /// Sends when the target is connected and subscribed; false otherwise.
  bool try_send(std::uint64_t id, Pending& p) {
    auto entry = channels.find(p.target);
    if (!entry || !entry->subscriptions.has(Subscription::methods)) return false;
    p.state = State::sent;
    p.connection = entry->connection;
    p.timer = scheduler.call_after(strand, p.response_timeout, [weak = weak_from_this(), id] {
      if (auto self = weak.lock()) self->finish(id, make_error_code(Errc::timeout));
    });
    MethodRequest request{p.method_name, std::to_string(id), p.payload};
    DeviceChannels::post_method(
        entry->channel, std::move(request), [weak = weak_from_this(), id](core::ErrorCode ec) {
          if (!ec) return;
          if (auto self = weak.lock()) {
            boost::asio::post(self->strand, [self, id, ec] {
              self->finish(id, ec == Errc::queue_full ? ec : make_error_code(Errc::disconnected));
            });
          }
        });
    return true;
  }

  void on_change(const core::ClientId& client) {
    for (auto it = pending.begin(); it != pending.end();) {
      const auto id = it->first;
      auto& p = it->second;
      ++it;  // finish() erases the current entry
      if (p.target != client) continue;
      if (p.state == State::waiting) {
        try_send(id, p);
        continue;
      }
      auto entry = channels.find(client);
      if (!entry || entry->connection != p.connection ||
          !entry->subscriptions.has(Subscription::methods)) {
        finish(id, make_error_code(Errc::disconnected));
      }
    }
  }

  void respond(const core::ClientId& client, std::string request_id, int status, std::string body) {
    std::uint64_t id = 0;
    const auto* end = request_id.data() + request_id.size();
    auto [ptr, ec] = std::from_chars(request_id.data(), end, id);
    auto it = ec == std::errc{} && ptr == end ? pending.find(id) : pending.end();
    if (it == pending.end() || it->second.state != State::sent || it->second.target != client) {
      ops::log(spdlog::level::info, {.device_id = client.device, .module_id = client.module},
               "method response with unknown request id '{}' ignored", request_id);
      return;
    }
    finish(id, MethodResponse{status, std::move(body)});
  }

  void finish(std::uint64_t id, core::Result<MethodResponse> result) {
    auto it = pending.find(id);
    if (it == pending.end()) return;
    auto p = std::move(it->second);
    pending.erase(it);
    count.store(pending.size());
    p.timer.cancel();
    const std::chrono::duration<double> elapsed = clock.steady_now() - p.started;
    duration.with({p.caller.to_string(), p.target.to_string()}).observe(elapsed.count());
    p.done(std::move(result));
  }

  void fail_all(core::ErrorCode reason) {
    while (!pending.empty())
      finish(pending.begin()->first, reason);
  }

  DeviceChannels& channels;
  Scheduler& scheduler;
  const core::Clock& clock;
  boost::asio::strand<boost::asio::any_io_executor> strand;
  MethodRouterOptions options;
  ops::CounterFamily& total;
  ops::SummaryFamily& duration;
  std::map<std::uint64_t, Pending> pending;  // strand only
  std::atomic<std::size_t> count{0};         // pending.size(), readable from any thread
  std::uint64_t next_id = 1;
  DeviceChannels::Watch watch;
};

MethodRouter::MethodRouter(DeviceChannels& channels, Scheduler& scheduler, ops::Registry& registry,
                           const core::Clock& clock, boost::asio::any_io_executor executor,
                           MethodRouterOptions options)
    : executor_(executor),
      impl_(std::make_shared<Impl>(channels, scheduler, registry, clock, executor, options)) {
  std::weak_ptr<Impl> weak = impl_;
  impl_->watch = channels.watch([weak](const core::ClientId& id) {
    auto self = weak.lock();
    // Connection churn elsewhere costs nothing while no call is pending.
    if (!self || self->count.load() == 0) return;
    boost::asio::post(self->strand, [self, id] { self->on_change(id); });
  });
}

MethodRouter::~MethodRouter() {
  impl_->watch.reset();
}

void MethodRouter::start(MethodCall call, store::Completion<MethodResponse> done) {
  boost::asio::post(impl_->strand,
                    [self = impl_, c = std::move(call), d = std::move(done)]() mutable {
                      self->begin(std::move(c), std::move(d));
                    });
}

void MethodRouter::on_method_response(const core::ClientId& client, std::string_view request_id,
                                      int status, std::string payload) {
  boost::asio::post(impl_->strand, [self = impl_, client, rid = std::string(request_id), status,
                                    p = std::move(payload)]() mutable {
    self->respond(client, std::move(rid), status, std::move(p));
  });
}

void MethodRouter::shutdown(core::ErrorCode reason) {
  boost::asio::post(impl_->strand, [self = impl_, reason] { self->fail_all(reason); });
}

}  // namespace edgehub::hub
