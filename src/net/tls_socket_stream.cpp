#include "net/tls_socket_stream.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <cerrno>
#include <cstdint>

namespace edgehub::net {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// OpenSSL's socket BIO writes with write(2): a peer that reset the connection would raise
// SIGPIPE and kill the daemon. This one uses send(MSG_NOSIGNAL), as Asio does, and remembers
// whether a receive emptied the socket.
TlsSocketState& socket_state(BIO* bio) {
  return *static_cast<TlsSocketState*>(BIO_get_data(bio));
}

bool would_block(int e) {
  return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

int socket_write(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
  BIO_clear_retry_flags(bio);
  const auto n = ::send(socket_state(bio).descriptor, data, size, MSG_NOSIGNAL);
  if (n >= 0) {
    *written = static_cast<std::size_t>(n);
    return 1;
  }
  if (would_block(errno)) BIO_set_retry_write(bio);
  return 0;
}

int socket_read(BIO* bio, char* data, std::size_t size, std::size_t* read) {
  BIO_clear_retry_flags(bio);
  auto& state = socket_state(bio);
  const auto n = ::recv(state.descriptor, data, size, 0);
  // TCP copies everything queued, up to `size`: a shorter read found the socket empty.
  state.drained = n < 0 || static_cast<std::size_t>(n) < size;
  if (n > 0) {
    *read = static_cast<std::size_t>(n);
    return 1;
  }
  if (n == 0) {
    BIO_set_flags(bio, BIO_FLAGS_IN_EOF);  // OpenSSL asks BIO_eof() to tell EOF from an error
  } else if (would_block(errno)) {
    BIO_set_retry_read(bio);
  }
  return 0;
}

long socket_ctrl(BIO* bio, int command, long /*number*/, void* /*pointer*/) {
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;  // nothing is buffered here
    case BIO_CTRL_EOF:
      return BIO_test_flags(bio, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
    default:
      return 0;
  }
}

const BIO_METHOD* socket_method() {
  static const BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "edgehubd socket");
    if (m == nullptr) return static_cast<BIO_METHOD*>(nullptr);
    BIO_meth_set_write_ex(m, socket_write);
    BIO_meth_set_read_ex(m, socket_read);
    BIO_meth_set_ctrl(m, socket_ctrl);
    return m;
  }();
  return method;
}

// What a failed OpenSSL call means, the way boost::asio::ssl::stream reports it, so that callers
// (and Beast) see the same error codes as before.
error_code failure(SSL* ssl, int result) {
  const int saved_errno = errno;
  const int kind = SSL_get_error(ssl, result);
  const unsigned long queued = ERR_get_error();
  ERR_clear_error();
  if (kind == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  if (kind == SSL_ERROR_SYSCALL && queued == 0) {
    return saved_errno != 0 ? error_code(saved_errno, asio::error::get_system_category())
                            : error_code(asio::ssl::error::stream_truncated);
  }
  if (ERR_GET_LIB(queued) == ERR_LIB_SSL &&
      ERR_GET_REASON(queued) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    return asio::ssl::error::stream_truncated;
  }
  return {static_cast<int>(queued), asio::error::get_ssl_category()};
}

}  // namespace

TlsSocketStream::TlsSocketStream(next_layer_type socket, asio::ssl::context& context)
    : socket_(std::move(socket)), ssl_(SSL_new(context.native_handle())) {
  error_code ec;
  socket_.non_blocking(true, ec);
  BIO* bio = socket_method() != nullptr ? BIO_new(socket_method()) : nullptr;
  if (ec || ssl_ == nullptr || bio == nullptr) {
    // Out of memory or a socket already gone: every operation will fail with bad_descriptor.
    BIO_free(bio);
    SSL_free(ssl_);
    ssl_ = nullptr;
    return;
  }
  socket_state_.descriptor = socket_.native_handle();
  BIO_set_data(bio, &socket_state_);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // One receive per burst instead of two per record (header, body); SSL_MODE_RELEASE_BUFFERS (set
  // on the context) still frees the read buffer once everything in it has been read.
  SSL_set_read_ahead(ssl_, 1);
  SSL_set_accept_state(ssl_);
}

TlsSocketStream::TlsSocketStream(TlsSocketStream&& other) noexcept
    : socket_(std::move(other.socket_)),
      ssl_(std::exchange(other.ssl_, nullptr)),
      socket_state_(other.socket_state_),
      close_notify_sent_(other.close_notify_sent_) {
  if (ssl_ != nullptr) BIO_set_data(SSL_get_rbio(ssl_), &socket_state_);
}

bool TlsSocketStream::may_have_input() const noexcept {
  return ssl_ != nullptr && (!socket_state_.drained || SSL_has_pending(ssl_) == 1);
}

TlsSocketStream::~TlsSocketStream() {
  SSL_free(ssl_);
}

TlsSocketStream::Progress TlsSocketStream::attempt(Step step, asio::mutable_buffer in,
                                                   asio::const_buffer out, error_code& ec,
                                                   std::size_t& bytes) {
  ec = {};
  bytes = 0;
  // The descriptor number of a closed socket may already be another connection's.
  if (ssl_ == nullptr || !socket_.is_open()) {
    ec = asio::error::bad_descriptor;
    return Progress::done;
  }
  const auto wait_or_fail = [&](int result) {
    const int kind = SSL_get_error(ssl_, result);
    if (kind == SSL_ERROR_WANT_READ || kind == SSL_ERROR_WANT_WRITE) {
      ERR_clear_error();
      return kind == SSL_ERROR_WANT_READ ? Progress::want_read : Progress::want_write;
    }
    ec = failure(ssl_, result);
    return Progress::done;
  };
  ERR_clear_error();
  switch (step) {
    case Step::handshake: {
      const int r = SSL_do_handshake(ssl_);
      return r == 1 ? Progress::done : wait_or_fail(r);
    }
    case Step::read: {
      if (in.size() == 0) return Progress::done;
      const int r = SSL_read_ex(ssl_, in.data(), in.size(), &bytes);
      if (r != 1) return wait_or_fail(r);
      // The receive may have brought more records: they are returned with this one while there is
      // room, so one turn of the caller answers them all. Whatever stops the loop (a partial
      // record, a close_notify, an error) is met again by the next attempt.
      auto* const into = static_cast<unsigned char*>(in.data());
      while (bytes < in.size() && SSL_has_pending(ssl_) == 1) {
        std::size_t more = 0;
        if (SSL_read_ex(ssl_, into + bytes, in.size() - bytes, &more) != 1) {
          ERR_clear_error();
          break;
        }
        bytes += more;
      }
      return Progress::done;
    }
    case Step::write: {
      if (out.size() == 0) return Progress::done;
      const int r = SSL_write_ex(ssl_, out.data(), out.size(), &bytes);
      return r == 1 ? Progress::done : wait_or_fail(r);
    }
    case Step::shutdown: {
      if (!close_notify_sent_) {
        const int r = SSL_shutdown(ssl_);
        if (r == 1) return Progress::done;  // both close_notify exchanged, or a quiet shutdown
        if (r < 0) return wait_or_fail(r);
        close_notify_sent_ = true;
      }
      // Whatever the peer still sends before its close_notify is dropped: the session is over.
      char discard[512];
      for (;;) {
        std::size_t n = 0;
        const int r = SSL_read_ex(ssl_, discard, sizeof discard, &n);
        if (r != 1) {
          const auto progress = wait_or_fail(r);
          if (ec == asio::error::eof) ec = {};  // the peer's close_notify: a clean end
          return progress;
        }
      }
    }
  }
  return Progress::done;
}

}  // namespace edgehub::net
