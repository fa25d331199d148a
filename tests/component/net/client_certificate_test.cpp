// Issue 3 acceptance 4 end to end through TLS: a client certificate presented in a real handshake
// on a listener (here on IPv6 loopback) reaches the session as PeerInfo, and the authenticator
// accepts CA-signed (chain to trust_bundle_cert, CN = device id) and thumbprint identities and
// refuses the wrong ones. Client certificates are requested but optional: SAS clients send none.

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "edgehub/identity/authenticator.hpp"
#include "edgehub/net/listener.hpp"
#include "edgehub/pki/edge_ca.hpp"
#include "edgehub/pki/server_cert.hpp"
#include "support/pki/test_pki.hpp"
#include "support/tls/tls_client.hpp"

namespace edgehub::net {
namespace {

using namespace std::chrono_literals;

class ListenerWithClientCertificates : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    auto ca = pki::load_edge_ca(pki_.files.edge_ca_full_chain, pki_.files.edge_ca_key,
                                pki_.files.root_cert, core::SystemClock::instance().now(), why);
    ASSERT_TRUE(ca) << why;
    pki::ServerCertPolicy policy;
    policy.hostname = "gw.test.local";
    policy.extra_sans = {"::1"};
    auto server = pki::issue_server_cert(*ca, policy, core::SystemClock::instance().now(), why);
    ASSERT_TRUE(server) << why;
    ASSERT_TRUE(tls_.update({server->chain_pem, server->key_pem}, why)) << why;

    auto capture = [this](std::unique_ptr<Transport> t) {
      std::lock_guard lock(mutex_);
      peers_.push_back(t->peer());
      transports_.push_back(std::move(t));  // keep the connection open until the test ends
      cv_.notify_all();
    };
    listener_ = std::make_unique<Listener>(io_, Listener::Kind::mqtt, tls_, limits_, budget_,
                                           stats_, ListenerHandlers{capture, capture, {}});
    ASSERT_TRUE(listener_->start({"::1", 0}));
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    boost::asio::post(io_, [this] {
      listener_->stop();
      std::lock_guard lock(mutex_);
      for (auto& t : transports_)
        t->close();
      transports_.clear();
      work_.reset();
    });
    thread_.join();
  }

  PeerInfo connect_and_capture(const std::filesystem::path& cert,
                               const std::filesystem::path& key) {
    testing::TlsClientOptions o;
    o.host = "::1";
    o.port = listener_->port();
    o.sni = "gw.test.local";
    o.ca_file = pki_.files.root_cert;
    o.cert_file = cert;
    o.key_file = key;
    clients_.push_back(std::make_unique<testing::TlsClient>(o));
    EXPECT_TRUE(clients_.back()->connect()) << clients_.back()->error();
    std::unique_lock lock(mutex_);
    const auto want = clients_.size();
    EXPECT_TRUE(cv_.wait_for(lock, 10s, [&] { return peers_.size() >= want; }));
    return peers_.size() >= want ? peers_[want - 1] : PeerInfo{};
  }

  static identity::ClientCertificate certificate_of(const PeerInfo& peer) {
    identity::ClientCertificate c;
    if (peer.client_cert_chain_der.empty()) return c;
    c.leaf_der = peer.client_cert_chain_der.front();
    c.chain_der.assign(peer.client_cert_chain_der.begin() + 1, peer.client_cert_chain_der.end());
    return c;
  }

  test::TestPki pki_ = test::make_test_pki_for({"dev1", "dev2"});
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  TlsContextStore tls_;
  config::LimitsConfig limits_;
  ConnectionBudget budget_{100};
  ops::Registry metrics_;
  ListenerStats stats_{metrics_};
  std::unique_ptr<Listener> listener_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<PeerInfo> peers_;
  std::vector<std::unique_ptr<Transport>> transports_;
  std::vector<std::unique_ptr<testing::TlsClient>> clients_;
};

TEST_F(ListenerWithClientCertificates,
       CaSignedAndThumbprintIdentitiesAuthenticateFromTheHandshake) {
  const auto& dev1 = pki_.files.devices.at(0);
  const auto& dev2 = pki_.files.devices.at(1);
  const auto identities = pki_.dir.path() / "identities.toml";
  test::write_file(
      identities,
      "[[device]]\nid = \"dev1\"\nauth = \"x509_ca\"\n"
      "[[device]]\nid = \"dev2\"\nauth = \"x509_thumbprint\"\nprimary_thumbprint = \"" +
          dev2.sha256_thumbprint +
          "\"\n"
          "[[device]]\nid = \"dev3\"\nauth = \"x509_thumbprint\"\nprimary_thumbprint = \"" +
          dev2.sha1_thumbprint + "\"\n",
      std::filesystem::perms(0600));
  identity::Registry registry(identities, "gw");
  std::vector<identity::RegistryIssue> issues;
  ASSERT_TRUE(registry.load(issues)) << (issues.empty() ? "" : issues[0].to_string());
  ops::Registry auth_metrics;
  auto auth = identity::Authenticator::create(
      {"hub.azure-devices.net", "gw.test.local", pki_.files.root_cert}, registry,
      core::SystemClock::instance(), auth_metrics);
  ASSERT_TRUE(auth);

  const auto ca_signed = connect_and_capture(dev1.cert, dev1.key);
  EXPECT_EQ(ca_signed.listener, "mqtt");
  EXPECT_EQ(ca_signed.remote_address.rfind("[::1]:", 0), 0u) << ca_signed.remote_address;
  EXPECT_EQ(ca_signed.sni, "gw.test.local");
  ASSERT_FALSE(ca_signed.client_cert_chain_der.empty());
  auto ok = (*auth)->authenticate({"dev1", ""}, certificate_of(ca_signed));
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->method, identity::AuthType::x509_ca);
  // The same CA-signed certificate does not make its holder dev2 (thumbprint) or another CN.
  EXPECT_FALSE((*auth)->authenticate({"dev2", ""}, certificate_of(ca_signed)));

  const auto self_signed = connect_and_capture(dev2.selfsigned_cert, dev2.selfsigned_key);
  auto by_sha256 = (*auth)->authenticate({"dev2", ""}, certificate_of(self_signed));
  ASSERT_TRUE(by_sha256) << by_sha256.error().message();
  EXPECT_EQ(by_sha256->method, identity::AuthType::x509_thumbprint);
  auto by_sha1 = (*auth)->authenticate({"dev3", ""}, certificate_of(self_signed));
  EXPECT_TRUE(by_sha1) << by_sha1.error().message();
  // A self-signed certificate is no CA-signed identity.
  EXPECT_FALSE((*auth)->authenticate({"dev1", ""}, certificate_of(self_signed)));

  const auto none = connect_and_capture({}, {});
  EXPECT_TRUE(none.client_cert_chain_der.empty()) << "client certificates must stay optional";
  EXPECT_FALSE((*auth)->authenticate({"dev1", ""}, certificate_of(none)));
}

}  // namespace
}  // namespace edgehub::net
