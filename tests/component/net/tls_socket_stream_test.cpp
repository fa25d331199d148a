// The device listeners' TLS stream (net/tls_socket_stream.hpp) through a real listener, real
// sockets and a real OpenSSL client: records that arrive together are all read without the
// client sending more (read_available waits only after the socket had nothing), a write far
// larger than the socket buffers completes as the client drains it (the wait-for-writable path),
// the client's close_notify ends a read with eof, and a socket closed under a pending read ends
// it with an error instead of touching the descriptor again. Each wait has a deadline only so
// that a failure ends the test; no duration is asserted.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "edgehub/net/listener.hpp"
#include "edgehub/pki/edge_ca.hpp"
#include "edgehub/pki/server_cert.hpp"
#include "support/pki/test_pki.hpp"
#include "support/tls/tls_client.hpp"

namespace edgehub::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class TlsSocketStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    auto ca = pki::load_edge_ca(pki_.files.edge_ca_full_chain, pki_.files.edge_ca_key,
                                pki_.files.root_cert, core::SystemClock::instance().now(), why);
    ASSERT_TRUE(ca) << why;
    pki::ServerCertPolicy policy;
    policy.hostname = "gw.test.local";
    auto server = pki::issue_server_cert(*ca, policy, core::SystemClock::instance().now(), why);
    ASSERT_TRUE(server) << why;
    ASSERT_TRUE(tls_.update({server->chain_pem, server->key_pem}, why)) << why;
    auto capture = [this](std::unique_ptr<Transport> t) {
      std::lock_guard lock(mutex_);
      transport_ = std::move(t);
      cv_.notify_all();
    };
    listener_ = std::make_unique<Listener>(io_, Listener::Kind::mqtt, tls_, limits_, budget_,
                                           stats_, ListenerHandlers{capture, capture, {}});
    ASSERT_TRUE(listener_->start({"127.0.0.1", 0}));
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    asio::post(io_, [this] {
      listener_->stop();
      if (transport_) transport_->close();
      transport_.reset();
      work_.reset();
    });
    thread_.join();
  }

  /// A connected client, and the server's transport for it.
  std::unique_ptr<testing::TlsClient> connect() {
    testing::TlsClientOptions o;
    o.port = listener_->port();
    o.sni = "gw.test.local";
    o.ca_file = pki_.files.root_cert;
    auto client = std::make_unique<testing::TlsClient>(o);
    EXPECT_TRUE(client->connect()) << client->error();
    std::unique_lock lock(mutex_);
    EXPECT_TRUE(cv_.wait_for(lock, 10s, [&] { return transport_ != nullptr; }));
    return client;
  }

  /// Runs `body` on the I/O thread against the transport and waits for its result.
  template <typename T>
  std::optional<T> on_io(std::function<asio::awaitable<T>(Transport&)> body) {
    std::promise<T> done;
    auto result = done.get_future();
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { done.set_value(co_await body(*transport_)); },
        asio::detached);
    if (result.wait_for(20s) != std::future_status::ready) return std::nullopt;
    return result.get();
  }

  test::TestPki pki_ = test::make_test_pki_for({});
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  TlsContextStore tls_;
  config::LimitsConfig limits_;
  ConnectionBudget budget_{100};
  ops::Registry metrics_;
  ListenerStats stats_{metrics_};
  std::unique_ptr<Listener> listener_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::unique_ptr<Transport> transport_;
};

// Reads until `want` bytes arrived; the text read, or the error that ended it.
asio::awaitable<std::string> read_exactly(Transport& t, std::size_t want) {
  std::string got;
  while (got.size() < want) {
    auto bytes = co_await t.read_available();
    if (!bytes) co_return "error: " + bytes.error().message();
    got.append(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  }
  co_return got;
}

TEST_F(TlsSocketStreamTest, RecordsThatArriveTogetherAreAllRead) {
  auto client = connect();
  // Three records written before the server reads: after the first, the rest are already in the
  // socket, and no further data will come to wake a reader that waits too early.
  ASSERT_TRUE(client->write("first|"));
  ASSERT_TRUE(client->write("second|"));
  ASSERT_TRUE(client->write("third"));
  std::this_thread::sleep_for(100ms);  // let all three reach the server's socket first
  const auto got = on_io<std::string>([](Transport& t) { return read_exactly(t, 18); });
  ASSERT_TRUE(got) << "the reader waited for data that had already arrived";
  EXPECT_EQ(*got, "first|second|third");
}

TEST_F(TlsSocketStreamTest, WriteLargerThanTheSocketBuffersCompletesAsThePeerReads) {
  auto client = connect();
  std::string payload(8 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>('a' + i % 26);
  std::promise<bool> written;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        auto r = co_await transport_->write(asio::buffer(payload));
        written.set_value(static_cast<bool>(r));
      },
      asio::detached);
  std::string received;
  while (received.size() < payload.size()) {
    const auto chunk = client->read_some();
    if (chunk.empty()) break;
    received += chunk;
  }
  auto done = written.get_future();
  ASSERT_EQ(done.wait_for(20s), std::future_status::ready);
  EXPECT_TRUE(done.get());
  ASSERT_EQ(received.size(), payload.size());
  EXPECT_TRUE(received == payload);
}

TEST_F(TlsSocketStreamTest, ServerWritesAndReadsInterleave) {
  auto client = connect();
  // A read waiting on the socket while the server writes: the session's read and write loops.
  std::promise<std::string> read_result;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        read_result.set_value(co_await read_exactly(*transport_, 4));
      },
      asio::detached);
  const auto echoed = on_io<bool>([](Transport& t) -> asio::awaitable<bool> {
    auto r = co_await t.write(asio::buffer(std::string_view("ping")));
    co_return static_cast<bool>(r);
  });
  ASSERT_TRUE(echoed);
  EXPECT_TRUE(*echoed);
  EXPECT_EQ(client->read_until("ping"), "ping");
  ASSERT_TRUE(client->write("pong"));
  auto got = read_result.get_future();
  ASSERT_EQ(got.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(got.get(), "pong");
}

TEST_F(TlsSocketStreamTest, ClosedSocketEndsAPendingReadWithAnError) {
  auto client = connect();
  std::promise<std::string> read_result;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        read_result.set_value(co_await read_exactly(*transport_, 1));
      },
      asio::detached);
  asio::post(io_, [this] { transport_->close(); });
  auto got = read_result.get_future();
  ASSERT_EQ(got.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(got.get().rfind("error: ", 0), 0u);
  // And nothing more is read from, or written to, the closed descriptor.
  const auto again = on_io<std::string>([](Transport& t) { return read_exactly(t, 1); });
  ASSERT_TRUE(again);
  EXPECT_EQ(again->rfind("error: ", 0), 0u);
  EXPECT_TRUE(client->wait_closed(10s));
}

// The read without a coroutine (the MQTT session's) of records sent in one TCP segment: the
// first receive takes them all into OpenSSL's read-ahead buffer and leaves the socket empty, so a
// reader that waited on the socket before taking every record from OpenSSL would wait forever.
class RecordsInOneSegment : public TlsSocketStreamTest {
 protected:
  /// Sends `records` together and reads them with async_read_available() until all arrived.
  void expect_all_read(const std::vector<std::string>& records) {
    auto client = connect();
    std::string expected;
    for (const auto& r : records)
      expected += r;
    ASSERT_TRUE(client->write_records_together(records));
    // Shared with the handler, which may outlive a failed test until TearDown closes the socket.
    struct Reading {
      std::promise<std::string> result;
      std::string got;
      std::size_t want = 0;
    };
    auto reading = std::make_shared<Reading>();
    reading->want = expected.size();
    asio::post(io_, [this, reading] { read_into(reading); });
    auto done = reading->result.get_future();
    ASSERT_EQ(done.wait_for(20s), std::future_status::ready)
        << "the reader waited on the socket while OpenSSL held data";
    EXPECT_TRUE(done.get() == expected);
  }

  template <typename Reading>
  void read_into(std::shared_ptr<Reading> reading) {
    transport_->async_read_available([this, reading](core::Result<std::span<const std::byte>> b) {
      if (!b) return reading->result.set_value("error: " + b.error().message());
      reading->got.append(reinterpret_cast<const char*>(b->data()), b->size());
      if (reading->got.size() >= reading->want) return reading->result.set_value(reading->got);
      read_into(reading);
    });
  }
};

TEST_F(RecordsInOneSegment, SmallRecordsAreAllRead) {
  expect_all_read({"first|", "second|", "third"});
}

// Slightly more plaintext than one read's 16 KiB buffer, yet one receive: the first read fills the
// buffer and the end of the last record stays decrypted in OpenSSL.
TEST_F(RecordsInOneSegment, WhatDoesNotFitOneReadIsReadNext) {
  expect_all_read({std::string(4097, 'a'), std::string(4097, 'b'), std::string(4097, 'c'),
                   std::string(4097, 'd')});
}

TEST_F(TlsSocketStreamTest, GracefulShutdownSendsCloseNotify) {
  auto client = connect();
  const auto closed = on_io<bool>([](Transport& t) -> asio::awaitable<bool> {
    co_await t.shutdown();
    co_return true;
  });
  ASSERT_TRUE(closed);
  EXPECT_TRUE(client->wait_closed(10s));
}

}  // namespace
}  // namespace edgehub::net
