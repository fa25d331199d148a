#pragma once

// The HTTPS API on 443 (issue 9): what net::Listener hands every request that is not a
// WebSocket upgrade. One request in, one response out; the caller is authenticated on every
// request (Authorization: SharedAccessSignature ... or the TLS client certificate), then:
//
//   telemetry        device sends as itself -> hub::Ingress; 204 after the durable commit
//   C2D              device polls / settles its own messages in the C2dQueue; a poll keeps its
//                    upstream C2D subscription (C2dPollers)
//   invoke_method    a module of this gateway -> hub::MethodRouter -> {"status","payload"}
//   scope_*          a child gateway (identities file: edge_device = true) reads its scope
//
// Errors are IoT Hub's (errors.hpp) in its JSON shape; every request is counted in
// edgehubd_http_requests_total{route, status} (docs/http.md).
//
// Executor affinity: the coroutine runs on the connection's executor; it waits only on the hub's
// asynchronous operations (ingress commit, method response), never blocks.

// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange, not including it
// clang-format on
#include <boost/asio/awaitable.hpp>
#include <string>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/http/c2d_pollers.hpp"
#include "edgehub/http/c2d_queue.hpp"
#include "edgehub/hub/ingress.hpp"
#include "edgehub/hub/method_router.hpp"
#include "edgehub/identity/authenticator.hpp"
#include "edgehub/identity/registry.hpp"
#include "edgehub/net/listener.hpp"
#include "edgehub/ops/metrics.hpp"

namespace edgehub::http {

struct ApiStats {
  explicit ApiStats(ops::Registry& registry);
  ops::CounterFamily& requests;  ///< edgehubd_http_requests_total{route, status}
};

/// What the API uses; everything must outlive every request in progress.
struct ApiContext {
  std::string edge_device_id;                    ///< modules allowed to invoke methods are its own
  const config::LimitsConfig* limits = nullptr;  ///< live limits (max_message_bytes)
  const identity::Authenticator* authenticator = nullptr;
  const identity::Registry* registry = nullptr;  ///< the scope API answers from it
  hub::Ingress* ingress = nullptr;
  hub::MethodRouter* methods = nullptr;
  C2dQueue* c2d = nullptr;
  C2dPollers* c2d_pollers = nullptr;  ///< null: C2D only from what is enqueued locally
  ApiStats* stats = nullptr;
};

/// Answers one request. Never throws.
boost::asio::awaitable<net::HttpResponse> handle_request(net::HttpRequest request,
                                                         const net::PeerInfo& peer,
                                                         const ApiContext& context);

}  // namespace edgehub::http
