#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace edgehub::testing {

struct TlsClientOptions {
  std::string host = "127.0.0.1";  ///< address to dial (IPv4 or IPv6 literal)
  std::uint16_t port = 0;
  std::string sni;                  ///< server name to send and verify; empty: none
  std::filesystem::path ca_file;    ///< trust anchors; empty: do not verify
  std::filesystem::path cert_file;  ///< client certificate chain (PEM); empty: none
  std::filesystem::path key_file;
  int min_version = 0;  ///< e.g. TLS1_1_VERSION; 0: library default
  int max_version = 0;
  std::chrono::milliseconds timeout{10000};
};

/// One TLS connection. Not thread-safe.
class TlsClient {
 public:
  explicit TlsClient(TlsClientOptions options);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  /// TCP connect only (for tests that stall or send garbage before any TLS).
  bool connect_tcp();
  /// TCP connect + TLS handshake + (when ca_file is set) chain and host-name verification.
  bool connect();
  const std::string& error() const noexcept { return error_; }

  /// Serial number (upper-case hex) of the server certificate.
  std::string peer_serial() const;
  std::string protocol_version() const;

  bool write(const std::string& data);
  /// One TLS record per string, all sent in one TCP segment (TCP_CORK): the server's first receive
  /// gets them all, so a record it leaves in its TLS library's buffer gets no second wake-up.
  bool write_records_together(const std::vector<std::string>& records);
  /// Raw bytes on the TCP socket, bypassing TLS (garbage tests).
  bool write_raw(const std::string& data);
  /// Whatever arrives next (at least one byte), or empty on EOF/timeout.
  std::string read_some();
  /// Reads until `needle` appears (or EOF/timeout); returns what was read.
  std::string read_until(const std::string& needle);
  /// True when the server closed the connection (EOF or reset) within the timeout.
  bool wait_closed(std::chrono::milliseconds timeout);

 private:
  TlsClientOptions options_;
  int fd_ = -1;
  struct Ssl;
  std::unique_ptr<Ssl> ssl_;
  std::string error_;
};

}  // namespace edgehub::testing
