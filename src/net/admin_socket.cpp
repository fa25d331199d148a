#include "edgehub/net/admin_socket.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace edgehub::net {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

struct AdminSocketServer::State {
  State(asio::io_context& context, Handler h)
      : io(context), acceptor(context), handler(std::move(h)) {}
  asio::io_context& io;
  local::acceptor acceptor;
  Handler handler;
  std::filesystem::path path;
  ino_t inode = 0;  ///< of the socket file this server bound, so stop() never removes another's
  std::size_t active = 0;
  bool stopped = false;
};

namespace {

std::string error_answer(std::string_view message) {
  return nlohmann::json{{"error", message}}.dump();
}

asio::awaitable<void> serve(std::shared_ptr<AdminSocketServer::State> state, local::socket socket) {
  asio::steady_timer deadline(state->io);
  deadline.expires_after(AdminSocketServer::kRequestDeadline);
  deadline.async_wait([&socket](const boost::system::error_code& ec) {
    if (!ec) {
      boost::system::error_code ignored;
      socket.close(ignored);
    }
  });
  std::string request;
  boost::system::error_code ec;
  const auto n = co_await asio::async_read_until(
      socket, asio::dynamic_buffer(request, AdminSocketServer::kMaxRequestBytes), '\n',
      asio::redirect_error(asio::use_awaitable, ec));
  std::string answer;
  if (!ec) {
    request.resize(n - 1);
    if (!request.empty() && request.back() == '\r') request.pop_back();
    answer = state->handler(request);
  } else if (ec == asio::error::not_found) {
    answer = error_answer("request longer than 256 bytes");
  } else if (ec == asio::error::eof && !request.empty()) {
    answer = state->handler(request);  // a client that shut down its side without a newline
  }
  if (!answer.empty() && socket.is_open()) {
    answer += '\n';
    co_await asio::async_write(socket, asio::buffer(answer),
                               asio::redirect_error(asio::use_awaitable, ec));
  }
  deadline.cancel();
  boost::system::error_code ignored;
  socket.shutdown(local::socket::shutdown_both, ignored);
  socket.close(ignored);
  --state->active;
}

asio::awaitable<void> accept_loop(std::shared_ptr<AdminSocketServer::State> state) {
  while (!state->stopped) {
    boost::system::error_code ec;
    local::socket socket =
        co_await state->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || state->stopped) break;
      spdlog::warn("admin socket: accept failed: {}", ec.message());
      continue;
    }
    if (state->active >= AdminSocketServer::kMaxConnections) {
      socket.close(ec);  // over the bound: refuse cheaply rather than queue
      continue;
    }
    ++state->active;
    asio::co_spawn(state->io, serve(state, std::move(socket)), asio::detached);
  }
}

// A socket file that exists may be left over from a process that died (bind would fail with
// "address in use"), or be served by a running edgehubd. Only the first may be removed.
core::Result<void> clear_stale(const std::filesystem::path& path, std::string& why) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};
  if (!S_ISSOCK(st.st_mode)) {
    why = path.string() + " exists and is not a socket; remove it or choose another admin_socket";
    return boost::system::errc::make_error_code(boost::system::errc::file_exists);
  }
  asio::io_context probe_io;
  local::socket probe(probe_io);
  boost::system::error_code ec;
  probe.connect(local::endpoint(path.string()), ec);
  if (!ec) {
    why = "another process (a running edgehubd?) serves " + path.string() +
          "; stop it or choose another [gateway] admin_socket";
    return boost::system::errc::make_error_code(boost::system::errc::address_in_use);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    why = "cannot remove the stale socket " + path.string() + ": " + std::strerror(errno);
    return boost::system::error_code(errno, boost::system::system_category());
  }
  return {};
}

}  // namespace

AdminSocketServer::AdminSocketServer(asio::io_context& io, Handler handler)
    : state_(std::make_shared<State>(io, std::move(handler))) {}

AdminSocketServer::~AdminSocketServer() {
  stop();
}

core::Result<void> AdminSocketServer::start(const std::filesystem::path& path, std::string& why) {
  if (auto r = clear_stale(path, why); !r) return r;
  boost::system::error_code ec;
  auto& acceptor = state_->acceptor;
  const local::endpoint endpoint(path.string());
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (ec) {
    why = "cannot bind " + path.string() + ": " + ec.message();
    if (ec == boost::system::errc::no_such_file_or_directory) {
      why += " (create " + path.parent_path().string() +
             "; under systemd the unit's RuntimeDirectory= does)";
    }
    acceptor.close();
    return ec;
  }
  // The mode is what keeps unprivileged local users out: only root and the service group may
  // ask for a reload. chmod after bind, because bind applies the process umask.
  struct stat st {};
  if (::chmod(path.c_str(), kSocketMode) != 0 || ::stat(path.c_str(), &st) != 0) {
    ec = boost::system::error_code(errno, boost::system::system_category());
    why = "cannot set mode 0660 on " + path.string() + ": " + ec.message();
    acceptor.close();
    ::unlink(path.c_str());
    return ec;
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    why = "cannot listen on " + path.string() + ": " + ec.message();
    acceptor.close();
    ::unlink(path.c_str());
    return ec;
  }
  state_->path = path;
  state_->inode = st.st_ino;
  asio::co_spawn(state_->io, accept_loop(state_), asio::detached);
  return {};
}

void AdminSocketServer::stop() {
  if (!state_ || state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  struct stat st {};
  if (state_->inode != 0 && ::lstat(state_->path.c_str(), &st) == 0 && st.st_ino == state_->inode) {
    ::unlink(state_->path.c_str());
  }
}

}  // namespace edgehub::net
