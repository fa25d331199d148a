#pragma once

// Routes and the route table (edgehub-reference.md §3.1-3.4, §3.9, §4.1).
//
// A Route is `[SELECT *] FROM <source> [WHERE <condition>] INTO <sink>`. A RouteTable is built
// once from [gateway.routes] (config::RouteSpec) and is immutable afterwards: share it as
// shared_ptr<const RouteTable> and swap on reload. match() never throws and, with a reused
// MatchBuffer, does not allocate.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/core/message.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/routing/condition.hpp"
#include "edgehub/routing/errors.hpp"

namespace edgehub::routing {

/// edgeHub's priority for a route that declares none: below every explicit 0-9 (0 is highest).
inline constexpr std::uint32_t kDefaultPriority = 2'000'000'000;
inline constexpr std::uint32_t kMaxExplicitPriority = 9;

/// The endpoint id edgeHub gives $upstream (its CloudEndpoint); store queues and the `endpoint`
/// metric label use it.
inline constexpr std::string_view kUpstreamEndpointId = "iothub";

enum class EndpointKind : std::uint8_t { upstream, module_input };

struct Endpoint {
  EndpointKind kind = EndpointKind::upstream;
  /// Stable id: "iothub" for $upstream, "{edgeDeviceId}/{moduleId}/{input}" for a module input.
  std::string id;
  std::string module_id;   ///< module_input only
  std::string input_name;  ///< module_input only
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

/// edgeHub's store queue name for (endpoint, priority): the endpoint id for the default priority,
/// "{endpointId}_Pri{n}" for an explicit one (reference §4.1).
std::string queue_name(std::string_view endpoint_id, std::uint32_t priority);

class Route {
 public:
  /// Compiles a whole route. Module-input endpoint ids are made with `edge_device_id`.
  static core::Result<Route> compile(std::string_view text, std::string_view edge_device_id,
                                     CompileError* error = nullptr);

  const std::string& text() const noexcept { return text_; }
  /// The FROM path with trailing '*' and '/' removed, as edgeHub matches it ("" for FROM /*).
  const std::string& source() const noexcept { return source_; }
  const Endpoint& endpoint() const noexcept { return endpoint_; }
  const std::optional<Condition>& condition() const noexcept { return condition_; }

  /// Case-insensitive prefix match on path segments of the message's source path (§3.3).
  bool source_matches(const core::Message& message) const noexcept;

  /// Source match and condition true.
  bool fires(EvalContext& bound_context) const noexcept;

 private:
  Route() = default;
  std::string text_;
  std::string source_;
  std::vector<std::string> source_segments_;
  Endpoint endpoint_;
  std::optional<Condition> condition_;
};

/// One delivery decided by match(): the message goes to `endpoint` at `priority` with `ttl_secs`.
struct Delivery {
  const Endpoint* endpoint = nullptr;
  std::uint32_t priority = kDefaultPriority;
  std::uint32_t ttl_secs = 0;
  std::string_view route_name;  ///< the route that won (best priority, first declared on a tie)
};

/// A compiled route of the table with its resolved priority and TTL.
struct TableRoute {
  std::string name;
  Route route;
  std::uint32_t priority = kDefaultPriority;
  std::uint32_t ttl_secs = 0;
  std::size_t endpoint_index = 0;
};

/// A problem with one route of [gateway.routes]; the message names the route.
struct RouteIssue {
  std::string route;  ///< the route's name
  int line = 0;       ///< from RouteSpec::line when known
  CompileError error;
  /// "route 'NAME': column C: message"
  std::string to_string() const;
};

/// Reusable scratch for RouteTable::match(): keep one per thread or session.
class MatchBuffer {
 public:
  MatchBuffer();
  EvalContext& context() noexcept { return context_; }

 private:
  friend class RouteTable;
  EvalContext context_;
  std::vector<Delivery> deliveries_;
};

class RouteTable {
 public:
  RouteTable() = default;

  /// Compiles every route; all bad routes are reported in `issues` (each naming its route) and
  /// the table is only returned when there are none. `default_ttl_secs` applies to routes whose
  /// TTL is absent or 0.
  static core::Result<RouteTable> build(std::span<const config::RouteSpec> specs,
                                        std::string_view edge_device_id,
                                        std::uint32_t default_ttl_secs,
                                        std::vector<RouteIssue>& issues);

  /// Same, from a configuration snapshot: its routes, the gateway's device id and the store's
  /// default TTL.
  static core::Result<RouteTable> build(const config::GatewayConfig& config,
                                        std::vector<RouteIssue>& issues);

  /// The deliveries for `message`: one per endpoint, best priority wins. The span points into
  /// `buffer` and is valid until the buffer's next use. Never throws.
  std::span<const Delivery> match(const core::Message& message, MatchBuffer& buffer) const noexcept;

  /// Convenience (allocates).
  std::vector<Delivery> match(const core::Message& message) const;

  const std::vector<TableRoute>& routes() const noexcept { return routes_; }
  /// The distinct endpoints the routes name, in first-use order.
  const std::vector<Endpoint>& endpoints() const noexcept { return endpoints_; }

  struct QueueKey {
    std::string endpoint_id;
    std::uint32_t priority = kDefaultPriority;
    friend bool operator==(const QueueKey&, const QueueKey&) = default;
  };
  /// Every (endpoint, priority) pair some route can produce: the queues the store must open.
  std::vector<QueueKey> queues() const;

 private:
  std::vector<TableRoute> routes_;
  std::vector<Endpoint> endpoints_;
};

}  // namespace edgehub::routing
