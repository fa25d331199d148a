// net::connect_client against a real TLS listener: the server's certificate is checked against
// the trust bundle and against the dialed name (DNS name or IP address) on every connection,
// although connections with the same trust share one TLS context (client_context.hpp); a trust
// bundle rewritten on disk is used from the next connection on.

#include <gtest/gtest.h>

// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without it
// clang-format on
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>

#include "edgehub/core/clock.hpp"
#include "edgehub/net/client_connect.hpp"
#include "edgehub/net/listener.hpp"
#include "edgehub/pki/edge_ca.hpp"
#include "edgehub/pki/server_cert.hpp"
#include "support/pki/test_pki.hpp"

namespace edgehub::net {
namespace {

using namespace std::chrono_literals;

class ClientConnect : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    auto ca = pki::load_edge_ca(pki_.files.edge_ca_full_chain, pki_.files.edge_ca_key,
                                pki_.files.root_cert, core::SystemClock::instance().now(), why);
    ASSERT_TRUE(ca) << why;
    pki::ServerCertPolicy policy;
    policy.hostname = "gw.test.local";  // not resolvable: the IP SAN below is what matches
    policy.extra_sans = {"127.0.0.1"};
    auto server = pki::issue_server_cert(*ca, policy, core::SystemClock::instance().now(), why);
    ASSERT_TRUE(server) << why;
    ASSERT_TRUE(tls_.update({server->chain_pem, server->key_pem}, why)) << why;
    auto keep = [this](std::unique_ptr<Transport> t) { accepted_.push_back(std::move(t)); };
    listener_ = std::make_unique<Listener>(io_, Listener::Kind::mqtt, tls_, limits_, budget_,
                                           stats_, ListenerHandlers{keep, keep, {}});
    ASSERT_TRUE(listener_->start({"127.0.0.1", 0}));
    trust_bundle_ = pki_.dir.path() / "trust-bundle.pem";
    test::write_file(trust_bundle_, test::read_file(pki_.files.root_cert));
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    boost::asio::post(io_, [this] {
      listener_->stop();
      for (auto& t : accepted_)
        t->close();
      accepted_.clear();
      work_.reset();
    });
    thread_.join();
  }

  // connect_client's outcome, with the transport closed again on the I/O thread.
  core::Result<void> connect(const std::string& host) {
    ClientEndpoint endpoint;
    endpoint.host = host;
    endpoint.port = listener_->port();
    endpoint.trust_bundle = trust_bundle_;
    endpoint.timeout = 10s;
    std::promise<core::Result<void>> done;
    boost::asio::co_spawn(
        io_,
        [&]() -> boost::asio::awaitable<void> {
          auto t = co_await connect_client(io_.get_executor(), endpoint);
          if (!t) {
            done.set_value(t.error());
            co_return;
          }
          (*t)->close();
          done.set_value({});
        },
        boost::asio::detached);
    auto f = done.get_future();
    if (f.wait_for(20s) != std::future_status::ready) {
      return boost::system::errc::make_error_code(boost::system::errc::timed_out);
    }
    return f.get();
  }

  test::TestPki pki_ = test::make_test_pki_for({});
  test::TestPki other_pki_ = test::make_test_pki_for({});
  std::filesystem::path trust_bundle_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  TlsContextStore tls_;
  config::LimitsConfig limits_;
  ConnectionBudget budget_{100};
  ops::Registry metrics_;
  ListenerStats stats_{metrics_};
  std::unique_ptr<Listener> listener_;
  std::vector<std::unique_ptr<Transport>> accepted_;
  std::thread thread_;
};

TEST_F(ClientConnect, VerifiesTheDialedNameOnEveryConnectionWithASharedContext) {
  auto by_address = connect("127.0.0.1");
  EXPECT_TRUE(by_address) << by_address.error().message();
  // Same trust, so the same context: "localhost" reaches the same server, whose certificate
  // does not name it.
  auto by_other_name = connect("localhost");
  ASSERT_FALSE(by_other_name);
  EXPECT_NE(by_other_name.error().message().find("certificate verify failed"), std::string::npos)
      << by_other_name.error().message();
  EXPECT_TRUE(connect("127.0.0.1"));
}

TEST_F(ClientConnect, ARewrittenTrustBundleIsUsedFromTheNextConnection) {
  ASSERT_TRUE(connect("127.0.0.1"));
  const auto before = std::filesystem::last_write_time(trust_bundle_);
  test::write_file(trust_bundle_, test::read_file(other_pki_.files.root_cert));
  std::filesystem::last_write_time(trust_bundle_, before + 2s);  // whatever the clock's grain
  auto untrusted = connect("127.0.0.1");
  ASSERT_FALSE(untrusted);
  EXPECT_NE(untrusted.error().message().find("certificate verify failed"), std::string::npos)
      << untrusted.error().message();
  test::write_file(trust_bundle_, test::read_file(pki_.files.root_cert));
  std::filesystem::last_write_time(trust_bundle_, before + 4s);
  EXPECT_TRUE(connect("127.0.0.1"));
}

}  // namespace
}  // namespace edgehub::net
