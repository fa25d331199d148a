#include "support/tls/tls_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

namespace edgehub::testing {

struct TlsClient::Ssl {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  ~Ssl() {
    if (ssl) SSL_free(ssl);
    if (ctx) SSL_CTX_free(ctx);
  }
};

namespace {
std::string last_openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "no OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}
}  // namespace

TlsClient::TlsClient(TlsClientOptions options) : options_(std::move(options)) {
  // SSL_write on a connection the server closed must fail, not kill the test with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
}

TlsClient::~TlsClient() {
  ssl_.reset();
  if (fd_ >= 0) ::close(fd_);
}

bool TlsClient::connect_tcp() {
  const bool v6 = options_.host.find(':') != std::string::npos;
  fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return error_ = "socket failed", false;
  timeval tv{static_cast<time_t>(options_.timeout.count() / 1000),
             static_cast<suseconds_t>((options_.timeout.count() % 1000) * 1000)};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int rc = -1;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(options_.port);
    ::inet_pton(AF_INET6, options_.host.c_str(), &a.sin6_addr);
    rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(options_.port);
    ::inet_pton(AF_INET, options_.host.c_str(), &a.sin_addr);
    rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0) return error_ = std::string("connect: ") + std::strerror(errno), false;
  return true;
}

bool TlsClient::connect() {
  if (fd_ < 0 && !connect_tcp()) return false;
  ssl_ = std::make_unique<Ssl>();
  ssl_->ctx = SSL_CTX_new(TLS_client_method());
  if (options_.min_version) SSL_CTX_set_min_proto_version(ssl_->ctx, options_.min_version);
  if (options_.max_version) SSL_CTX_set_max_proto_version(ssl_->ctx, options_.max_version);
  if (options_.min_version && options_.min_version < TLS1_2_VERSION) {
    SSL_CTX_set_security_level(ssl_->ctx, 0);  // let the client offer TLS 1.0/1.1 at all
  }
  if (!options_.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ssl_->ctx, options_.ca_file.c_str(), nullptr) != 1) {
      return error_ = "cannot load CA file: " + last_openssl_error(), false;
    }
    SSL_CTX_set_verify(ssl_->ctx, SSL_VERIFY_PEER, nullptr);
  }
  if (!options_.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ssl_->ctx, options_.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ssl_->ctx, options_.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return error_ = "cannot load client certificate: " + last_openssl_error(), false;
    }
  }
  ssl_->ssl = SSL_new(ssl_->ctx);
  SSL_set_fd(ssl_->ssl, fd_);
  if (!options_.sni.empty()) {
    SSL_set_tlsext_host_name(ssl_->ssl, options_.sni.c_str());
    if (!options_.ca_file.empty()) SSL_set1_host(ssl_->ssl, options_.sni.c_str());
  }
  if (SSL_connect(ssl_->ssl) != 1) {
    const long verify = SSL_get_verify_result(ssl_->ssl);
    error_ = "handshake failed: " + last_openssl_error();
    if (verify != X509_V_OK)
      error_ += std::string(" (verify: ") + X509_verify_cert_error_string(verify) + ")";
    return false;
  }
  return true;
}

std::string TlsClient::peer_serial() const {
  if (!ssl_ || !ssl_->ssl) return {};
  X509* cert = SSL_get1_peer_certificate(ssl_->ssl);
  if (!cert) return {};
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out = hex ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  X509_free(cert);
  return out;
}

std::string TlsClient::protocol_version() const {
  return ssl_ && ssl_->ssl ? SSL_get_version(ssl_->ssl) : "";
}

bool TlsClient::write(const std::string& data) {
  return ssl_ && SSL_write(ssl_->ssl, data.data(), static_cast<int>(data.size())) ==
                     static_cast<int>(data.size());
}

bool TlsClient::write_records_together(const std::vector<std::string>& records) {
  int on = 1;
  if (!ssl_ || ::setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &on, sizeof on) != 0) return false;
  bool ok = true;
  for (const auto& r : records)
    ok = ok && write(r);
  int off = 0;
  return ::setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &off, sizeof off) == 0 && ok;
}

bool TlsClient::write_raw(const std::string& data) {
  return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

std::string TlsClient::read_some() {
  char buf[16384];
  const int n = SSL_read(ssl_->ssl, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

std::string TlsClient::read_until(const std::string& needle) {
  std::string out;
  char buf[4096];
  while (out.find(needle) == std::string::npos) {
    const int n = SSL_read(ssl_->ssl, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

bool TlsClient::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[512];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;  // EOF or reset; alerts and other bytes before it are skipped
  }
}

}  // namespace edgehub::testing
