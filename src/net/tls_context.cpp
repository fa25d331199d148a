#include "edgehub/net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/system/error_code.hpp>

namespace edgehub::net {

namespace ssl = boost::asio::ssl;

namespace {

// TLS 1.3 suites are all AEAD: OpenSSL's three, AES-128 first (the server's preference decides):
// a SHA-256 key schedule and AES-128 cost less per handshake and per record than OpenSSL's
// default first choice, AES-256 with SHA-384; TLS_AES_128_GCM_SHA256 is the suite every TLS 1.3
// implementation must support (RFC 8446 §9.1).
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
// TLS 1.2 suites: forward secrecy and AEAD only.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Accept any client certificate at the TLS layer: self-signed thumbprint certificates are
// legitimate device credentials, and the chain check for CA-issued ones needs the claimed
// identity, which only the protocol's CONNECT/attach reveals. The identity module decides.
int accept_any_client_certificate(int /*preverify_ok*/, X509_STORE_CTX* /*ctx*/) {
  return 1;
}

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

core::Result<std::shared_ptr<ssl::context>> make_server_context(const TlsMaterial& material,
                                                                std::string& error_message) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle connections keep no read/write buffers: the largest per-connection TLS cost at scale.
  // The chain is the one given below, never built from a certificate store during a handshake.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
  // No session resumption: the IoT SDKs open every connection with a full handshake, so session
  // tickets (two per TLS 1.3 handshake by default, each an encryption and a record) and a server
  // session cache (memory per past handshake) would cost every connection for nothing.
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(native, 0);
  SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, accept_any_client_certificate);
  const auto fail = [&](std::string what) -> core::Result<std::shared_ptr<ssl::context>> {
    error_message = std::move(what);
    return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
  };
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return fail("cipher list rejected: " + openssl_error());
  }
  if (SSL_CTX_set_ciphersuites(native, kTls13Suites) != 1) {
    return fail("TLS 1.3 cipher suites rejected: " + openssl_error());
  }
  boost::system::error_code ec;
  ctx->use_certificate_chain(boost::asio::buffer(material.chain_pem), ec);
  if (ec) return fail("server certificate chain is not valid PEM: " + ec.message());
  ctx->use_private_key(boost::asio::buffer(material.key_pem), ssl::context::pem, ec);
  if (ec) return fail("server private key is not valid PEM: " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return fail("server private key does not match the server certificate");
  }
  // Session ids are scoped per context so a renewed context never resumes an old session.
  static const unsigned char kSessionContext[] = "edgehubd";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  return ctx;
}

core::Result<void> TlsContextStore::update(const TlsMaterial& material,
                                           std::string& error_message) {
  auto ctx = make_server_context(material, error_message);
  if (!ctx) return ctx.error();
  std::lock_guard lock(mutex_);
  current_ = std::move(*ctx);
  return {};
}

std::shared_ptr<ssl::context> TlsContextStore::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

}  // namespace edgehub::net
