#pragma once

// The server TLS context of every device-facing listener, hot-swappable: a renewed server
// certificate becomes a new context that only new handshakes use; connections keep the context
// they started with for their whole life (they hold a shared_ptr to it).
//
// Policy (design.md §5): TLS 1.2 and 1.3 only; TLS 1.2 restricted to ECDHE with AEAD ciphers;
// client certificates requested but optional (X.509 devices present one, SAS devices do not —
// which certificates identify whom is decided after the handshake by the identity module).
//
// Thread safety: update() and current() may be called from any thread.

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "edgehub/core/result.hpp"

namespace edgehub::net {

struct TlsMaterial {
  std::string chain_pem;  ///< server certificate first, then its issuers (Edge CA chain)
  std::string key_pem;    ///< private key of the server certificate (secret)
};

/// Builds a server context from PEM text. Errors name what was wrong (never the key itself).
core::Result<std::shared_ptr<boost::asio::ssl::context>> make_server_context(
    const TlsMaterial& material, std::string& error_message);

class TlsContextStore {
 public:
  /// Replaces the context used for new handshakes. On error the previous one stays.
  core::Result<void> update(const TlsMaterial& material, std::string& error_message);
  /// The context for a new handshake; nullptr before the first successful update().
  std::shared_ptr<boost::asio::ssl::context> current() const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> current_;
};

}  // namespace edgehub::net
