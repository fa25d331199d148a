#pragma once

// The server side of a device connection's TLS: OpenSSL working on the socket itself (a BIO that
// calls send/recv on the descriptor), driven by waiting for readiness on the socket.
//
// Why not boost::asio::ssl::stream: it keeps two zero-filled 17 KiB buffers per stream and moves
// every byte through an OpenSSL BIO pair with two more 17 KiB buffers of its own, so an idle
// connection holds 34-68 KiB that nothing uses, and every handshake pays for filling them. Here
// OpenSSL's own record buffers are all there is, and SSL_MODE_RELEASE_BUFFERS frees them while
// the connection is idle (the way mosquitto keeps an idle TLS connection near 15 KiB).
//
// OpenSSL reads ahead: one recv takes whatever has arrived (a record's header and body, and the
// records after it), not a header and then a body. A read returns every record already in
// OpenSSL's buffer while the caller's buffer has room, and may_have_input() says whether one may
// still be there, so nothing waits in that buffer while its reader waits on the socket.
//
// Model: boost::asio::ssl::stream's interface (async_handshake, async_read_some,
// async_write_some, async_shutdown, next_layer), so Beast's HTTP parser and WebSocket stream run
// over it unchanged. At most one read and one write may be outstanding, as with any Asio stream;
// a read and a write may be outstanding together (the sessions' read and write loops). All
// operations run on the socket's executor. Completion is never inline: a result known at once
// is delivered through a post, as Asio requires.
//
// A closed socket (a deadline closes it under a pending operation) ends every operation with
// its error, and no OpenSSL call touches the descriptor after that: its number may already
// belong to another connection.

#include <openssl/ssl.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace edgehub::net {

/// What a TlsSocketStream's socket BIO works with.
struct TlsSocketState {
  int descriptor = -1;
  bool drained = false;  ///< the last receive took less than it asked for: the socket had no more
};

class TlsSocketStream {
 public:
  using next_layer_type = boost::asio::ip::tcp::socket;
  using lowest_layer_type = next_layer_type;
  using executor_type = next_layer_type::executor_type;

  /// Takes an accepted, connected socket; the handshake is the server's.
  TlsSocketStream(next_layer_type socket, boost::asio::ssl::context& context);
  TlsSocketStream(TlsSocketStream&& other) noexcept;
  TlsSocketStream& operator=(TlsSocketStream&&) = delete;
  TlsSocketStream(const TlsSocketStream&) = delete;
  TlsSocketStream& operator=(const TlsSocketStream&) = delete;
  ~TlsSocketStream();

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  next_layer_type& next_layer() noexcept { return socket_; }
  lowest_layer_type& lowest_layer() noexcept { return socket_; }
  SSL* native_handle() noexcept { return ssl_; }

  /// The server's handshake: void(error_code).
  template <typename Token>
  auto async_handshake(Token&& token) {
    return async_run<false>(Step::handshake, {}, {}, token);
  }
  /// Application data into the first non-empty buffer: void(error_code, std::size_t); eof when
  /// the peer sent close_notify, ssl::error::stream_truncated when it closed without one.
  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return async_run<true>(Step::read, first_non_empty<boost::asio::mutable_buffer>(buffers), {},
                           token);
  }
  /// Some of the first non-empty buffer: void(error_code, std::size_t).
  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return async_run<true>(Step::write, {}, first_non_empty<boost::asio::const_buffer>(buffers),
                           token);
  }
  /// Sends close_notify, then reads (and discards) until the peer's: void(error_code). Callers
  /// bound it in time by closing the socket.
  template <typename Token>
  auto async_shutdown(Token&& token) {
    return async_run<false>(Step::shutdown, {}, {}, token);
  }

  enum class Step { handshake, read, write, shutdown };
  /// One attempt of a step, no waiting: done (with `ec`, `bytes`), or which readiness to wait
  /// for before the next attempt.
  enum class Progress { done, want_read, want_write };
  Progress attempt(Step step, boost::asio::mutable_buffer in, boost::asio::const_buffer out,
                   boost::system::error_code& ec, std::size_t& bytes);
  /// Whether a read attempt could return something without waiting: OpenSSL holds bytes of a
  /// record, or the socket's last receive filled what it asked for (so more may have been left in
  /// the socket). When false, a reader waits for readiness first and saves a receive that would
  /// only say "nothing yet".
  bool may_have_input() const noexcept;

 private:
  template <typename Buffer, typename Buffers>
  static Buffer first_non_empty(const Buffers& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      Buffer b(*it);
      if (b.size() != 0) return b;
    }
    return Buffer{};
  }

  template <bool WithBytes>  // whether the completion carries the byte count
  struct Op {
    Op(TlsSocketStream& s, Step st, boost::asio::mutable_buffer i, boost::asio::const_buffer o)
        : stream(s), step(st), in(i), out(o) {}

    TlsSocketStream& stream;
    Step step;
    boost::asio::mutable_buffer in;
    boost::asio::const_buffer out;
    bool waited = false;    // an attempt has already waited: completing now is not inline
    bool finished = false;  // the result below waits for the post that delivers it
    boost::system::error_code result;
    std::size_t bytes = 0;

    template <typename Self>
    void operator()(Self& self, boost::system::error_code wait_error = {}) {
      if (finished) return complete(self);
      if (wait_error) {
        result = wait_error;
        return complete(self);
      }
      switch (stream.attempt(step, in, out, result, bytes)) {
        case Progress::want_read:
          waited = true;
          return stream.socket_.async_wait(next_layer_type::wait_read, std::move(self));
        case Progress::want_write:
          waited = true;
          return stream.socket_.async_wait(next_layer_type::wait_write, std::move(self));
        case Progress::done:
          break;
      }
      if (waited) return complete(self);
      finished = true;
      boost::asio::post(stream.socket_.get_executor(), std::move(self));
    }

    template <typename Self>
    void complete(Self& self) {
      if constexpr (WithBytes) {
        self.complete(result, bytes);
      } else {
        self.complete(result);
      }
    }
  };

  template <bool WithBytes, typename Token>
  auto async_run(Step step, boost::asio::mutable_buffer in, boost::asio::const_buffer out,
                 Token& token) {
    using Signature = std::conditional_t<WithBytes, void(boost::system::error_code, std::size_t),
                                         void(boost::system::error_code)>;
    return boost::asio::async_compose<Token, Signature>(Op<WithBytes>{*this, step, in, out}, token,
                                                        socket_);
  }

  next_layer_type socket_;
  SSL* ssl_ = nullptr;
  TlsSocketState socket_state_;  ///< the BIO's data points here; a move points it again
  bool close_notify_sent_ = false;
};

/// Beast's WebSocket ends its TLS layer with this (found by argument-dependent lookup).
template <typename Handler>
void async_teardown(boost::beast::role_type, TlsSocketStream& stream, Handler&& handler) {
  stream.async_shutdown(std::forward<Handler>(handler));
}

}  // namespace edgehub::net
