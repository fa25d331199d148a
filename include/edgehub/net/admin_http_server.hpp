#pragma once

// A small plain-HTTP server for the operator endpoints on [gateway] metrics: GET /metrics
// (Prometheus text 0.0.4) and GET /health (JSON). It binds to loopback by default; it is not a
// device-facing listener and carries no secrets.
//
// Bounded by design: at most kMaxConnections at once, 8 KiB of request header, a 10 s deadline
// per request; anything else is answered 404/405 and counted nowhere else.
//
// Thread/executor affinity: all work runs on the io_context given to the constructor.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/core/result.hpp"

namespace edgehub::net {

class AdminHttpServer {
 public:
  struct Handlers {
    std::function<std::string()> metrics;  ///< body of /metrics
    std::function<std::string()> health;   ///< body of /health (JSON)
  };
  static constexpr std::size_t kMaxConnections = 32;

  AdminHttpServer(boost::asio::io_context& io, Handlers handlers);
  ~AdminHttpServer();
  AdminHttpServer(const AdminHttpServer&) = delete;
  AdminHttpServer& operator=(const AdminHttpServer&) = delete;

  /// Binds and starts accepting. Fails with the bind error (address in use, permission).
  core::Result<void> start(const config::HostPort& where);
  /// Stops accepting; requests in progress finish or hit their deadline.
  void stop();
  /// The bound port (useful when started on port 0).
  unsigned short port() const;

  struct State;  ///< shared with the connection coroutines, which may outlive a stop()

 private:
  std::shared_ptr<State> state_;
};

}  // namespace edgehub::net
