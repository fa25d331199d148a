#include "pki/ossl.hpp"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include <array>
#include <cstring>
#include <ctime>
#include <limits>

#include "edgehub/pki/errors.hpp"

namespace edgehub::pki::ossl {
namespace {

struct PemBlock {
  std::string name;
  std::string header;
  std::string der;
};

/// Splits `pem` into its blocks. Text outside blocks is ignored, as OpenSSL does; a block that
/// does not decode is an error.
core::Result<std::vector<PemBlock>> pem_blocks(std::string_view pem) {
  ErrorQueueGuard guard;
  if (pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return Errc::garbage_pem;
  }
  std::vector<PemBlock> blocks;
  std::unique_ptr<BIO, Free<BIO_free>> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Errc::crypto_failure;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      const unsigned long err = ERR_peek_last_error();
      const bool clean_end =
          ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
      if (!clean_end) return Errc::garbage_pem;
      break;
    }
    PemBlock block{name, header,
                   std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(len))};
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    blocks.push_back(std::move(block));
  }
  if (blocks.empty()) return Errc::garbage_pem;
  return blocks;
}

}  // namespace

std::string last_error() {
  const unsigned long err = ERR_peek_last_error();
  if (err == 0) return "unknown error";
  std::array<char, 256> buf{};
  ERR_error_string_n(err, buf.data(), buf.size());
  return buf.data();
}

core::Result<std::vector<std::unique_ptr<X509, Free<X509_free>>>> parse_certificates(
    std::string_view pem, std::string& found_block) {
  auto blocks = pem_blocks(pem);
  if (!blocks) return blocks.error();
  std::vector<std::unique_ptr<X509, Free<X509_free>>> certs;
  for (const auto& block : *blocks) {
    if (block.name != "CERTIFICATE") {
      found_block = block.name;
      return Errc::unexpected_pem_block;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(block.der.data());
    std::unique_ptr<X509, Free<X509_free>> cert(
        d2i_X509(nullptr, &p, static_cast<long>(block.der.size())));
    ERR_clear_error();
    if (!cert || p != reinterpret_cast<const unsigned char*>(block.der.data()) + block.der.size()) {
      return Errc::garbage_pem;
    }
    certs.push_back(std::move(cert));
  }
  return certs;
}

core::Result<std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>> parse_private_key(
    std::string_view pem) {
  auto blocks = pem_blocks(pem);
  if (!blocks) return blocks.error();
  const PemBlock* key_block = nullptr;
  for (const auto& block : *blocks) {
    if (block.name.ends_with("PRIVATE KEY")) {
      key_block = &block;
      break;
    }
  }
  if (key_block == nullptr) return Errc::unexpected_pem_block;
  if (key_block->name == "ENCRYPTED PRIVATE KEY" ||
      key_block->header.find("ENCRYPTED") != std::string::npos) {
    return Errc::encrypted_key;
  }
  // Re-encode only the key block: OpenSSL's decoder then sees nothing but the key, whatever else
  // (EC PARAMETERS, a certificate) the file holds.
  ErrorQueueGuard guard;
  std::unique_ptr<BIO, Free<BIO_free>> out(BIO_new(BIO_s_mem()));
  if (!out) return Errc::crypto_failure;
  if (PEM_write_bio(out.get(), key_block->name.c_str(), key_block->header.c_str(),
                    reinterpret_cast<const unsigned char*>(key_block->der.data()),
                    static_cast<long>(key_block->der.size())) <= 0) {
    return Errc::crypto_failure;
  }
  // A callback that supplies no password keeps OpenSSL from prompting on the terminal.
  auto no_password = [](char*, int, int, void*) -> int { return 0; };
  std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>> key(
      PEM_read_bio_PrivateKey(out.get(), nullptr, no_password, nullptr));
  if (!key) return Errc::garbage_pem;
  return key;
}

bool is_supported_key(EVP_PKEY* key, std::string& description) {
  ErrorQueueGuard guard;
  const int id = EVP_PKEY_get_base_id(key);
  const int bits = EVP_PKEY_get_bits(key);
  if (id == EVP_PKEY_RSA) {
    description = "RSA " + std::to_string(bits);
    return bits >= 2048;
  }
  if (id == EVP_PKEY_EC) {
    std::array<char, 64> group{};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &len) != 1) {
      description = "EC (unknown curve)";
      return false;
    }
    const std::string_view name(group.data(), len);
    if (name == "prime256v1" || name == "P-256") {
      description = "EC P-256";
      return true;
    }
    if (name == "secp384r1" || name == "P-384") {
      description = "EC P-384";
      return true;
    }
    description = "EC " + std::string(name);
    return false;
  }
  const char* type_name = OBJ_nid2sn(id);
  description = type_name != nullptr && id != NID_undef ? type_name : "unknown key type";
  return false;
}

std::string to_pem(X509* cert) {
  std::unique_ptr<BIO, Free<BIO_free>> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return {};
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string to_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, Free<BIO_free>> bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return {};
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

core::SystemTime to_system_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string serial_hex(X509* cert) {
  std::unique_ptr<BIGNUM, Free<BN_free>> bn(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return {};
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return {};
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

std::string digest_hex(X509* cert, const EVP_MD* md) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (X509_digest(cert, md, digest.data(), &len) != 1) return {};
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

std::string common_name(X509_NAME* name) {
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return {};
  ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, value);
  if (len < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string name_oneline(X509_NAME* name) {
  std::unique_ptr<BIO, Free<BIO_free>> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

bool is_ca(X509* cert) {
  return (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;
}

bool has_key_cert_sign(X509* cert) {
  // An absent keyUsage permits everything in RFC 5280, but IoT Edge (and we) require the CA to
  // say keyCertSign explicitly.
  if ((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) == 0) return false;
  return (X509_get_key_usage(cert) & KU_KEY_CERT_SIGN) != 0;
}

void subject_alt_names(X509* cert, std::vector<std::string>& dns, std::vector<std::string>& ips) {
  ErrorQueueGuard guard;
  std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES_free>> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type == GEN_DNS) {
      const ASN1_STRING* s = gn->d.dNSName;
      dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = gn->d.iPAddress;
      std::array<char, INET6_ADDRSTRLEN> text{};
      const int len = ASN1_STRING_length(s);
      const int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : -1;
      if (family != -1 &&
          inet_ntop(family, ASN1_STRING_get0_data(s), text.data(), text.size()) != nullptr) {
        ips.emplace_back(text.data());
      }
    }
  }
}

bool issued_by(X509* cert, X509* issuer) {
  ErrorQueueGuard guard;
  if (X509_check_issued(issuer, cert) != X509_V_OK) return false;
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
  return issuer_key != nullptr && X509_verify(cert, issuer_key) == 1;
}

int verify_to_roots(const std::vector<std::unique_ptr<X509, Free<X509_free>>>& chain,
                    const std::vector<std::unique_ptr<X509, Free<X509_free>>>& roots,
                    core::SystemTime now) {
  ErrorQueueGuard guard;
  if (chain.empty()) return -1;
  std::unique_ptr<X509_STORE, Free<X509_STORE_free>> store(X509_STORE_new());
  std::unique_ptr<STACK_OF(X509), FreeX509Stack> untrusted(sk_X509_new_null());
  std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX_free>> ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) return -1;
  for (const auto& cert : roots) {
    if (X509_STORE_add_cert(store.get(), cert.get()) != 1) ERR_clear_error();  // duplicates
  }
  for (std::size_t i = 1; i < chain.size(); ++i) {
    if (X509_up_ref(chain[i].get()) != 1) return -1;
    if (sk_X509_push(untrusted.get(), chain[i].get()) == 0) {
      X509_free(chain[i].get());
      return -1;
    }
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), chain.front().get(), untrusted.get()) != 1) {
    return -1;
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, std::chrono::system_clock::to_time_t(now));
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

}  // namespace edgehub::pki::ossl
