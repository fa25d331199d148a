// libFuzzer target: one HTTP/1.1 request as raw bytes through Beast's request parser (a buffer
// state machine, no I/O), then what the HTTPS API does with it before touching the hub:
// match_route, the header -> message mapping, and the batch, method and scope bodies.
// Invariants checked (abort = finding):
//  - a matched route names a valid device id, and a lock token only for C2D settle operations;
//  - every refusal is an http::Errc with a 4xx status;
//  - an accepted message or batch is within the size limit it was given.

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "edgehub/http/api_route.hpp"
#include "edgehub/http/device_scope.hpp"
#include "edgehub/http/errors.hpp"
#include "edgehub/http/method_request.hpp"
#include "edgehub/http/telemetry_request.hpp"
#include "edgehub/identity/registry.hpp"

namespace {

using namespace edgehub;
namespace bhttp = boost::beast::http;

constexpr std::size_t kLimit = 4096;

void check_refusal(const core::ErrorCode& ec) {
  const int status = http::status_of(ec);
  if (ec.category() != http::http_category() || status < 400 || status >= 500) std::abort();
}

const identity::Snapshot& registry() {
  static const identity::Snapshot snapshot = [] {
    std::vector<identity::RegistryIssue> issues;
    auto s = identity::parse_identities(
        "[[device]]\nid = \"child\"\nedge_device = true\n"
        "primary_key = \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\"\n"
        "[[device]]\nid = \"leaf\"\nparent = \"child\"\nauth = \"x509_ca\"\n",
        "fuzz.toml", "gw", issues);
    if (!s) std::abort();
    return *s;
  }();
  return snapshot;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec == bhttp::error::need_more) parser.put_eof(ec);
  if (!parser.is_header_done()) return 0;
  const auto& req = parser.get();

  const auto target = std::string_view(req.target().data(), req.target().size());
  const auto method = std::string_view(req.method_string().data(), req.method_string().size());
  auto route = http::match_route(method, target);
  if (!route) {
    check_refusal(route.error());
    return 0;
  }
  if (!identity::is_valid_id(route->device)) std::abort();
  const bool settles = route->operation == http::Operation::c2d_complete ||
                       route->operation == http::Operation::c2d_reject ||
                       route->operation == http::Operation::c2d_abandon;
  if (settles == route->lock_token.empty()) std::abort();
  if (route->api_version) (void)http::is_api_version(*route->api_version);
  if (!parser.is_done()) return 0;

  const std::string& body = req.body();
  std::string why;
  switch (route->operation) {
    case http::Operation::telemetry: {
      std::vector<http::Header> headers;
      for (const auto& f : req) {
        headers.emplace_back(std::string_view(f.name_string().data(), f.name_string().size()),
                             std::string_view(f.value().data(), f.value().size()));
      }
      auto single = http::message_from_request(headers, body, kLimit, why);
      if (single && single->accounted_size() > kLimit) std::abort();
      if (!single) check_refusal(single.error());
      auto batch = http::messages_from_batch(body, kLimit, why);
      if (batch) {
        std::size_t total = 0;
        for (const auto& m : *batch)
          total += m.accounted_size();
        if (total > kLimit || batch->empty() || batch->size() > http::kMaxBatchMessages) {
          std::abort();
        }
      } else {
        check_refusal(batch.error());
      }
      break;
    }
    case http::Operation::invoke_method: {
      auto call = http::parse_method_request(body, why);
      if (call) {
        if (call->method_name.empty() || call->payload.size() > http::kMaxMethodPayloadBytes) {
          std::abort();
        }
        (void)http::method_response_body(200, call->payload);
      } else {
        check_refusal(call.error());
      }
      break;
    }
    case http::Operation::scope_devices_and_modules: {
      auto page = http::scope_page(registry(), route->device, body, why);
      if (!page) check_refusal(page.error());
      break;
    }
    case http::Operation::scope_on_behalf_of: {
      auto one = http::scope_identity(registry(), route->device, body, why);
      if (!one) check_refusal(one.error());
      break;
    }
    default:
      break;
  }
  return 0;
}
