// The HTTPS C2D operations through the API handler (no sockets): a message injected into the
// C2dQueue, as the upstream client will, is received by its device with ETag and properties,
// settled by complete / reject / abandon, and a stale lock is IoT Hub's 412. Another device's
// messages and foreign credentials are refused.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "edgehub/http/api.hpp"
#include "edgehub/identity/sas_token.hpp"
#include "support/process/child_process.hpp"
#include "support/process/temp_dir.hpp"

namespace edgehub::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

constexpr const char* kKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const std::string kVersion = "?api-version=2021-04-12";

class C2dApi : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_file(dir_ / "ids.toml",
                        std::string("[[device]]\nid = \"dev1\"\nprimary_key = \"") + kKey +
                            "\"\n[[device]]\nid = \"dev2\"\nprimary_key = \"" + kKey + "\"\n");
    std::filesystem::permissions(dir_ / "ids.toml", std::filesystem::perms(0600));
    std::vector<identity::RegistryIssue> issues;
    ASSERT_TRUE(registry_.load(issues));
    auto auth = identity::Authenticator::create({"hub.azure-devices.net", "gw.test.local", {}},
                                                registry_, clock_, metrics_);
    ASSERT_TRUE(auth);
    auth_ = std::move(*auth);
    context_.edge_device_id = "gw";
    context_.limits = &limits_;
    context_.authenticator = auth_.get();
    context_.registry = &registry_;
    context_.c2d = &queue_;
    context_.stats = &stats_;
  }

  net::HttpResponse call(bhttp::verb verb, const std::string& target,
                         const std::string& device = "dev1") {
    net::HttpRequest req{verb, target, 11};
    req.set(bhttp::field::authorization,
            *identity::make_sas_token("hub.azure-devices.net/devices/" + device, kKey,
                                      std::chrono::system_clock::now() + std::chrono::hours(1)));
    auto future =
        asio::co_spawn(io_, handle_request(std::move(req), peer_, context_), asio::use_future);
    io_.restart();
    io_.run();
    return future.get();
  }

  static std::string etag(const net::HttpResponse& res) {
    auto v = std::string(res[bhttp::field::etag]);
    return v.size() >= 2 ? v.substr(1, v.size() - 2) : v;
  }

  testing::TempDir dir_;
  core::SystemClock clock_;
  ops::Registry metrics_;
  identity::Registry registry_{dir_ / "ids.toml", "gw"};
  std::unique_ptr<identity::Authenticator> auth_;
  config::LimitsConfig limits_;
  C2dQueue queue_{clock_};
  ApiStats stats_{metrics_};
  ApiContext context_;
  net::PeerInfo peer_ = [] {
    net::PeerInfo p;
    p.listener = "https";
    p.remote_address = "127.0.0.1:1";
    return p;
  }();
  asio::io_context io_;
};

TEST_F(C2dApi, ReceiveCompleteRejectAbandon) {
  const std::string bound = "/devices/dev1/messages/devicebound";
  EXPECT_EQ(call(bhttp::verb::get, bound + kVersion).result_int(), 204);

  core::Message m;
  m.set_body("open the door");
  m.sys_prop(core::SystemProperty::message_id) = "c2d-1";
  m.sys_prop(core::SystemProperty::correlation_id) = "corr";
  m.set_app("colour", "blue");
  ASSERT_TRUE(queue_.enqueue("dev1", m));
  m.set_body("second");
  ASSERT_TRUE(queue_.enqueue("dev1", m));

  EXPECT_EQ(
      call(bhttp::verb::get, "/devices/dev2/messages/devicebound" + kVersion, "dev2").result_int(),
      204)
      << "dev2 sees only its own queue";
  EXPECT_EQ(
      call(bhttp::verb::get, "/devices/dev1/messages/devicebound" + kVersion, "dev2").result_int(),
      401)
      << "dev2 cannot poll as dev1";

  auto first = call(bhttp::verb::get, "/devices/dev1/messages/deviceBound" + kVersion);
  ASSERT_EQ(first.result_int(), 200);
  EXPECT_EQ(first.body(), "open the door");
  EXPECT_EQ(first["iothub-messageid"], "c2d-1");
  EXPECT_EQ(first["iothub-correlationid"], "corr");
  EXPECT_EQ(first["iothub-app-colour"], "blue");
  EXPECT_EQ(first["iothub-deliverycount"], "1");
  EXPECT_EQ(first["iothub-to"], "/devices/dev1/messages/deviceBound");
  const auto lock1 = etag(first);
  ASSERT_FALSE(lock1.empty());

  auto second = call(bhttp::verb::get, bound + kVersion);
  ASSERT_EQ(second.result_int(), 200);
  EXPECT_EQ(second.body(), "second");
  ASSERT_EQ(
      call(bhttp::verb::post, bound + "/" + etag(second) + "/abandon" + kVersion).result_int(),
      204);
  auto again = call(bhttp::verb::get, bound + kVersion);
  ASSERT_EQ(again.result_int(), 200);
  EXPECT_EQ(again.body(), "second");
  EXPECT_EQ(again["iothub-deliverycount"], "2");

  EXPECT_EQ(call(bhttp::verb::delete_, bound + "/" + lock1 + kVersion).result_int(), 204);
  auto stale = call(bhttp::verb::delete_, bound + "/" + lock1 + kVersion);
  EXPECT_EQ(stale.result_int(), 412);
  EXPECT_NE(stale.body().find("DeviceMessageLockLost"), std::string::npos) << stale.body();
  EXPECT_EQ(
      call(bhttp::verb::delete_, bound + "/" + etag(again) + kVersion + "&reject").result_int(),
      204);
  EXPECT_EQ(queue_.depth("dev1"), 0u);
  EXPECT_EQ(call(bhttp::verb::get, bound).result_int(), 400) << "api-version is required";
}

}  // namespace
}  // namespace edgehub::http
