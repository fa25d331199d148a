#pragma once

// The TLS context of the gateway's outgoing connections, shared by every connection with the
// same trust and client credentials instead of built per connection. Building one means reading
// the trust bundle and the client certificate and key; the system CA store, once loaded eagerly,
// cost ~670 KiB of heap and the parse of every system CA per connection, which the MQTT upstream
// (one connection per device identity) would pay hundreds of times.
//
// The system store is looked up lazily (the hashed certificate directory, as Debian's
// ca-certificates maintains it): a handshake loads only the CAs its chain needs. A context is
// reused while its files are unchanged (same modification times), so a renewed client
// certificate or trust bundle takes effect on the next connection. The host name is checked per
// connection (verify_server_name), not by the context.
//
// Thread safety: client_context() may be called from any thread; a context is not changed after
// it is built.

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "edgehub/core/result.hpp"
#include "edgehub/net/client_connect.hpp"

namespace edgehub::net {

/// The shared context for `endpoint`'s trust bundle and client certificate. Errors: the
/// certificate, key or bundle file could not be loaded.
core::Result<std::shared_ptr<boost::asio::ssl::context>> client_context(
    const ClientEndpoint& endpoint);

/// Makes `ssl` verify that the server's certificate names `host` (a DNS name or an IP address).
/// Errors: invalid_argument when OpenSSL does not accept `host`.
core::Result<void> verify_server_name(SSL* ssl, const std::string& host);

}  // namespace edgehub::net
