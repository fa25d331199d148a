#include "edgehub/http/api.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <ctime>
#include <vector>

#include "edgehub/http/api_route.hpp"
#include "edgehub/http/device_scope.hpp"
#include "edgehub/http/errors.hpp"
#include "edgehub/http/method_request.hpp"
#include "edgehub/http/telemetry_request.hpp"
#include "edgehub/hub/errors.hpp"
#include "edgehub/identity/sas_token.hpp"
#include "edgehub/ops/logging.hpp"

namespace edgehub::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

ApiStats::ApiStats(ops::Registry& registry)
    : requests(registry.counter("edgehubd_http_requests_total",
                                "HTTPS API requests on 443, by route and response status",
                                {"route", "status"})) {}

namespace {

constexpr std::string_view kModuleIdHeader = "x-ms-edge-moduleId";

using Response = net::HttpResponse;

// One request being answered: what every handler below needs.
struct Call {
  const net::HttpRequest& req;
  const net::PeerInfo& peer;
  const ApiContext& ctx;
  const ApiRoute& route;

  std::string_view header(std::string_view name) const {
    const auto it = req.find(boost::beast::string_view(name.data(), name.size()));
    return it == req.end() ? std::string_view()
                           : std::string_view(it->value().data(), it->value().size());
  }
  ops::LogFields fields() const {
    return {.device_id = route.device, .remote_addr = peer.remote_address, .protocol = "https"};
  }

  Response error(core::ErrorCode ec, std::string_view why) const {
    ops::log(spdlog::level::info, fields(), "https: {} {} refused: {} {}",
             std::string_view(req.method_string().data(), req.method_string().size()),
             operation_label(route.operation), status_of(ec), why.empty() ? ec.message() : why);
    return net::iothub_error_response(req.version(), req.keep_alive(), status_of(ec),
                                      error_name(ec), why.empty() ? ec.message() : why);
  }

  Response empty(bhttp::status status) const {
    Response res{status, req.version()};
    res.set(bhttp::field::server, "edgehubd");
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
  }

  Response json(std::string body) const {
    Response res{bhttp::status::ok, req.version()};
    res.set(bhttp::field::server, "edgehubd");
    res.set(bhttp::field::content_type, "application/json; charset=utf-8");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  }

  // The credential on this request: the SAS token in Authorization, else the client
  // certificate the TLS handshake received.
  core::Result<identity::AuthenticatedIdentity> authenticate(const core::ClientId& claimed) const {
    identity::Credential credential = identity::NoCredential{};
    if (const auto auth = header("Authorization"); !auth.empty()) {
      credential = identity::SasCredential{std::string(auth)};
    } else if (!peer.client_cert_chain_der.empty()) {
      identity::ClientCertificate cert;
      cert.leaf_der = peer.client_cert_chain_der.front();
      cert.chain_der.assign(peer.client_cert_chain_der.begin() + 1,
                            peer.client_cert_chain_der.end());
      credential = std::move(cert);
    }
    return ctx.authenticator->authenticate(claimed, credential);
  }
};

// The hub's errors as IoT Hub reports them on HTTPS.
core::ErrorCode from_hub(core::ErrorCode ec) {
  using hub::Errc;
  if (ec == Errc::message_too_large) return http::Errc::too_large;
  if (ec == Errc::not_connected || ec == Errc::disconnected) return http::Errc::device_not_online;
  if (ec == Errc::timeout) return http::Errc::timeout;
  if (ec == Errc::too_many_pending || ec == Errc::queue_full) return http::Errc::throttled;
  if (ec == Errc::invalid_request) return http::Errc::bad_request;
  if (ec == Errc::store_refused || ec == Errc::storage_failure || ec == Errc::shutting_down) {
    return http::Errc::queue_full;
  }
  return http::Errc::internal;
}

std::string format_time(core::SystemTime t) {
  const auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Hands every message to the ingress at once (the store commits them together) and waits for
// all commits; the first error, if any.
asio::awaitable<core::ErrorCode> accept_all(hub::Ingress& ingress,
                                            std::vector<core::Message> messages) {
  auto ex = co_await asio::this_coro::executor;
  struct Pending {
    explicit Pending(asio::any_io_executor e, std::size_t n)
        : left(n), done(e, asio::steady_timer::time_point::max()) {}
    std::size_t left;
    core::ErrorCode first;
    asio::steady_timer done;  ///< expires (at min) when the last commit completes
  };
  auto pending = std::make_shared<Pending>(ex, messages.size());
  for (auto& m : messages) {
    ingress.async_accept(std::move(m),
                         asio::bind_executor(ex, [pending](core::Result<hub::Accepted> r) {
                           if (!r && !pending->first) pending->first = r.error();
                           if (--pending->left == 0) {
                             pending->done.expires_at(asio::steady_timer::time_point::min());
                           }
                         }));
  }
  if (pending->left > 0) {
    boost::system::error_code ignored;
    co_await pending->done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  co_return pending->first;
}

asio::awaitable<Response> telemetry(const Call& c) {
  const core::ClientId device{c.route.device, {}};
  if (auto auth = c.authenticate(device); !auth)
    co_return c.error(Errc::unauthorized, auth.error().message());
  const std::size_t limit = c.ctx.limits->max_message_bytes;
  std::string why;
  std::vector<core::Message> messages;
  if (is_batch_content_type(c.header("Content-Type"))) {
    auto batch = messages_from_batch(c.req.body(), limit, why);
    if (!batch) co_return c.error(batch.error(), why);
    messages = std::move(*batch);
  } else {
    std::vector<Header> headers;
    for (const auto& f : c.req) {
      headers.emplace_back(std::string_view(f.name_string().data(), f.name_string().size()),
                           std::string_view(f.value().data(), f.value().size()));
    }
    auto single = message_from_request(headers, c.req.body(), limit, why);
    if (!single) co_return c.error(single.error(), why);
    messages.push_back(std::move(*single));
  }
  const auto count = messages.size();
  for (auto& m : messages)
    m.origin = device;
  if (auto ec = co_await accept_all(*c.ctx.ingress, std::move(messages))) {
    co_return c.error(from_hub(ec), ec.message());
  }
  ops::log(spdlog::level::debug, c.fields(), "https: {} message(s) committed", count);
  co_return c.empty(bhttp::status::no_content);
}

Response c2d_message(const Call& c, const C2dDelivery& d) {
  using core::SystemProperty;
  Response res{bhttp::status::ok, c.req.version()};
  res.set(bhttp::field::server, "edgehubd");
  res.keep_alive(c.req.keep_alive());
  res.set(bhttp::field::etag, "\"" + d.lock_token + "\"");
  const auto& m = d.message;
  const auto sys = [&](std::string_view header, SystemProperty p) {
    if (const auto& v = m.sys_prop(p)) {
      res.set(boost::beast::string_view(header.data(), header.size()), *v);
    }
  };
  sys("iothub-messageid", SystemProperty::message_id);
  sys("iothub-correlationid", SystemProperty::correlation_id);
  sys("iothub-userid", SystemProperty::user_id);
  sys("iothub-expiry", SystemProperty::absolute_expiry_time);
  sys("iothub-ack", SystemProperty::ack);
  sys("iothub-contenttype", SystemProperty::content_type);
  sys("iothub-contentencoding", SystemProperty::content_encoding);
  res.set("iothub-to", "/devices/" + c.route.device + "/messages/deviceBound");
  res.set("iothub-sequencenumber", std::to_string(d.sequence_number));
  res.set("iothub-enqueuedtime", format_time(d.enqueued_at));
  res.set("iothub-deliverycount", std::to_string(d.delivery_count));
  for (const auto& p : m.app)
    res.set("iothub-app-" + p.name, p.value.value_or(""));
  res.set(bhttp::field::content_type, "application/octet-stream");
  res.body() = std::string(m.body_text());
  res.prepare_payload();
  return res;
}

Response c2d(const Call& c) {
  const core::ClientId device{c.route.device, {}};
  if (auto auth = c.authenticate(device); !auth)
    return c.error(Errc::unauthorized, auth.error().message());
  auto& queue = *c.ctx.c2d;
  core::Result<void> settled{};
  switch (c.route.operation) {
    case Operation::c2d_receive: {
      if (c.ctx.c2d_pollers) c.ctx.c2d_pollers->on_poll(c.route.device);
      auto delivery = queue.receive(c.route.device);
      return delivery ? c2d_message(c, *delivery) : c.empty(bhttp::status::no_content);
    }
    case Operation::c2d_complete:
      settled = queue.complete(c.route.device, c.route.lock_token);
      break;
    case Operation::c2d_reject:
      settled = queue.reject(c.route.device, c.route.lock_token);
      break;
    default:
      settled = queue.abandon(c.route.device, c.route.lock_token);
      break;
  }
  if (!settled) return c.error(settled.error(), {});
  return c.empty(bhttp::status::no_content);
}

asio::awaitable<Response> invoke_method(const Call& c) {
  core::ClientId caller;
  if (!core::ClientId::parse(c.header(kModuleIdHeader), caller)) {
    co_return c.error(Errc::unauthorized,
                      "x-ms-edge-moduleId must name the calling module as {device}/{module}");
  }
  if (auto auth = c.authenticate(caller); !auth) {
    co_return c.error(Errc::unauthorized, auth.error().message());
  }
  if (!caller.is_module() || caller.device != c.ctx.edge_device_id) {
    co_return c.error(Errc::forbidden, "only modules of this gateway may invoke direct methods");
  }
  std::string why;
  auto parsed = parse_method_request(c.req.body(), why);
  if (!parsed) co_return c.error(parsed.error(), why);
  hub::MethodCall call;
  call.caller = caller;
  call.target = core::ClientId{c.route.device, c.route.module};
  call.method_name = std::move(parsed->method_name);
  call.payload = std::move(parsed->payload);
  call.response_timeout = parsed->response_timeout;
  call.connect_timeout = parsed->connect_timeout;
  auto answer = co_await c.ctx.methods->async_invoke(std::move(call), asio::use_awaitable);
  if (!answer) co_return c.error(from_hub(answer.error()), answer.error().message());
  co_return c.json(method_response_body(answer->status, answer->payload));
}

// Whether `authorization` is a SAS token signed for the $edgeHub module of `edge_device`.
bool names_edgehub_module(std::string_view authorization, const std::string& edge_device) {
  if (authorization.empty()) return false;
  auto token = identity::parse_sas_token(authorization);
  if (!token) return false;
  auto id = identity::client_id_from_resource(token->resource);
  return id && id->device == edge_device && id->module == "$edgeHub";
}

Response scope(const Call& c) {
  if (c.route.api_version != kNestedApiVersion) {
    return c.error(Errc::bad_api_version,
                   "the scope API needs api-version=" + std::string(kNestedApiVersion));
  }
  // IoT Hub and edgeHub authorise a child gateway's scope call with its $edgeHub token; a child
  // that has no $edgeHub key here may use its device credentials instead.
  const core::ClientId edge{c.route.device, {}};
  const bool as_edgehub = names_edgehub_module(c.header("Authorization"), edge.device);
  auto auth = c.authenticate(as_edgehub ? core::ClientId{edge.device, "$edgeHub"} : edge);
  if (!auth) return c.error(Errc::unauthorized, auth.error().message());
  const auto snapshot = c.ctx.registry->snapshot();
  const auto* identity = snapshot->find(edge);
  if (!identity || !identity->edge_device) {
    return c.error(Errc::forbidden, "only child gateways (edge_device = true) may read a scope");
  }
  std::string why;
  auto body = c.route.operation == Operation::scope_devices_and_modules
                  ? scope_page(*snapshot, c.route.device, c.req.body(), why)
                  : scope_identity(*snapshot, c.route.device, c.req.body(), why);
  if (!body) return c.error(body.error(), why);
  return c.json(std::move(*body));
}

asio::awaitable<Response> dispatch(const Call& c) {
  switch (c.route.operation) {
    case Operation::telemetry:
    case Operation::c2d_receive:
    case Operation::c2d_complete:
    case Operation::c2d_reject:
    case Operation::c2d_abandon:
      // The device API names an api-version on every request (iot-hub-protocol.md §5).
      if (!c.route.api_version || !is_api_version(*c.route.api_version)) {
        co_return c.error(Errc::bad_api_version, "api-version=YYYY-MM-DD is required");
      }
      if (c.route.operation == Operation::telemetry) co_return co_await telemetry(c);
      co_return c2d(c);
    case Operation::invoke_method:
      // ModuleClient.invokeMethod sends no api-version; one that is sent must be well formed.
      if (c.route.api_version && !is_api_version(*c.route.api_version)) {
        co_return c.error(Errc::bad_api_version, "api-version must be YYYY-MM-DD[-preview]");
      }
      co_return co_await invoke_method(c);
    case Operation::scope_devices_and_modules:
    case Operation::scope_on_behalf_of:
      co_return scope(c);
  }
  co_return c.error(Errc::internal, {});
}

}  // namespace

asio::awaitable<Response> handle_request(net::HttpRequest request, const net::PeerInfo& peer,
                                         const ApiContext& context) {
  const auto target = std::string_view(request.target().data(), request.target().size());
  const auto method =
      std::string_view(request.method_string().data(), request.method_string().size());
  auto route = match_route(method, target);
  Response res;
  std::string label = "unknown";
  if (!route) {
    ops::log(spdlog::level::info, {.remote_addr = peer.remote_address, .protocol = "https"},
             "https: {} request refused: {}", method, route.error().message());
    res = net::iothub_error_response(request.version(), request.keep_alive(),
                                     status_of(route.error()), error_name(route.error()),
                                     route.error().message());
  } else {
    label = std::string(operation_label(route->operation));
    const Call c{request, peer, context, *route};
    try {
      res = co_await dispatch(c);
    } catch (const std::exception& e) {
      // Third-party throws (allocation) end at the module boundary (style P4).
      res = c.error(Errc::internal, e.what());
    }
  }
  context.stats->requests.with({label, std::to_string(res.result_int())}).inc();
  co_return res;
}

}  // namespace edgehub::http
