// tls_floor: what one full TLS handshake costs the server inside OpenSSL alone, with edgehubd's
// own server context (net::make_server_context) and no sockets, no event loop, no protocol: the
// client and the server talk through an in-memory BIO pair in one thread, and only the server's
// calls (SSL_new, SSL_do_handshake, SSL_free) are timed on the thread's CPU clock. That is the
// floor under "CPU µs per TLS connection setup" for any server using this OpenSSL (mosquitto
// included); docs/performance.md compares it with the storm scenario's figures.
//
//   tls_floor [--key ec|rsa] [--tls 1.2|1.3] [--handshakes N] [--rounds R]
//
// Prints key=value lines (bench/scenarios/lib.sh's kv reads them): the server's median µs per
// handshake over R rounds of N, the min and max, the client's, and the bare crypto a server
// handshake needs (ephemeral key generation and derivation for the client's key share, one
// signature with the server key) timed through the same EVP interface.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgehub/net/tls_context.hpp"

namespace {

struct Options {
  bool rsa = false;
  int tls_version = TLS1_3_VERSION;
  int handshakes = 1000;
  int rounds = 5;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "tls_floor: %s\n", what.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) die("missing value after " + std::string(arg));
      return argv[++i];
    };
    if (arg == "--key") {
      const auto v = value();
      if (v != "ec" && v != "rsa") die("--key is ec or rsa");
      o.rsa = v == "rsa";
    } else if (arg == "--tls") {
      const auto v = value();
      if (v != "1.2" && v != "1.3") die("--tls is 1.2 or 1.3");
      o.tls_version = v == "1.2" ? TLS1_2_VERSION : TLS1_3_VERSION;
    } else if (arg == "--handshakes") {
      o.handshakes = std::max(1, std::atoi(std::string(value()).c_str()));
    } else if (arg == "--rounds") {
      o.rounds = std::max(1, std::atoi(std::string(value()).c_str()));
    } else {
      die("usage: tls_floor [--key ec|rsa] [--tls 1.2|1.3] [--handshakes N] [--rounds R]");
    }
  }
  return o;
}

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Runs `f` and adds the CPU time it took to `total_us`.
template <typename F>
auto timed(double& total_us, F&& f) {
  const double start = thread_cpu_us();
  auto result = f();
  total_us += thread_cpu_us() - start;
  return result;
}

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

PkeyPtr make_key(bool rsa) {
  EVP_PKEY* key = rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048))
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (key == nullptr) die("key generation failed");
  return {key, EVP_PKEY_free};
}

// A self-signed server certificate: the chain length does not change the server's CPU much, and
// the bench must not depend on the PKI module.
X509Ptr self_signed(EVP_PKEY* key) {
  X509Ptr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("tls-floor"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) die("self-signing failed");
  return cert;
}

std::string to_pem(const std::function<int(BIO*)>& write) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (write(bio.get()) != 1) die("PEM encoding failed");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<std::size_t>(n)};
}

struct Costs {
  double server_us = 0;
  double client_us = 0;
};

// One full handshake through a BIO pair; false if it did not complete.
bool handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx, Costs& costs) {
  SSL* server = timed(costs.server_us, [&] { return SSL_new(server_ctx); });
  SSL* client = timed(costs.client_us, [&] { return SSL_new(client_ctx); });
  BIO* server_bio = nullptr;
  BIO* client_bio = nullptr;
  BIO_new_bio_pair(&server_bio, 0, &client_bio, 0);
  SSL_set_bio(server, server_bio, server_bio);
  SSL_set_bio(client, client_bio, client_bio);
  SSL_set_accept_state(server);
  SSL_set_connect_state(client);
  bool server_done = false;
  bool client_done = false;
  bool failed = false;
  for (int step = 0; step < 16 && !(server_done && client_done) && !failed; ++step) {
    if (!client_done) {
      const int rc = timed(costs.client_us, [&] { return SSL_do_handshake(client); });
      client_done = rc == 1;
      failed = rc <= 0 && SSL_get_error(client, rc) != SSL_ERROR_WANT_READ;
    }
    if (!server_done && !failed) {
      const int rc = timed(costs.server_us, [&] { return SSL_do_handshake(server); });
      server_done = rc == 1;
      failed = rc <= 0 && SSL_get_error(server, rc) != SSL_ERROR_WANT_READ;
    }
  }
  timed(costs.client_us, [&] {
    SSL_free(client);
    return 0;
  });
  timed(costs.server_us, [&] {
    SSL_free(server);
    return 0;
  });
  return server_done && client_done && !failed;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The bare crypto of a server handshake: an ephemeral key on the client's group (X25519, what
// OpenSSL's client offers first), the shared secret, and one signature with the server key.
double crypto_us(EVP_PKEY* server_key, int n) {
  PkeyPtr peer(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"), EVP_PKEY_free);
  const unsigned char transcript[32] = {};
  std::vector<unsigned char> signature(EVP_PKEY_get_size(server_key));
  unsigned char secret[64];
  double total = 0;
  for (int i = 0; i < n; ++i) {
    timed(total, [&] {
      PkeyPtr ephemeral(EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519"), EVP_PKEY_free);
      EVP_PKEY_CTX* derive = EVP_PKEY_CTX_new(ephemeral.get(), nullptr);
      std::size_t secret_len = sizeof secret;
      EVP_PKEY_derive_init(derive);
      EVP_PKEY_derive_set_peer(derive, peer.get());
      EVP_PKEY_derive(derive, secret, &secret_len);
      EVP_PKEY_CTX_free(derive);
      EVP_MD_CTX* sign = EVP_MD_CTX_new();
      std::size_t signature_len = signature.size();
      EVP_DigestSignInit(sign, nullptr, EVP_sha256(), nullptr, server_key);
      EVP_DigestSign(sign, signature.data(), &signature_len, transcript, sizeof transcript);
      EVP_MD_CTX_free(sign);
      return 0;
    });
  }
  return total / n;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  const PkeyPtr key = make_key(options.rsa);
  const X509Ptr cert = self_signed(key.get());
  edgehub::net::TlsMaterial material;
  material.chain_pem = to_pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
  material.key_pem = to_pem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  std::string error;
  auto server_ctx = edgehub::net::make_server_context(material, error);
  if (!server_ctx) die("server context: " + error);
  SSL_CTX* server = (*server_ctx)->native_handle();
  SSL_CTX_set_max_proto_version(server, options.tls_version);

  // The client as the bench's load generator sets it up: OpenSSL's defaults, no resumption.
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> client(SSL_CTX_new(TLS_client_method()),
                                                           SSL_CTX_free);
  SSL_CTX_set_min_proto_version(client.get(), TLS1_2_VERSION);
  SSL_CTX_set_session_cache_mode(client.get(), SSL_SESS_CACHE_OFF);

  std::vector<double> server_rounds;
  std::vector<double> client_rounds;
  for (int round = 0; round < options.rounds; ++round) {
    Costs costs;
    for (int i = 0; i < options.handshakes; ++i) {
      if (!handshake(server, client.get(), costs)) die("a handshake did not complete");
    }
    server_rounds.push_back(costs.server_us / options.handshakes);
    client_rounds.push_back(costs.client_us / options.handshakes);
  }
  std::printf("openssl=%s\n", OpenSSL_version(OPENSSL_VERSION));
  std::printf("key=%s tls=%s handshakes=%d rounds=%d\n", options.rsa ? "rsa2048" : "ec-p256",
              options.tls_version == TLS1_3_VERSION ? "1.3" : "1.2", options.handshakes,
              options.rounds);
  std::printf("server_us_per_handshake=%.1f\n", median(server_rounds));
  std::printf("server_us_min=%.1f\n",
              *std::min_element(server_rounds.begin(), server_rounds.end()));
  std::printf("server_us_max=%.1f\n",
              *std::max_element(server_rounds.begin(), server_rounds.end()));
  std::printf("client_us_per_handshake=%.1f\n", median(client_rounds));
  std::printf("crypto_us_per_handshake=%.1f\n", crypto_us(key.get(), options.handshakes));
  return 0;
}
