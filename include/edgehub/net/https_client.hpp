#pragma once

// One HTTPS request on a fresh connection (the device-scope API of IoT Hub or of a parent
// gateway): connect_client's TLS with the server's certificate and host name verified, an
// HTTP/1.1 request with `Connection: close`, the response read to its end. The whole exchange has
// one deadline and the response body a size limit, so a slow or hostile server costs bounded time
// and memory.
//
//   auto r = co_await net::https_request(executor, {.host = "hub", .port = 443},
//                                        {.method = "POST", .target = "/x", .body = "{}"});

// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without it
// clang-format on
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "edgehub/core/result.hpp"
#include "edgehub/net/client_connect.hpp"

namespace edgehub::net {

struct HttpsRequest {
  std::string method = "GET";
  std::string target;  ///< path and query, e.g. "/devices/gw?api-version=..."
  /// Besides Host, Content-Length and Connection, which are always set. Values may be secrets
  /// (Authorization): nothing here logs them.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::size_t max_response_bytes = 4 * 1024 * 1024;  ///< body limit
  std::chrono::milliseconds timeout{60000};          ///< connect + request + response
};

struct HttpsResponse {
  unsigned status = 0;
  std::string body;
};

/// Errors: connect_client's; boost::asio::error::timed_out when `timeout` passed first;
/// boost::beast::http::error::body_limit when the body exceeds max_response_bytes; the parser's
/// error for a response that is not HTTP/1.x. Only `endpoint.kind == tls` is used.
boost::asio::awaitable<core::Result<HttpsResponse>> https_request(
    boost::asio::any_io_executor executor, ClientEndpoint endpoint, HttpsRequest request);

}  // namespace edgehub::net
