#include "edgehub/hub/ingress.hpp"

#include <array>
#include <boost/asio/bind_executor.hpp>
#include <chrono>
#include <cstdint>
#include <random>
#include <utility>

#include "edgehub/core/uuid.hpp"
#include "edgehub/ops/logging.hpp"
#include "edgehub/store/errors.hpp"
#include "hub/time_format.hpp"

namespace edgehub::hub {

using core::SystemProperty;

namespace {

// An edgeMessageId only has to be unique, not unpredictable: a version 4 UUID from a per-thread
// generator seeded once from the kernel. std::random_device per id executes RDSEED, which in a
// virtual machine is slow and contended (13 % of the network thread at 30,000 msg/s, perf).
std::string message_id() {
  thread_local std::mt19937_64 generator = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(),
                       device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  std::array<std::uint8_t, 16> b{};
  for (std::size_t i = 0; i < b.size(); i += 8) {
    const std::uint64_t r = generator();
    for (std::size_t j = 0; j < 8; ++j)
      b[i + j] = static_cast<std::uint8_t>(r >> (8 * j));
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return core::format_uuid(b);
}

}  // namespace

struct RoutingIngress::Stats {
  explicit Stats(ops::Registry& r)
      : received(r.counter("edgehub_messages_received_total", "Messages received from clients",
                           {"id", "route_output"})),
        size(r.summary("edgehub_message_size_bytes", "Size of received messages", {"id"})),
        dropped(r.counter("edgehub_messages_dropped_total", "Messages dropped",
                          {"reason", "from", "from_route_output"})),
        unack(r.counter("edgehub_messages_unack_total", "Messages not acknowledged",
                        {"reason", "from", "from_route_output"})) {}
  ops::CounterFamily& received;
  ops::SummaryFamily& size;
  ops::CounterFamily& dropped;
  ops::CounterFamily& unack;
};

RoutingIngress::RoutingIngress(store::MessageStore& store,
                               std::shared_ptr<const routing::RouteTable> routes,
                               IngressOptions options, ops::Registry& registry,
                               const core::Clock& clock, boost::asio::any_io_executor executor,
                               CommitObserver on_commit, std::function<std::string()> new_id)
    : store_(store),
      options_(std::move(options)),
      clock_(clock),
      executor_(std::move(executor)),
      on_commit_(std::move(on_commit)),
      new_id_(new_id ? std::move(new_id) : [] { return message_id(); }),
      stats_(std::make_unique<Stats>(registry)),
      routes_(routes ? std::move(routes) : std::make_shared<const routing::RouteTable>()) {}

RoutingIngress::~RoutingIngress() = default;

void RoutingIngress::set_routes(std::shared_ptr<const routing::RouteTable> routes) {
  if (!routes) routes = std::make_shared<const routing::RouteTable>();
  std::lock_guard lock(routes_mutex_);
  routes_ = std::move(routes);
}

std::shared_ptr<const routing::RouteTable> RoutingIngress::routes() const {
  std::lock_guard lock(routes_mutex_);
  return routes_;
}

namespace {

// Properties only the gateway may set: whatever a device put there is discarded before the
// size check and before stamping (edgeHub takes them from the authenticated identity).
constexpr SystemProperty kGatewayOwned[] = {
    SystemProperty::connection_device_id,   SystemProperty::connection_module_id,
    SystemProperty::connection_auth_method, SystemProperty::enqueued_time,
    SystemProperty::edge_message_id,        SystemProperty::origin_interface,
    SystemProperty::message_type,           SystemProperty::input_name,
};

void clear_gateway_owned(core::Message& message) {
  for (auto p : kGatewayOwned)
    message.sys_prop(p).reset();
}

}  // namespace

void RoutingIngress::stamp(core::Message& message) const {
  clear_gateway_owned(message);
  const auto now = clock_.now();
  message.enqueued_at = now;
  message.sys_prop(SystemProperty::connection_device_id) = message.origin.device;
  if (message.origin.is_module()) {
    message.sys_prop(SystemProperty::connection_module_id) = message.origin.module;
  }
  message.sys_prop(SystemProperty::enqueued_time) = format_iso8601(now);
  message.sys_prop(SystemProperty::edge_message_id) = new_id_();
  // edgeHub: "internal" for clients of the edge device itself (its modules), else "downstream".
  message.sys_prop(SystemProperty::origin_interface) =
      message.origin.device == options_.edge_device_id ? "internal" : "downstream";
  if (message.kind == core::MessageKind::twin_change_notification) {
    message.sys_prop(SystemProperty::message_type) = "twinChangeNotification";
  }
}

void RoutingIngress::do_accept(core::Message message, store::Completion<Accepted> done) {
  std::string from = message.origin.to_string();
  std::string output = message.sys_prop(SystemProperty::output_name).value_or("");

  clear_gateway_owned(message);
  const std::size_t size = message.accounted_size();
  if (size > options_.max_message_bytes) {
    ops::log(spdlog::level::warn,
             {.device_id = message.origin.device, .module_id = message.origin.module},
             "message of {} bytes refused: the limit is {}", size, options_.max_message_bytes);
    done(make_error_code(Errc::message_too_large));
    return;
  }
  stamp(message);
  stats_->received.with({from, output}).inc();
  stats_->size.with({from}).observe(static_cast<double>(size));

  // A MatchBuffer per thread: match() is allocation-free with a warm buffer, and the spans it
  // returns are consumed before this function returns.
  thread_local routing::MatchBuffer buffer;
  auto table = routes();
  store::AppendItem item;
  for (const auto& d : table->match(message, buffer)) {
    std::optional<std::chrono::seconds> ttl;
    if (d.ttl_secs != 0) ttl = std::chrono::seconds(d.ttl_secs);
    item.targets.push_back(store::Target{store::QueueId{d.endpoint->id, d.priority}, ttl});
  }
  if (item.targets.empty()) {
    // edgeHub acknowledges and drops a message that matches no route (reference §3.9).
    stats_->dropped.with({"no_route", from, output}).inc();
    done(Accepted{0});
    return;
  }

  std::vector<store::QueueId> queues;
  queues.reserve(item.targets.size());
  for (const auto& t : item.targets)
    queues.push_back(t.queue);
  item.message = std::move(message);
  store::AppendBatch batch;
  batch.push_back(std::move(item));

  // The store completes straight on the caller's executor, where `done` runs inline: one
  // hand-off per group commit for all the sessions of a network thread instead of a second post
  // per message through the ingress executor.
  auto caller = done.executor();
  store_.async_append(
      std::move(batch),
      boost::asio::bind_executor(
          std::move(caller),
          [this, done = std::move(done), queues = std::move(queues), from = std::move(from),
           output = std::move(output)](core::Result<store::AppendResult> r) mutable {
            if (!r) {
              stats_->unack.with({"storage_failure", from, output}).inc();
              const auto ec = r.error();
              core::ClientId id;
              core::ClientId::parse(from, id);
              ops::log(spdlog::level::warn, {.device_id = id.device, .module_id = id.module},
                       "message not stored: {}", ec.message());
              done.complete_here(make_error_code(store::is_retryable(ec) ? Errc::store_refused
                                                                         : Errc::storage_failure));
              return;
            }
            if (on_commit_) on_commit_(queues);
            done.complete_here(Accepted{queues.size()});
          }));
}

}  // namespace edgehub::hub
