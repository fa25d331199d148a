#include "event_loop.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace edgehub::bench {

namespace {

constexpr std::size_t kScratch = 64 * 1024;
constexpr std::size_t kMaxWriteChunk = 16 * 1024;

std::string tls_error() {
  char text[256];
  const auto code = ERR_get_error();
  if (code == 0) return "TLS error";
  ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

}  // namespace

EventLoop::EventLoop(Endpoint endpoint, Handlers handlers)
    : endpoint_(std::move(endpoint)), handlers_(std::move(handlers)), scratch_(kScratch) {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) throw std::runtime_error("epoll_create1 failed");
  if (endpoint_.tls) {
    tls_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(tls_, TLS1_2_VERSION);
    // Each connection does a full handshake, as a fleet of separate devices would.
    SSL_CTX_set_session_cache_mode(tls_, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(tls_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                               SSL_MODE_RELEASE_BUFFERS);
    if (!endpoint_.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(tls_, endpoint_.ca_file.c_str(), nullptr) != 1) {
        throw std::runtime_error("cannot load CA file " + endpoint_.ca_file);
      }
      SSL_CTX_set_verify(tls_, SSL_VERIFY_PEER, nullptr);
    }
  }
}

EventLoop::~EventLoop() {
  for (auto& c : connections_) {
    if (c->ssl) SSL_free(c->ssl);
    if (c->fd >= 0) ::close(c->fd);
  }
  if (tls_) SSL_CTX_free(tls_);
  if (epoll_ >= 0) ::close(epoll_);
}

Connection& EventLoop::add(std::uint32_t index, mqtt::Buffer connect_packet) {
  auto c = std::make_unique<Connection>();
  c->index = index;
  c->connect_packet = std::move(connect_packet);
  connections_.push_back(std::move(c));
  return *connections_.back();
}

void EventLoop::start(Connection& c) {
  c.started = Clock::now();
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) return close(c, std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(endpoint_.port);
  if (::inet_pton(AF_INET, endpoint_.host.c_str(), &addr.sin_addr) != 1) {
    return close(c, "not an IPv4 address: " + endpoint_.host);
  }
  c.state = Connection::State::tcp_connecting;
  if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
      errno != EINPROGRESS) {
    return close(c, std::string("connect: ") + std::strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.ptr = &c;
  c.events = EPOLLOUT;
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
}

void EventLoop::close(Connection& c, std::string why) {
  if (c.state == Connection::State::closed) return;
  const bool was_open = c.state != Connection::State::idle;
  c.state = Connection::State::closed;
  c.error = std::move(why);
  if (c.fd >= 0) {
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
  }
  if (c.ssl) {
    SSL_free(c.ssl);
    c.ssl = nullptr;
  }
  if (was_open && handlers_.on_closed) handlers_.on_closed(c);
}

void EventLoop::update_interest(Connection& c, bool want_write) {
  const std::uint32_t wanted = EPOLLIN | (want_write ? EPOLLOUT : 0u);
  if (wanted == c.events || c.fd < 0) return;
  epoll_event ev{};
  ev.events = wanted;
  ev.data.ptr = &c;
  ::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
  c.events = wanted;
}

void EventLoop::poll(std::chrono::milliseconds timeout) {
  std::array<epoll_event, 256> events;
  const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()),
                             static_cast<int>(timeout.count()));
  for (int i = 0; i < n; ++i) {
    on_event(*static_cast<Connection*>(events[i].data.ptr), events[i].events);
  }
}

void EventLoop::on_event(Connection& c, std::uint32_t events) {
  using S = Connection::State;
  if (c.state == S::tcp_connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return close(c, std::string("connect: ") + std::strerror(err));
    if (!(events & EPOLLOUT)) return;
    if (endpoint_.tls) {
      c.ssl = SSL_new(tls_);
      SSL_set_fd(c.ssl, c.fd);
      if (!endpoint_.sni.empty()) SSL_set_tlsext_host_name(c.ssl, endpoint_.sni.c_str());
      SSL_set_connect_state(c.ssl);
      c.state = S::handshaking;
    } else {
      c.state = S::mqtt_connecting;
      c.out.insert(c.out.end(), c.connect_packet.begin(), c.connect_packet.end());
    }
  }
  if (c.state == S::handshaking) {
    continue_handshake(c);
    if (c.state != S::mqtt_connecting) return;
    c.out.insert(c.out.end(), c.connect_packet.begin(), c.connect_packet.end());
  }
  if (c.state == S::mqtt_connecting || c.state == S::ready) {
    if (c.has_output()) flush(c);
    if (c.state != S::closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) read_available(c);
  }
}

void EventLoop::continue_handshake(Connection& c) {
  const int r = SSL_do_handshake(c.ssl);
  if (r == 1) {
    c.state = Connection::State::mqtt_connecting;
    return;
  }
  switch (SSL_get_error(c.ssl, r)) {
    case SSL_ERROR_WANT_READ:
      return update_interest(c, false);
    case SSL_ERROR_WANT_WRITE:
      return update_interest(c, true);
    default:
      return close(c, "TLS handshake: " + tls_error());
  }
}

void EventLoop::flush(Connection& c) {
  using S = Connection::State;
  if (c.state != S::mqtt_connecting && c.state != S::ready) return;
  while (c.has_output()) {
    const std::size_t chunk = std::min(c.out.size() - c.out_done, kMaxWriteChunk);
    const auto* data = c.out.data() + c.out_done;
    if (c.ssl) {
      const int n = SSL_write(c.ssl, data, static_cast<int>(chunk));
      if (n > 0) {
        c.out_done += static_cast<std::size_t>(n);
        continue;
      }
      const int e = SSL_get_error(c.ssl, n);
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) break;
      return close(c, "TLS write: " + tls_error());
    }
    const auto n = ::send(c.fd, data, chunk, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return close(c, std::string("write: ") + std::strerror(errno));
  }
  if (!c.has_output()) {
    c.out.clear();  // keeps its capacity
    c.out_done = 0;
  }
  update_interest(c, c.has_output());
}

void EventLoop::read_available(Connection& c) {
  for (;;) {
    if (c.ssl) {
      const int n = SSL_read(c.ssl, scratch_.data(), static_cast<int>(scratch_.size()));
      if (n <= 0) {
        const int e = SSL_get_error(c.ssl, n);
        if (e == SSL_ERROR_WANT_READ) break;
        if (e == SSL_ERROR_WANT_WRITE) {
          update_interest(c, true);
          break;
        }
        return close(
            c, e == SSL_ERROR_ZERO_RETURN ? "closed by the server" : "TLS read: " + tls_error());
      }
      c.in.insert(c.in.end(), scratch_.begin(), scratch_.begin() + n);
    } else {
      const auto n = ::recv(c.fd, scratch_.data(), scratch_.size(), 0);
      if (n == 0) return close(c, "closed by the server");
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return close(c, std::string("read: ") + std::strerror(errno));
      }
      c.in.insert(c.in.end(), scratch_.begin(), scratch_.begin() + n);
    }
    handle_packets(c);
    if (c.state == Connection::State::closed) return;
  }
}

void EventLoop::handle_packets(Connection& c) {
  std::size_t consumed = 0;
  while (c.state != Connection::State::closed) {
    const auto frame = mqtt::next_frame(std::span(c.in).subspan(consumed));
    if (!frame) break;
    if (frame->type == 0) return close(c, "malformed packet from the server");
    consumed += frame->size;
    if (c.state == Connection::State::mqtt_connecting) {
      if (frame->type != mqtt::kConnack || frame->body.size() < 2 || frame->body[1] != 0) {
        return close(c, "CONNECT refused (CONNACK " +
                            std::to_string(frame->body.size() >= 2 ? frame->body[1] : -1) + ")");
      }
      c.state = Connection::State::ready;
      c.was_ready = true;
      if (handlers_.on_ready) handlers_.on_ready(c);
      continue;
    }
    if (handlers_.on_packet) handlers_.on_packet(c, *frame);
  }
  if (c.state == Connection::State::closed) return;
  c.in.erase(c.in.begin(), c.in.begin() + static_cast<std::ptrdiff_t>(consumed));
  if (c.has_output()) flush(c);
}

}  // namespace edgehub::bench
