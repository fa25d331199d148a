// Issue 9 over real TLS against the real daemon: the HTTPS API on 443 answers bad input with
// IoT Hub's status and JSON error body (oversized bodies 413, malformed batches 400, wrong
// api-version 400, missing or foreign authorisation 401, a device calling a method 403), closes
// a slow-loris connection after the header deadline, serves keep-alive requests, and keeps
// serving another client throughout. Every answer is counted in edgehubd_http_requests_total.

#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "edgehub/identity/sas_token.hpp"
#include "integration/tls/tls_fixture.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

std::string token(const std::string& resource) {
  return *identity::make_sas_token("hub.azure-devices.net/" + resource, kKey,
                                   std::chrono::system_clock::now() + std::chrono::hours(1));
}

struct Reply {
  int status = 0;
  std::string head;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// Reads one response with a Content-Length body (all of the gateway's responses have one).
std::optional<Reply> read_reply(TlsClient& c) {
  std::string data = c.read_until("\r\n\r\n");
  const auto end = data.find("\r\n\r\n");
  if (end == std::string::npos || data.size() < 12) return std::nullopt;
  Reply r;
  r.status = std::stoi(data.substr(9, 3));
  r.head = data.substr(0, end);
  std::string lower = r.head;
  for (auto& ch : lower)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::size_t length = 0;
  if (const auto at = lower.find("content-length:"); at != std::string::npos) {
    length = std::stoul(lower.substr(at + 15));
  }
  r.body = data.substr(end + 4);
  while (r.body.size() < length) {
    const auto more = c.read_some();
    if (more.empty()) return std::nullopt;
    r.body += more;
  }
  return r;
}

std::string request(const std::string& method, const std::string& target,
                    const std::vector<std::string>& headers, const std::string& body) {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: gw.test.local\r\n";
  for (const auto& h : headers)
    out += h + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return out;
}

const std::string kEvents = "/devices/dev1/messages/events?api-version=2021-04-12";

class HttpApi : public TlsGatewayTest {
 protected:
  void SetUp() override {
    std::string ids;
    for (const char* d : {"dev1", "dev2"}) {
      ids += std::string("[[device]]\nid = \"") + d + "\"\nprimary_key = \"" + kKey + "\"\n";
    }
    ids += std::string("[[device]]\nid = \"child\"\nedge_device = true\nprimary_key = \"") + kKey +
           "\"\n";
    ids += std::string("[[device]]\nid = \"leaf\"\nparent = \"child\"\nprimary_key = \"") + kKey +
           "\"\n";
    ids += std::string("[[module]]\nid = \"caller\"\nprimary_key = \"") + kKey + "\"\n";
    write_file(dir_ / "identities.toml", ids);
    std::filesystem::permissions(dir_ / "identities.toml", std::filesystem::perms(0600));
    gateway_ =
        start_gateway("identities = \"file://" + (dir_ / "identities.toml").string() + "\"\n",
                      "connect_timeout_ms = 1000\nmax_message_bytes = 4096\n");
  }
  void TearDown() override {
    gateway_->signal(SIGTERM);
    EXPECT_EQ(gateway_->wait_for(15s), 0);
  }

  std::unique_ptr<TlsClient> open() {
    auto c = std::make_unique<TlsClient>(client_options(ports_.https));
    EXPECT_TRUE(c->connect()) << c->error();
    return c;
  }

  Reply send(TlsClient& c, const std::string& raw) {
    EXPECT_TRUE(c.write(raw));
    auto r = read_reply(c);
    EXPECT_TRUE(r) << gateway_->stderr_text();
    return r.value_or(Reply{});
  }

  Reply send(const std::string& raw) {
    auto c = open();
    return send(*c, raw);
  }

  // A well-behaved device still gets its telemetry committed.
  void expect_good_client_served() {
    const auto r =
        send(request("POST", kEvents, {"Authorization: " + token("devices/dev1")}, "still here"));
    EXPECT_EQ(r.status, 204) << r.body;
  }

  static std::string error_code(const Reply& r) {
    const auto j = r.json();
    if (!j.is_object() || !j.contains("Message")) return "(no IoT Hub error body: " + r.body + ")";
    const auto m = j["Message"].get<std::string>();
    return m.substr(0, m.find(';'));
  }

  double requests(const std::string& route, const std::string& status) {
    return metric("edgehubd_http_requests_total", {{"route", route}, {"status", status}})
        .value_or(0);
  }

  std::unique_ptr<ChildProcess> gateway_;
};

TEST_F(HttpApi, TelemetryAuthorisationAndApiVersion) {
  const auto dev1 = "Authorization: " + token("devices/dev1");
  EXPECT_EQ(send(request("POST", kEvents, {dev1, "iothub-app-a: 1"}, "hello")).status, 204);

  auto r = send(request("POST", kEvents, {}, "no credentials"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(error_code(r), "ErrorCode:IotHubUnauthorizedAccess");
  // dev2's own valid token does not let it send as dev1.
  r = send(request("POST", kEvents, {"Authorization: " + token("devices/dev2")}, "spoof"));
  EXPECT_EQ(r.status, 401);
  r = send(request("POST", kEvents, {"Authorization: SharedAccessSignature sr=x&sig=y&se=1"}, "x"));
  EXPECT_EQ(r.status, 401);

  r = send(request("POST", "/devices/dev1/messages/events", {dev1}, "no version"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "ErrorCode:InvalidProtocolVersion");
  r = send(request("POST", "/devices/dev1/messages/events?api-version=latest", {dev1}, "x"));
  EXPECT_EQ(r.status, 400);

  r = send(request("GET", "/no/such/thing", {dev1}, ""));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_code(r), "ErrorCode:NotFound");
  EXPECT_GE(requests("telemetry", "401"), 3);
  EXPECT_GE(requests("telemetry", "204"), 1);
  // Bytes per protocol: the requests above and their answers.
  EXPECT_GT(metric("edgehubd_bytes_received_total", {{"protocol", "https"}}).value_or(0), 500);
  EXPECT_GT(metric("edgehubd_bytes_sent_total", {{"protocol", "https"}}).value_or(0), 500);
}

TEST_F(HttpApi, OversizedAndMalformedBodies) {
  const auto dev1 = "Authorization: " + token("devices/dev1");
  // Over max_message_bytes (4096) but within what the listener reads: the API's 413.
  auto r = send(request("POST", kEvents, {dev1}, std::string(5000, 'x')));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(error_code(r), "ErrorCode:MessageTooLarge");
  // Over the listener's body limit: 413 from the Content-Length alone, connection closed.
  auto c = open();
  ASSERT_TRUE(c->write("POST " + kEvents + " HTTP/1.1\r\nHost: gw\r\n" + dev1 +
                       "\r\nContent-Length: 10000000\r\n\r\n"));
  auto big = read_reply(*c);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_TRUE(c->wait_closed(5s));
  expect_good_client_served();

  const std::string batch_type = "Content-Type: application/vnd.microsoft.iothub.json";
  for (const std::string body : {"not json", "{\"body\":\"aGk=\"}", "[{\"body\":\"%%%\"}]", "[]"}) {
    SCOPED_TRACE(body);
    r = send(request("POST", kEvents, {dev1, batch_type}, body));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(error_code(r), "ErrorCode:ArgumentInvalid");
  }
  // Three 2,000-byte messages: each fits, the batch does not.
  const std::string chunk = std::string(2664, 'A');  // base64 of 1,998 bytes
  r = send(request(
      "POST", kEvents, {dev1, batch_type},
      "[{\"body\":\"" + chunk + "\"},{\"body\":\"" + chunk + "\"},{\"body\":\"" + chunk + "\"}]"));
  EXPECT_EQ(r.status, 413);
  r = send(
      request("POST", kEvents, {dev1, batch_type},
              "[{\"body\":\"aGVsbG8=\",\"properties\":{\"iothub-app-k\":\"v\"}},{\"body\":\"\"}]"));
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_GE(requests("telemetry", "413"), 2);
  EXPECT_GE(requests("telemetry", "400"), 4);
}

TEST_F(HttpApi, SlowLorisIsClosedWhileOthersAreServed) {
  auto slow = open();
  ASSERT_TRUE(slow->write("POST " + kEvents + " HTTP/1.1\r\nHost: gw\r\nX-Slow: "));
  expect_good_client_served();  // while the slow header is pending
  EXPECT_TRUE(slow->wait_closed(5s)) << "connect_timeout_ms = 1000 bounds the request header";
  expect_good_client_served();
}

TEST_F(HttpApi, KeepAliveServesSeveralRequests) {
  auto c = open();
  const auto dev1 = "Authorization: " + token("devices/dev1");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(send(*c, request("POST", kEvents, {dev1}, "m" + std::to_string(i))).status, 204);
  }
  // An error answer keeps the connection too.
  EXPECT_EQ(send(*c, request("POST", kEvents, {}, "x")).status, 401);
  EXPECT_EQ(send(*c, request("POST", kEvents, {dev1}, "after")).status, 204);
}

TEST_F(HttpApi, MethodCallersMustBeModulesOfThisGateway) {
  const std::string body = R"({"methodName":"ping","payload":{},"responseTimeoutInSeconds":5})";
  const auto module = "Authorization: " + token("devices/gw/modules/caller");
  // The target is not connected and there is no connect timeout: IoT Hub's 404.
  auto r =
      send(request("POST", "/twins/dev1/methods", {module, "x-ms-edge-moduleId: gw/caller"}, body));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_code(r), "ErrorCode:DeviceNotOnline");
  // A device, authenticated as itself, is not a module of the gateway.
  r = send(request("POST", "/twins/dev2/methods",
                   {"Authorization: " + token("devices/dev1"), "x-ms-edge-moduleId: dev1"}, body));
  EXPECT_EQ(r.status, 403);
  r = send(request("POST", "/twins/dev2/methods", {module}, body));  // no x-ms-edge-moduleId
  EXPECT_EQ(r.status, 401);
  r = send(request("POST", "/twins/dev2/methods",
                   {"Authorization: " + token("devices/dev1"), "x-ms-edge-moduleId: gw/caller"},
                   body));
  EXPECT_EQ(r.status, 401);
  r = send(request("POST", "/twins/dev2/methods", {module, "x-ms-edge-moduleId: gw/caller"},
                   "{\"payload\":1}"));
  EXPECT_EQ(r.status, 400);
  r = send(request("POST", "/twins/dev2/methods", {module, "x-ms-edge-moduleId: gw/caller"},
                   "{\"methodName\":\"m\",\"payload\":\"" + std::string(140000, 'p') + "\"}"));
  EXPECT_EQ(r.status, 413);
  EXPECT_GE(requests("invoke_method", "404"), 1);
  EXPECT_GE(requests("invoke_method", "403"), 1);
}

TEST_F(HttpApi, ScopeApiAnswersChildGatewaysOnly) {
  const std::string scope = "/devices/child/modules/$edgeHub/devicesAndModulesInTargetDeviceScope";
  const auto child = "Authorization: " + token("devices/child");
  auto r = send(request("POST", scope + "?api-version=2020-06-30-preview", {child},
                        R"({"pageSize":10,"authChain":"child"})"));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = r.json();
  ASSERT_EQ(j["devices"].size(), 2u) << r.body;
  EXPECT_EQ(j["devices"][0]["deviceId"], "child");
  EXPECT_EQ(j["devices"][1]["deviceId"], "leaf");
  EXPECT_EQ(j["devices"][1]["authentication"]["symmetricKey"]["primaryKey"], kKey);

  r = send(request("POST",
                   "/devices/child/modules/$edgeHub/getDeviceAndModuleOnBehalfOf"
                   "?api-version=2020-06-30-preview",
                   {child}, R"({"targetDeviceId":"leaf","authChain":"leaf;child"})"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["devices"][0]["deviceId"], "leaf");

  r = send(request("POST", scope + "?api-version=2021-04-12", {child}, "{}"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_code(r), "ErrorCode:InvalidProtocolVersion");
  r = send(request("POST", scope, {child}, "{}"));
  EXPECT_EQ(r.status, 400);
  r = send(request("POST", scope + "?api-version=2020-06-30-preview", {}, "{}"));
  EXPECT_EQ(r.status, 401);
  // dev1 is a device, not a child gateway; and it cannot read child's scope with its token.
  r = send(request("POST",
                   "/devices/dev1/modules/$edgeHub/devicesAndModulesInTargetDeviceScope"
                   "?api-version=2020-06-30-preview",
                   {"Authorization: " + token("devices/dev1")}, "{}"));
  EXPECT_EQ(r.status, 403);
  r = send(request("POST", scope + "?api-version=2020-06-30-preview",
                   {"Authorization: " + token("devices/dev1")}, "{}"));
  EXPECT_EQ(r.status, 401);
}

}  // namespace
}  // namespace edgehub::testing
