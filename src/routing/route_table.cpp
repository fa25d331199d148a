#include "edgehub/routing/route_table.hpp"

#include <algorithm>

#include "routing/program.hpp"

namespace edgehub::routing {

std::string RouteIssue::to_string() const {
  std::string out = "route '" + route + "'";
  if (line > 0) out += " (line " + std::to_string(line) + ")";
  return out + ": " + error.to_string();
}

MatchBuffer::MatchBuffer() {
  deliveries_.reserve(8);
}

core::Result<RouteTable> RouteTable::build(std::span<const config::RouteSpec> specs,
                                           std::string_view edge_device_id,
                                           std::uint32_t default_ttl_secs,
                                           std::vector<RouteIssue>& issues) {
  RouteTable table;
  const std::size_t issues_before = issues.size();
  for (const auto& spec : specs) {
    auto report = [&](CompileError error) {
      issues.push_back(RouteIssue{spec.name, spec.line, std::move(error)});
    };
    if (spec.name.empty()) {
      report(CompileError{RoutingErrc::bad_route_spec, 0, "a route needs a non-empty name"});
      continue;
    }
    if (spec.priority && *spec.priority > kMaxExplicitPriority) {
      report(
          CompileError{RoutingErrc::bad_route_spec, 0,
                       "priority must be 0 (highest) to 9, got " + std::to_string(*spec.priority)});
      continue;
    }
    CompileError error;
    auto route = Route::compile(spec.text, edge_device_id, &error);
    if (!route) {
      report(std::move(error));
      continue;
    }
    TableRoute entry{spec.name, std::move(*route), kDefaultPriority, default_ttl_secs, 0};
    if (spec.priority) entry.priority = *spec.priority;
    // A route TTL of 0 inherits the store's (reference §3.1).
    if (spec.time_to_live_secs && *spec.time_to_live_secs != 0) {
      entry.ttl_secs = *spec.time_to_live_secs;
    }
    const auto& endpoint = entry.route.endpoint();
    auto it = std::find_if(table.endpoints_.begin(), table.endpoints_.end(),
                           [&](const Endpoint& e) { return e.id == endpoint.id; });
    if (it == table.endpoints_.end()) {
      table.endpoints_.push_back(endpoint);
      it = table.endpoints_.end() - 1;
    }
    entry.endpoint_index = static_cast<std::size_t>(it - table.endpoints_.begin());
    table.routes_.push_back(std::move(entry));
  }
  if (issues.size() != issues_before) return make_error_code(issues[issues_before].error.code);
  return table;
}

core::Result<RouteTable> RouteTable::build(const config::GatewayConfig& config,
                                           std::vector<RouteIssue>& issues) {
  return build(config.routes, config.device_id, config.store.time_to_live_secs, issues);
}

std::span<const Delivery> RouteTable::match(const core::Message& message,
                                            MatchBuffer& buffer) const noexcept {
  auto& out = buffer.deliveries_;
  out.clear();
  buffer.context_.bind(message);
  for (const TableRoute& r : routes_) {
    if (!r.route.fires(buffer.context_)) continue;
    const Endpoint* endpoint = &endpoints_[r.endpoint_index];
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const Delivery& d) { return d.endpoint == endpoint; });
    if (it == out.end()) {
      // Only grows past the reserved capacity with many endpoints; allocation failure here is
      // fatal (terminate), never a silently dropped delivery.
      out.push_back(Delivery{endpoint, r.priority, r.ttl_secs, r.name});
    } else if (r.priority < it->priority) {
      // One delivery per endpoint: the best priority wins, with that route's TTL (§3.9).
      *it = Delivery{endpoint, r.priority, r.ttl_secs, r.name};
    }
  }
  return out;
}

std::vector<Delivery> RouteTable::match(const core::Message& message) const {
  MatchBuffer buffer;
  const auto result = match(message, buffer);
  return {result.begin(), result.end()};
}

std::vector<RouteTable::QueueKey> RouteTable::queues() const {
  std::vector<QueueKey> out;
  for (const auto& r : routes_) {
    QueueKey key{endpoints_[r.endpoint_index].id, r.priority};
    if (std::find(out.begin(), out.end(), key) == out.end()) out.push_back(std::move(key));
  }
  return out;
}

}  // namespace edgehub::routing
