#include "net/client_context.hpp"

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/ip/address.hpp>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <tuple>

namespace edgehub::net {

namespace ssl = boost::asio::ssl;
using boost::system::error_code;

namespace {

// What a context depends on: each file's path and modification time (an unreadable file gets
// the minimum time, and building the context reports why).
struct ContextKey {
  std::string trust_bundle;
  std::string client_cert;
  std::string client_key;
  std::filesystem::file_time_type trust_bundle_time;
  std::filesystem::file_time_type client_cert_time;
  std::filesystem::file_time_type client_key_time;

  auto tie() const {
    return std::tie(trust_bundle, client_cert, client_key, trust_bundle_time, client_cert_time,
                    client_key_time);
  }
  bool operator<(const ContextKey& other) const { return tie() < other.tie(); }
};

std::filesystem::file_time_type modified(const std::string& path) {
  if (path.empty()) return {};
  std::error_code ec;
  const auto t = std::filesystem::last_write_time(path, ec);
  return ec ? std::filesystem::file_time_type::min() : t;
}

ContextKey key_of(const ClientEndpoint& endpoint) {
  ContextKey k;
  if (endpoint.trust_bundle) k.trust_bundle = endpoint.trust_bundle->string();
  k.client_cert = endpoint.client_cert.string();
  k.client_key = endpoint.client_key.string();
  k.trust_bundle_time = modified(k.trust_bundle);
  k.client_cert_time = modified(k.client_cert);
  k.client_key_time = modified(k.client_key);
  return k;
}

// IoT Hub's public CA comes from the system store, looked up by subject hash when a chain needs
// it. SSL_CERT_DIR and SSL_CERT_FILE are honoured as OpenSSL's own default paths honour them; an
// explicitly named file is loaded whole.
error_code add_system_store(SSL_CTX* ctx) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  const char* dir = std::getenv(X509_get_default_cert_dir_env());
  X509_LOOKUP* by_dir = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
  if (by_dir == nullptr ||
      X509_LOOKUP_add_dir(by_dir, dir != nullptr ? dir : X509_get_default_cert_dir(),
                          X509_FILETYPE_PEM) != 1) {
    return boost::system::errc::make_error_code(boost::system::errc::not_enough_memory);
  }
  if (const char* file = std::getenv(X509_get_default_cert_file_env())) {
    X509_LOOKUP* by_file = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (by_file != nullptr) X509_LOOKUP_load_file(by_file, file, X509_FILETYPE_PEM);
  }
  return {};
}

core::Result<std::shared_ptr<ssl::context>> build(const ClientEndpoint& endpoint) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (auto ec = add_system_store(native)) return ec;
  error_code ec;
  if (endpoint.trust_bundle) {
    ctx->load_verify_file(endpoint.trust_bundle->string(), ec);
    if (ec) return ec;
  }
  if (!endpoint.client_cert.empty()) {
    ctx->use_certificate_chain_file(endpoint.client_cert.string(), ec);
    if (!ec) ctx->use_private_key_file(endpoint.client_key.string(), ssl::context::pem, ec);
    if (ec) return ec;
  }
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

// A gateway has one upstream configuration (plus a renewed one for a while), so a handful of
// entries; beyond that the cache starts over rather than grow.
constexpr std::size_t kMaxContexts = 8;

}  // namespace

core::Result<std::shared_ptr<ssl::context>> client_context(const ClientEndpoint& endpoint) {
  static std::mutex mutex;
  static std::map<ContextKey, std::shared_ptr<ssl::context>> contexts;
  auto key = key_of(endpoint);
  {
    std::lock_guard lock(mutex);
    if (auto it = contexts.find(key); it != contexts.end()) return it->second;
  }
  auto built = build(endpoint);
  if (!built) return built.error();
  std::lock_guard lock(mutex);
  if (contexts.size() >= kMaxContexts) contexts.clear();
  return contexts.try_emplace(std::move(key), std::move(*built)).first->second;
}

core::Result<void> verify_server_name(SSL* ssl, const std::string& host) {
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  error_code not_address;
  boost::asio::ip::make_address(host, not_address);
  const int ok = not_address ? X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size())
                             : X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  if (ok != 1) return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
  return {};
}

}  // namespace edgehub::net
