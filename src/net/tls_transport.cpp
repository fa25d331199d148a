#include "net/tls_transport.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <concepts>
#include <optional>
#include <type_traits>

namespace edgehub::net {

namespace asio = boost::asio;
namespace websocket = boost::beast::websocket;
using boost::system::error_code;

namespace {

// How long a graceful close may wait for the peer's close_notify or close frame.
constexpr auto kShutdownDeadline = std::chrono::milliseconds(500);
// A TLS record carries at most 16 KiB of plaintext, and a TLS read returns one record at most.
constexpr std::size_t kReadBufferBytes = 16 * 1024;

// One per I/O thread: read_available() fills it and returns without suspending in between, so a
// connection's bytes are processed before any other connection on the thread reads into it.
std::byte* thread_read_buffer() {
  thread_local const auto buffer = std::make_unique_for_overwrite<std::byte[]>(kReadBufferBytes);
  return buffer.get();
}

std::string to_der(X509* cert) {
  const int len = i2d_X509(cert, nullptr);
  if (len <= 0) return {};
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(cert, &p);
  return der;
}

// One read attempt on the device TLS stream into this thread's buffer: the bytes or the error,
// or else the readiness to wait for before the next attempt.
struct ReadAttempt {
  std::optional<core::Result<std::span<const std::byte>>> result;
  asio::socket_base::wait_type wait = asio::socket_base::wait_read;
};

ReadAttempt attempt_read(ServerTlsStream& stream) {
  // Fetched per attempt: a coroutine may resume on another thread after a wait.
  std::byte* buffer = thread_read_buffer();
  error_code ec;
  std::size_t n = 0;
  const auto progress = stream.attempt(ServerTlsStream::Step::read,
                                       asio::buffer(buffer, kReadBufferBytes), {}, ec, n);
  if (progress == ServerTlsStream::Progress::done) {
    if (ec) return {core::Result<std::span<const std::byte>>(ec)};
    return {std::span<const std::byte>(buffer, n)};
  }
  return {std::nullopt, progress == ServerTlsStream::Progress::want_read
                            ? asio::socket_base::wait_read
                            : asio::socket_base::wait_write};
}

// The device TLS stream's read without a coroutine: an attempt, or a readiness wait first. The
// pending wait holds only this small handler (no coroutine frame): all an idle connection's read
// costs.
void wait_then_read(ServerTlsStream& stream, asio::socket_base::wait_type wait,
                    Transport::ReadHandler handler);

void read_now(ServerTlsStream& stream, Transport::ReadHandler handler) {
  auto attempt = attempt_read(stream);
  if (attempt.result) return handler(std::move(*attempt.result));
  wait_then_read(stream, attempt.wait, std::move(handler));
}

void wait_then_read(ServerTlsStream& stream, asio::socket_base::wait_type wait,
                    Transport::ReadHandler handler) {
  stream.next_layer().async_wait(
      wait, [&stream, handler = std::move(handler)](const error_code& ec) mutable {
        if (ec) return handler(ec);
        read_now(stream, std::move(handler));
      });
}

template <typename S>
concept RawTls = std::same_as<S, TlsStream> || std::same_as<S, ServerTlsStream>;

// TLS: a read is whatever arrived; a write is the whole buffer; the graceful close is
// close_notify.
template <RawTls Stream>
asio::awaitable<std::size_t> read_bytes(Stream& s, asio::mutable_buffer b, error_code& ec,
                                        ops::CounterFamily*) {
  co_return co_await s.async_read_some(b, asio::redirect_error(asio::use_awaitable, ec));
}
template <RawTls Stream>
asio::awaitable<void> write_all(Stream& s, asio::const_buffer b, error_code& ec) {
  co_await asio::async_write(s, b, asio::redirect_error(asio::use_awaitable, ec));
}
template <RawTls Stream>
asio::awaitable<void> graceful_close(Stream& s, error_code& ec) {
  co_await s.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
}

// WebSocket: reads take binary message data only — a text message is closed with 1003 (MQTT
// 3.1.1 §6 and AMQP over WebSocket both require binary); each write is one binary message; the
// graceful close is a close frame. Beast itself answers a frame that breaks RFC 6455 with its
// close code (1002, 1009) before the read fails.
template <RawTls Next>
asio::awaitable<void> write_all(websocket::stream<Next>& s, asio::const_buffer b, error_code& ec) {
  co_await s.async_write(b, asio::redirect_error(asio::use_awaitable, ec));
}
template <RawTls Next>
asio::awaitable<void> graceful_close(websocket::stream<Next>& s, error_code& ec,
                                     websocket::close_code code = websocket::close_code::normal) {
  co_await s.async_close(code, asio::redirect_error(asio::use_awaitable, ec));
}

// The graceful close is a courtesy; a peer that never answers must not hold the connection.
template <typename Stream, typename... Code>
asio::awaitable<void> close_within_deadline(Stream& stream, Code... code) {
  asio::steady_timer deadline(stream.get_executor());
  deadline.expires_after(kShutdownDeadline);
  auto finished = std::make_shared<bool>(false);
  deadline.async_wait([&stream, finished](const error_code& ec) {
    if (!ec && !*finished) {
      error_code ignored;
      boost::beast::get_lowest_layer(stream).close(ignored);
    }
  });
  error_code ec;
  co_await graceful_close(stream, ec, code...);
  *finished = true;
  deadline.cancel();
}

template <RawTls Next>
asio::awaitable<std::size_t> read_bytes(websocket::stream<Next>& s, asio::mutable_buffer b,
                                        error_code& ec, ops::CounterFamily* protocol_errors) {
  const auto n = co_await s.async_read_some(b, asio::redirect_error(asio::use_awaitable, ec));
  if (!ec && s.got_text()) {
    if (protocol_errors) {
      protocol_errors->with({"WebSocket text frame (MQTT and AMQP need binary frames)"}).inc();
    }
    co_await close_within_deadline(s, websocket::close_code::unknown_data);
    ec = websocket::error::bad_data_frame;
    co_return 0;
  }
  if (protocol_errors &&
      (ec == websocket::condition::protocol_violation || ec == websocket::error::message_too_big)) {
    protocol_errors->with({ec.message()}).inc();
  }
  co_return n;
}

template <RawTls Stream>
void prepare(Stream&) {}
template <RawTls Next>
void prepare(websocket::stream<Next>& s) {
  s.binary(true);
}

}  // namespace

void fill_tls_peer_info(SSL* ssl, PeerInfo& peer) {
  if (X509* leaf = SSL_get1_peer_certificate(ssl)) {
    peer.client_cert_chain_der.push_back(to_der(leaf));
    // On the server side the peer chain excludes the leaf.
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
      for (int i = 0; i < sk_X509_num(chain); ++i) {
        peer.client_cert_chain_der.push_back(to_der(sk_X509_value(chain, i)));
      }
    }
    X509_free(leaf);
  }
  if (const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) peer.sni = name;
}

template <typename Stream>
StreamTransport<Stream>::StreamTransport(std::unique_ptr<Stream> stream,
                                         std::shared_ptr<asio::ssl::context> ctx, PeerInfo peer,
                                         ConnectionSlot slot, ops::CounterFamily* protocol_errors)
    : ctx_(std::move(ctx)),
      stream_(std::move(stream)),
      peer_(std::move(peer)),
      slot_(std::move(slot)),
      protocol_errors_(protocol_errors) {
  prepare(*stream_);
}

template <typename Stream>
StreamTransport<Stream>::~StreamTransport() {
  close();
}

template <typename Stream>
asio::awaitable<core::Result<std::size_t>> StreamTransport<Stream>::read_some(
    asio::mutable_buffer b) {
  error_code ec;
  const auto n = co_await read_bytes(*stream_, b, ec, protocol_errors_);
  if (ec) co_return ec;
  co_return n;
}

template <typename Stream>
asio::awaitable<core::Result<std::span<const std::byte>>>
StreamTransport<Stream>::read_available() {
  if constexpr (std::is_same_v<Stream, ServerTlsStream>) {
    auto wait = asio::socket_base::wait_read;
    // A receive that would find nothing is skipped: the socket's last one emptied it, and OpenSSL
    // holds nothing more.
    bool ready = stream_->may_have_input();
    for (;;) {
      if (!ready) {
        error_code ec;
        co_await stream_->next_layer().async_wait(wait,
                                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return ec;
      }
      auto attempt = attempt_read(*stream_);
      if (attempt.result) co_return std::move(*attempt.result);
      wait = attempt.wait;
      ready = false;
    }
  } else {
    if (!read_buffer_) read_buffer_ = std::make_unique_for_overwrite<std::byte[]>(kReadBufferBytes);
    const auto n = co_await read_some(asio::buffer(read_buffer_.get(), kReadBufferBytes));
    if (!n) co_return n.error();
    co_return std::span<const std::byte>(read_buffer_.get(), *n);
  }
}

template <typename Stream>
void StreamTransport<Stream>::async_read_available(ReadHandler handler) {
  if constexpr (std::is_same_v<Stream, ServerTlsStream>) {
    if (stream_->may_have_input()) {
      // Not inline: the caller may still be working on the bytes of its previous read, which the
      // next read overwrites.
      asio::post(stream_->get_executor(),
                 [&stream = *stream_, handler = std::move(handler)]() mutable {
                   read_now(stream, std::move(handler));
                 });
    } else {
      wait_then_read(*stream_, asio::socket_base::wait_read, std::move(handler));
    }
  } else {
    asio::co_spawn(
        get_executor(),
        [this, handler = std::move(handler)]() -> asio::awaitable<void> {
          handler(co_await read_available());
        },
        asio::detached);
  }
}

template <typename Stream>
asio::awaitable<core::Result<void>> StreamTransport<Stream>::write(asio::const_buffer b) {
  error_code ec;
  co_await write_all(*stream_, b, ec);
  if (ec) co_return ec;
  co_return core::Result<void>{};
}

template <typename Stream>
core::Result<std::size_t> StreamTransport<Stream>::try_write(asio::const_buffer b) {
  // Only the device-side TLS stream can try a write without a coroutine; Asio's SSL stream and
  // Beast's WebSocket frame their writes inside composed operations.
  if constexpr (std::is_same_v<Stream, ServerTlsStream>) {
    std::size_t written = 0;
    while (written < b.size()) {
      error_code ec;
      std::size_t n = 0;
      const auto progress = stream_->attempt(ServerTlsStream::Step::write, {}, b + written, ec, n);
      if (progress != ServerTlsStream::Progress::done) break;  // the socket is full
      if (ec) return ec;
      if (n == 0) break;
      written += n;
    }
    return written;
  } else {
    (void)b;
    return std::size_t{0};
  }
}

template <typename Stream>
asio::awaitable<void> StreamTransport<Stream>::shutdown() {
  co_await close_within_deadline(*stream_);
  close();
}

template <typename Stream>
void StreamTransport<Stream>::close() noexcept {
  error_code ignored;
  if (stream_) boost::beast::get_lowest_layer(*stream_).close(ignored);
}

template class StreamTransport<TlsStream>;
template class StreamTransport<WebSocketStream>;
template class StreamTransport<ServerTlsStream>;
template class StreamTransport<ServerWebSocketStream>;

}  // namespace edgehub::net
