#pragma once

// A synchronous AMQP 1.0 client for integration tests, built on Qpid Proton's
// io::connection_driver driven by a blocking TlsClient in the calling thread (no container, no
// threads): every call runs the I/O itself until what it waits for has happened, the peer closed,
// or nothing arrived for the TLS read timeout. It speaks as the IoT Hub SDKs do (with or without
// SASL, CBS put-tokens, device links) and can also push bytes Proton would never send.
//
//   AmqpTestClient c(options);                     // options.tls: port, SNI, CA
//   ASSERT_TRUE(c.open()) << c.error();
//   c.attach_cbs();
//   auto reply = c.put_token(audience, token);     // status 200 with the request's id
//   auto link = c.attach_sender("/devices/dev1/messages/events");
//   ASSERT_TRUE(c.wait_attached(link)) << c.link_error(link);
//   auto d = c.send(link, proton::message("hi"));
//   ASSERT_TRUE(c.wait_outcome(d)); EXPECT_EQ(c.outcome(d), Outcome::accepted);
//
// Not thread-safe: one thread uses one client.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <proton/io/connection_driver.hpp>
#include <proton/message.hpp>
#include <string>
#include <vector>

#include "support/tls/tls_client.hpp"

namespace edgehub::testing {

enum class AmqpSasl {
  none,       ///< protocol header AMQP 0 1 0 0 straight away (the Node SDK)
  anonymous,  ///< SASL ANONYMOUS, then CBS (.NET clients)
  plain,      ///< SASL PLAIN with `user` and `password` (a SAS token)
};

struct AmqpClientOptions {
  TlsClientOptions tls;
  AmqpSasl sasl = AmqpSasl::none;
  std::string user;
  std::string password;
  std::string virtual_host = "gw.test.local";  ///< OPEN hostname: the host the client dialed
};

struct CbsReply {
  int status = 0;
  std::string description;
  std::string correlation_id;
};

enum class Outcome { pending, accepted, rejected, released, modified, settled };

class AmqpTestClient {
 public:
  explicit AmqpTestClient(AmqpClientOptions options);
  ~AmqpTestClient();
  AmqpTestClient(const AmqpTestClient&) = delete;
  AmqpTestClient& operator=(const AmqpTestClient&) = delete;

  /// TLS handshake, then the protocol header(s), SASL when configured, OPEN and BEGIN. True once
  /// the peer's OPEN arrived; false (see error()) when TLS, SASL or the OPEN failed.
  bool open();
  bool is_open() const;
  /// True once the connection is over: the peer closed it (CLOSE or EOF) or SASL failed.
  bool finished() const;
  /// The condition the peer ended the connection with ("amqp:unauthorized-access", ...): the
  /// CLOSE's error, else the transport's (SASL outcome, framing). Empty when none.
  std::string error_name() const;
  /// error_name() and its description, for failure messages.
  std::string error() const;
  /// The max-frame-size the peer's OPEN advertised.
  std::uint32_t peer_max_frame_size() const;

  /// Attaches the CBS sender (target $cbs) and receiver (source $cbs) as the SDKs do.
  void attach_cbs();
  /// Sends a put-token for `audience` (the URL-encoded `sr`, as the SDKs name it); returns the
  /// request's message id, which the reply's correlation id must carry.
  std::string send_put_token(const std::string& audience, const std::string& token,
                             const std::string& type = "servicebus.windows.net:sastoken");
  /// The CBS reply to `request_id`, running I/O until it arrives; nullopt if it never does.
  std::optional<CbsReply> cbs_reply(const std::string& request_id);
  std::optional<CbsReply> put_token(const std::string& audience, const std::string& token) {
    return cbs_reply(send_put_token(audience, token));
  }

  /// Starts attaching a link (no waiting); the id names it in the calls below.
  int attach_sender(const std::string& target_address,
                    const std::map<std::string, std::string>& properties = {});
  int attach_receiver(const std::string& source_address, int credit = 100);
  /// Runs I/O until the peer answered the attach. True when it attached with a non-null
  /// terminus; false when it refused (null terminus, detach) or the connection ended.
  bool wait_attached(int link);
  /// Runs I/O until the peer detached the link (or the connection ended).
  bool wait_link_closed(int link);
  /// Detaches (closes) a link of ours; wait_link_closed() then waits for the peer's detach.
  void detach(int link);
  bool link_attached(int link) const;
  bool link_closed(int link) const;
  /// The condition the peer detached the link with; empty when none.
  std::string link_error_name(int link) const;
  std::string link_error(int link) const;

  /// Sends unsettled as soon as the link has credit; returns a delivery id for outcome().
  int send(int link, const proton::message& message);
  Outcome outcome(int delivery) const;
  /// Runs I/O until the delivery has an outcome (or its link or the connection ended).
  bool wait_outcome(int delivery);
  /// Runs I/O until every delivery sent so far has an outcome (or the connection ended).
  bool wait_all_outcomes();
  /// Messages received on a receiver link so far (accepted as they arrived).
  const std::vector<proton::message>& received(int link) const;

  /// Runs I/O until `done()` is true (true), or the connection ended or nothing arrived within
  /// the TLS read timeout (then returns done()).
  bool pump_until(const std::function<bool()>& done);
  /// Writes bytes into the TLS stream after everything Proton has queued (malformed input).
  bool write_bytes(const std::string& bytes);
  /// Closes the connection (CLOSE, then the peer's CLOSE).
  void close();

 private:
  struct Handler;
  void flush();
  void feed(const std::string& bytes);

  AmqpClientOptions options_;
  TlsClient tls_;
  std::unique_ptr<Handler> handler_;
  proton::io::connection_driver driver_;
  bool eof_ = false;
};

/// The raw bytes of an AMQP frame: 8-byte header (size, data offset 2, type, channel) and body.
std::string amqp_frame(std::uint8_t type, std::uint16_t channel, const std::string& body);
inline constexpr std::uint8_t kAmqpFrameType = 0;
inline constexpr std::uint8_t kSaslFrameType = 1;
/// "AMQP" 0 1 0 0 and "AMQP" 3 1 0 0.
std::string amqp_protocol_header();
std::string sasl_protocol_header();

}  // namespace edgehub::testing
