// A HAND-MADE STAND-IN for IoT Hub's MQTT endpoint: see mqtt_standin_server.hpp.

#include "component/upstream/mqtt_standin_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <variant>

#include "edgehub/mqtt_proto/codec.hpp"

namespace edgehub::upstream::testing {

namespace proto = edgehub::mqtt_proto;

namespace {

bool wait_readable(int fd, const std::atomic<bool>& stop) {
  while (!stop) {
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, 100);
    if (n > 0) return true;
    if (n < 0) return false;
  }
  return false;
}

bool write_packet(SSL* ssl, const proto::Packet& packet) {
  auto bytes = proto::encode(packet);
  if (!bytes) return false;
  return SSL_write(ssl, bytes->data(), static_cast<int>(bytes->size())) > 0;
}

}  // namespace

MqttStandin::MqttStandin(const std::filesystem::path& chain, const std::filesystem::path& key,
                         Behaviour behaviour)
    : behaviour_(behaviour) {
  // A write to a client that already closed must fail, not kill the test.
  ::signal(SIGPIPE, SIG_IGN);
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx, chain.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ctx != nullptr) SSL_CTX_free(ctx);
    throw std::runtime_error("stand-in TLS context");
  }
  ctx_ = ctx;
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listen_fd_, 4) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (listen_fd_ >= 0) ::close(listen_fd_);
    SSL_CTX_free(ctx);
    throw std::runtime_error("stand-in listening socket");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

MqttStandin::~MqttStandin() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
  SSL_CTX_free(static_cast<SSL_CTX*>(ctx_));
}

std::vector<std::string> MqttStandin::payloads() const {
  std::lock_guard lock(mutex_);
  return payloads_;
}

void MqttStandin::serve() {
  if (!wait_readable(listen_fd_, stop_)) return;
  const int fd = ::accept(listen_fd_, nullptr, nullptr);
  if (fd < 0) return;
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ctx_));
  SSL_set_fd(ssl, fd);
  proto::Decoder decoder;
  std::vector<std::byte> buffer(64 * 1024);
  bool open = SSL_accept(ssl) == 1;
  while (open && !stop_) {
    if (SSL_pending(ssl) == 0 && !wait_readable(fd, stop_)) break;
    const int n = SSL_read(ssl, buffer.data(), static_cast<int>(buffer.size()));
    if (n <= 0) {
      client_closed_ = true;
      break;
    }
    decoder.feed(std::span(buffer.data(), static_cast<std::size_t>(n)));
    bool counted = false;
    for (;;) {
      auto packet = decoder.next();
      if (!packet || !*packet) break;
      if (std::holds_alternative<proto::Connect>(**packet)) {
        open = write_packet(ssl, proto::Connack{});
        if (open && behaviour_ == Behaviour::send_malformed) {
          const unsigned char reserved_type[] = {0x00, 0x00};
          open = SSL_write(ssl, reserved_type, sizeof reserved_type) > 0;
        }
      } else if (auto* p = std::get_if<proto::Publish>(&**packet)) {
        if (!counted) ++publish_reads_;
        counted = true;
        {
          std::lock_guard lock(mutex_);
          payloads_.emplace_back(reinterpret_cast<const char*>(p->payload.data()),
                                 p->payload.size());
        }
        if (p->qos == proto::QoS::at_least_once) {
          open = write_packet(ssl, proto::Puback{p->packet_id});
        }
      } else if (std::holds_alternative<proto::Pingreq>(**packet)) {
        open = write_packet(ssl, proto::Pingresp{});
      } else if (std::holds_alternative<proto::Disconnect>(**packet)) {
        open = false;
      }
      if (!open) break;
    }
  }
  SSL_shutdown(ssl);
  SSL_free(ssl);
  ::close(fd);
}

}  // namespace edgehub::upstream::testing
