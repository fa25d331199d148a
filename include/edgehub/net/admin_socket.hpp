#pragma once

// The local admin endpoint (docs/operations.md): a Unix stream socket, mode 0660 so that only
// root and the service's group may use it, that `edgehubctl status` and `edgehubctl config
// apply` talk to. One request per connection: the client writes one line naming a command
// ("status", "reload"), the server answers with one JSON document and a newline, then closes.
//
// Bounded by design: at most kMaxConnections at once (more are closed unanswered), a request of
// at most kMaxRequestBytes that must arrive within kRequestDeadline.
//
// Thread/executor affinity: all work, including the handler, runs on the io_context given to the
// constructor.

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "edgehub/core/result.hpp"

namespace edgehub::net {

class AdminSocketServer {
 public:
  /// Returns the JSON answer to one request line (without its newline). Must not block.
  using Handler = std::function<std::string(std::string_view request)>;

  static constexpr std::size_t kMaxConnections = 8;
  static constexpr std::size_t kMaxRequestBytes = 256;
  static constexpr std::chrono::seconds kRequestDeadline{5};
  static constexpr mode_t kSocketMode = 0660;

  AdminSocketServer(boost::asio::io_context& io, Handler handler);
  ~AdminSocketServer();  ///< stop()s
  AdminSocketServer(const AdminSocketServer&) = delete;
  AdminSocketServer& operator=(const AdminSocketServer&) = delete;

  /// Binds `path`, sets its mode to kSocketMode and starts accepting. A socket file left by a
  /// process that is gone is replaced; one that still answers is not (another edgehubd serves
  /// it). On failure returns the error and a sentence for the operator in `why`.
  core::Result<void> start(const std::filesystem::path& path, std::string& why);
  /// Stops accepting and removes the socket file (if it is still the one this server bound).
  void stop();

  struct State;  ///< shared with the connection coroutines, which may outlive a stop()

 private:
  std::shared_ptr<State> state_;
};

}  // namespace edgehub::net
