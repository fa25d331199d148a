// load_config / parse_config: defaults, every key, and each validation rule on its own.

#include "edgehub/config/load.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace edgehub::config {
namespace {

namespace fs = std::filesystem;

constexpr const char* kKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const fs::path kFile = "/etc/aziot/config.toml";

// Lines 1-4; tests append their own lines from line 5 on.
const std::string kBase =
    "hostname = \"gw.example.local\"\n"
    "[gateway]\n"
    "device_id = \"gw-1\"\n"
    "iothub_hostname = \"hub.azure-devices.net\"\n";

struct Loaded {
  std::optional<GatewayConfig> cfg;
  std::vector<ConfigIssue> issues;

  const ConfigIssue* find(std::string_view key) const {
    for (const auto& i : issues) {
      if (i.key == key) return &i;
    }
    return nullptr;
  }
  std::string all() const {
    std::string out;
    for (const auto& i : issues)
      out += i.to_string() + " | fix: " + i.fix + "\n";
    return out;
  }
  std::size_t errors() const {
    return static_cast<std::size_t>(std::count_if(
        issues.begin(), issues.end(), [](const auto& i) { return i.severity == Severity::error; }));
  }
};

Loaded load(const std::string& text) {
  Loaded l;
  l.cfg = parse_config(text, kFile, l.issues);
  return l;
}

// Expects exactly one error, at `key` and `line`, whose reason contains `reason_part`.
void expect_single_error(const Loaded& l, std::string_view key, int line,
                         std::string_view reason_part) {
  EXPECT_FALSE(l.cfg.has_value());
  ASSERT_EQ(l.errors(), 1u) << l.all();
  const auto* i = l.find(key);
  ASSERT_NE(i, nullptr) << l.all();
  EXPECT_EQ(i->severity, Severity::error);
  EXPECT_EQ(i->line, line) << l.all();
  EXPECT_NE(i->reason.find(reason_part), std::string::npos) << i->reason;
  EXPECT_FALSE(i->fix.empty());
}

// A scratch directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("edgehub-config-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path write(const std::string& name, const std::string& content) const {
    const auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
    return p;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(ConfigIssue, ToStringFormat) {
  ConfigIssue a{"/etc/aziot/config.toml", 12, 3, "gateway.metrics", "bad", "fix", Severity::error};
  EXPECT_EQ(a.to_string(), "/etc/aziot/config.toml:12: gateway.metrics: bad");
  ConfigIssue b{"/x.toml", 0, 0, "hostname", "missing", "", Severity::error};
  EXPECT_EQ(b.to_string(), "/x.toml: hostname: missing");
  ConfigIssue c{"/x.toml", 0, 0, "", "cannot read", "", Severity::error};
  EXPECT_EQ(c.to_string(), "/x.toml: cannot read");
  EXPECT_TRUE(has_errors({a}));
  EXPECT_FALSE(has_errors({ConfigIssue{"/x", 1, 0, "k", "r", "", Severity::warning}}));
  EXPECT_FALSE(has_errors({}));
}

TEST(LoadConfig, MinimalFileGetsDocumentedDefaults) {
  const auto l = load(kBase);
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_TRUE(l.issues.empty()) << l.all();
  const auto& c = *l.cfg;
  EXPECT_EQ(c.source_file, kFile);
  EXPECT_EQ(c.hostname, "gw.example.local");
  EXPECT_EQ(c.device_id, "gw-1");
  EXPECT_EQ(c.iothub_hostname, "hub.azure-devices.net");
  EXPECT_FALSE(c.provisioning);
  EXPECT_FALSE(c.parent_hostname);
  EXPECT_FALSE(c.trust_bundle_cert);
  EXPECT_FALSE(c.edge_ca.cert || c.edge_ca.pk || c.edge_ca.auto_generated_expiry_days);
  EXPECT_EQ(c.state_dir, fs::path("/var/lib/edgehubd"));
  EXPECT_FALSE(c.identities);
  EXPECT_EQ(c.upstream_protocol, UpstreamProtocol::amqp);
  EXPECT_EQ(c.upstream_token_lifetime, std::chrono::seconds(3600));
  EXPECT_EQ(c.authentication_mode, AuthenticationMode::scope);
  EXPECT_EQ(c.metrics, (HostPort{"127.0.0.1", 9600}));
  EXPECT_FALSE(c.proxy);
  EXPECT_TRUE(c.server_cert_extra_sans.empty());
  EXPECT_EQ(c.server_cert_days, 90u);
  EXPECT_EQ(c.drain_timeout, std::chrono::seconds(10));
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.listen.mqtt, (HostPort{"0.0.0.0", 8883}));
  EXPECT_EQ(c.listen.amqp, (HostPort{"0.0.0.0", 5671}));
  EXPECT_EQ(c.listen.https, (HostPort{"0.0.0.0", 443}));
  EXPECT_EQ(c.store.time_to_live_secs, 7200u);
  EXPECT_EQ(c.store.max_disk_mb, 2048u);
  EXPECT_EQ(c.store.when_full, WhenFull::refuse);
  EXPECT_EQ(c.store.sync, StoreSync::full);
  EXPECT_EQ(c.store.commit_window_ms, 3u);
  EXPECT_TRUE(c.routes.empty());
  EXPECT_EQ(c.limits.max_connections, 10000u);
  EXPECT_EQ(c.limits.max_message_bytes, 256u * 1024u);
  EXPECT_EQ(c.limits.tls_handshake_timeout, std::chrono::milliseconds(10000));
  EXPECT_EQ(c.limits.connect_timeout, std::chrono::milliseconds(30000));
  EXPECT_EQ(c.limits.max_token_lifetime, std::chrono::hours(24 * 365));
  EXPECT_TRUE(c.ignored_tables.empty());
}

TEST(LoadConfig, FullFileSetsEveryKey) {
  std::vector<ConfigIssue> issues;
  const auto cfg =
      load_config(fs::path(EDGEHUB_SOURCE_DIR) / "tests/data/config/good/full.toml", issues);
  ASSERT_TRUE(cfg);
  const auto& c = *cfg;
  EXPECT_EQ(c.parent_hostname, "parent.example.local");
  EXPECT_EQ(c.trust_bundle_cert, fs::path("/var/aziot/certs/azure-iot-test-only.root.ca.cert.pem"));
  ASSERT_TRUE(c.provisioning);
  EXPECT_EQ(c.provisioning->iothub_hostname, "hub.azure-devices.net");
  EXPECT_EQ(c.provisioning->iothub_port, 8883);
  EXPECT_EQ(c.provisioning->device_id, "gw-full");
  EXPECT_EQ(c.provisioning->method, ProvisioningAuth::sas);
  EXPECT_EQ(c.provisioning->sas_key, kKey);
  EXPECT_EQ(c.provisioning->edgehub_module_key, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
  EXPECT_EQ(c.device_id, "gw-full");
  EXPECT_EQ(c.iothub_hostname, "hub.azure-devices.net");  // the port is for dialing only
  EXPECT_EQ(c.edge_ca.cert, fs::path("/var/aziot/certs/iot-edge-device-ca-gw-full-chain.cert.pem"));
  EXPECT_EQ(c.edge_ca.pk, fs::path("/var/aziot/secrets/iot-edge-device-ca-gw.key.pem"));
  EXPECT_EQ(c.state_dir, fs::path("/srv/edgehubd"));
  EXPECT_EQ(c.identities, fs::path("/etc/aziot/edgehubd/identities.toml"));
  EXPECT_EQ(c.upstream_protocol, UpstreamProtocol::mqttws);
  EXPECT_EQ(c.authentication_mode, AuthenticationMode::cloud_and_scope);
  EXPECT_EQ(c.metrics, (HostPort{"0.0.0.0", 9700}));
  EXPECT_EQ(c.proxy, "http://proxy.example.local:3128");
  EXPECT_EQ(c.server_cert_extra_sans, (std::vector<std::string>{"gw", "192.168.1.10", "fd00::10"}));
  EXPECT_EQ(c.server_cert_days, 30u);
  EXPECT_EQ(c.drain_timeout, std::chrono::seconds(25));
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.listen.mqtt, (HostPort{"0.0.0.0", 18883}));
  EXPECT_EQ(c.listen.amqp, (HostPort{"::", 15671}));
  EXPECT_FALSE(c.listen.https);
  EXPECT_EQ(c.store.time_to_live_secs, 86400u);
  EXPECT_EQ(c.store.max_disk_mb, 512u);
  EXPECT_EQ(c.store.when_full, WhenFull::drop_oldest);
  EXPECT_EQ(c.store.sync, StoreSync::normal);
  EXPECT_EQ(c.store.commit_window_ms, 10u);
  EXPECT_EQ(c.limits.max_connections, 20000u);
  EXPECT_EQ(c.limits.max_connections_per_listener, 15000u);
  EXPECT_EQ(c.limits.max_message_bytes, 131072u);
  EXPECT_EQ(c.limits.max_inflight_per_connection, 32u);
  EXPECT_EQ(c.limits.max_outbound_queue, 500u);
  EXPECT_EQ(c.limits.tls_handshake_timeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(c.limits.connect_timeout, std::chrono::milliseconds(20000));
  EXPECT_EQ(c.limits.max_token_lifetime, std::chrono::seconds(86400));
}

TEST(LoadConfig, RoutesKeepDeclarationOrderLinesAndOptions) {
  const auto l = load(kBase +
                      "[gateway.routes]\n"                            // 5
                      "zeta = \"FROM /messages/* INTO $upstream\"\n"  // 6
                      "alpha = { route = \"FROM /messages/a INTO $upstream\", priority = 2, "
                      "time_to_live_secs = 0 }\n"                      // 7
                      "[gateway.routes.mid]\n"                         // 8
                      "route = \"FROM /messages/m INTO $upstream\"\n"  // 9
                      "time_to_live_secs = 60\n");
  ASSERT_TRUE(l.cfg) << l.all();
  const auto& r = l.cfg->routes;
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].name, "zeta");
  EXPECT_EQ(r[0].line, 6);
  EXPECT_FALSE(r[0].priority);
  EXPECT_EQ(r[1].name, "alpha");
  EXPECT_EQ(r[1].line, 7);
  EXPECT_EQ(r[1].priority, 2);
  EXPECT_EQ(r[1].time_to_live_secs, 0u);
  EXPECT_EQ(r[1].text, "FROM /messages/a INTO $upstream");
  EXPECT_EQ(r[2].name, "mid");
  EXPECT_EQ(r[2].line, 8);
  EXPECT_EQ(r[2].time_to_live_secs, 60u);
}

TEST(LoadConfig, RouteShapeErrors) {
  expect_single_error(load(kBase + "[gateway.routes]\nr = { priority = 1 }\n"),
                      "gateway.routes.r.route", 6, "missing");
  expect_single_error(load(kBase + "[gateway.routes]\nr = [\"FROM /messages/* INTO $upstream\"]\n"),
                      "gateway.routes.r", 6, "expected a string or a table, got an array");
  expect_single_error(load(kBase + "[gateway.routes]\nr = \"   \"\n"), "gateway.routes.r", 6,
                      "empty");
  expect_single_error(
      load(kBase + "[gateway.routes]\nr = { route = \"FROM /messages/* INTO $upstream\", "
                   "time_to_live_secs = -1 }\n"),
      "gateway.routes.r.time_to_live_secs", 6, "must not be negative");
  expect_single_error(
      load(kBase + "[gateway.routes]\nr = { route = \"FROM /messages/* INTO $upstream\", "
                   "priority = \"high\" }\n"),
      "gateway.routes.r.priority", 6, "expected an integer, got a string");
  expect_single_error(load(kBase + "[gateway]\n"), "gateway", 5, "TOML syntax error");
  expect_single_error(load(kBase + "routes = \"x\"\n"), "gateway.routes", 5,
                      "expected a table, got a string");
}

TEST(LoadConfig, ReportsAllProblemsAtOnceInFileOrder) {
  const auto l = load(
      "hostname = \"gw\"\n"               // 1
      "trust_bundle_cert = \"ca.pem\"\n"  // 2
      "[edge_ca]\n"                       // 3
      "pk = \"file:///k.pem\"\n"          // 4
      "[gateway]\n"                       // 5
      "metric = \"127.0.0.1:9600\"\n"     // 6
      "upstream_protocol = \"https\"\n"   // 7
      "[gateway.store]\n"                 // 8
      "max_disk_mb = 0\n");               // 9
  EXPECT_FALSE(l.cfg);
  std::vector<std::pair<std::string, int>> got;
  for (const auto& i : l.issues)
    got.emplace_back(i.key, i.line);
  const std::vector<std::pair<std::string, int>> want = {
      {"trust_bundle_cert", 2},         {"edge_ca.cert", 4},
      {"gateway.device_id", 5},         {"gateway.metric", 6},
      {"gateway.upstream_protocol", 7}, {"gateway.store.max_disk_mb", 9}};
  EXPECT_EQ(got, want) << l.all();
}

TEST(LoadConfig, UnknownGatewayKeySuggestsTheClosest) {
  auto l = load(kBase + "stat_dir = \"/var/lib/x\"\n");
  expect_single_error(l, "gateway.stat_dir", 5, "did you mean 'state_dir'?");
  EXPECT_EQ(l.issues[0].column, 1);
  l = load(kBase + "metric = \"\"\n");
  expect_single_error(l, "gateway.metric", 5, "did you mean 'metrics'?");
  l = load(kBase + "[gateway.limit]\nmax_connections = 1\n");
  expect_single_error(l, "gateway.limit", 5, "did you mean 'limits'?");
  l = load(kBase + "[gateway.limits]\nmax_conections = 1\n");
  expect_single_error(l, "gateway.limits.max_conections", 6, "did you mean 'max_connections'?");
  l = load(kBase + "frobnicate = 1\n");
  expect_single_error(l, "gateway.frobnicate", 5, "unknown key in [gateway]");
  EXPECT_NE(l.find("gateway.frobnicate")->fix.find("state_dir"), std::string::npos);
}

TEST(LoadConfig, SyntaxErrorNamesLineColumnAndKey) {
  auto l = load(kBase + "log_level = debug\n");
  expect_single_error(l, "gateway.log_level", 5, "TOML syntax error at column");
  EXPECT_GT(l.issues[0].column, 0);
  l = load("hostname = \"gw\"\n[gateway\n");
  expect_single_error(l, "gateway", 2, "TOML syntax error");
  l = load(kBase + "device_id = \"again\"\n");  // redefinition
  expect_single_error(l, "gateway.device_id", 5, "TOML syntax error");
  l = load(std::string("hostname = \"gw\xff\xfe\"\n"));
  EXPECT_FALSE(l.cfg);
  EXPECT_EQ(l.issues.at(0).key, "hostname");
}

TEST(LoadConfig, WrongTypesNameExpectedAndActual) {
  expect_single_error(load(kBase + "metrics = 9600\n"), "gateway.metrics", 5,
                      "expected a string, got an integer");
  auto l = load(kBase + "server_cert_days = \"30\"\n");
  expect_single_error(l, "gateway.server_cert_days", 5, "expected an integer, got a string");
  EXPECT_NE(l.issues[0].fix.find("server_cert_days = 30"), std::string::npos);
  expect_single_error(load(kBase + "drain_timeout_secs = 1.5\n"), "gateway.drain_timeout_secs", 5,
                      "got a floating-point number");
  expect_single_error(load(kBase + "server_cert_extra_sans = \"gw\"\n"),
                      "gateway.server_cert_extra_sans", 5, "expected an array of strings");
  expect_single_error(load("hostname = \"gw\"\ngateway = 1\n"), "gateway", 2,
                      "expected a table, got an integer");
}

TEST(LoadConfig, NumbersOutOfRange) {
  expect_single_error(load(kBase + "server_cert_days = 0\n"), "gateway.server_cert_days", 5,
                      "must be a positive integer");
  expect_single_error(load(kBase + "drain_timeout_secs = -1\n"), "gateway.drain_timeout_secs", 5,
                      "must not be negative");
  expect_single_error(load(kBase + "[gateway.limits]\nmax_message_bytes = 300000000\n"),
                      "gateway.limits.max_message_bytes", 6, "between 1 and 268435455");
  expect_single_error(load(kBase + "[gateway.limits]\ntls_handshake_timeout_ms = 0\n"),
                      "gateway.limits.tls_handshake_timeout_ms", 6, "positive");
  expect_single_error(load(kBase + "[gateway.store]\nmax_disk_mb = -2\n"),
                      "gateway.store.max_disk_mb", 6, "positive");
  expect_single_error(load(kBase + "[gateway.store]\ncommit_window_ms = 250\n"),
                      "gateway.store.commit_window_ms", 6, "between 0 and 100");
  expect_single_error(load(kBase + "[gateway.limits]\nmax_outbound_queue = 5000000000\n"),
                      "gateway.limits.max_outbound_queue", 6, "between 1 and 4294967295");
  auto l = load(kBase + "drain_timeout_secs = 0\n");
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_EQ(l.cfg->drain_timeout, std::chrono::seconds(0));
  l = load(kBase + "upstream_token_lifetime_secs = 30\n");
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_EQ(l.cfg->upstream_token_lifetime, std::chrono::seconds(30));
  expect_single_error(load(kBase + "upstream_token_lifetime_secs = 5\n"),
                      "gateway.upstream_token_lifetime_secs", 5, "between 10 and 86400");
}

TEST(LoadConfig, EnumsAcceptEdgeHubSpellingsAndListAllowedValues) {
  auto l = load(kBase +
                "upstream_protocol = \"AmqpWs\"\nauthentication_mode = \"CloudAndScope\"\n"
                "log_level = \"warning\"\n");
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_EQ(l.cfg->upstream_protocol, UpstreamProtocol::amqpws);
  EXPECT_EQ(l.cfg->authentication_mode, AuthenticationMode::cloud_and_scope);
  EXPECT_EQ(l.cfg->log_level, "warn");
  l = load(kBase + "upstream_protocol = \"http\"\n");
  expect_single_error(l, "gateway.upstream_protocol", 5, "allowed: amqp, amqpws, mqtt or mqttws");
  l = load(kBase + "[gateway.store]\nwhen_full = \"block\"\n");
  expect_single_error(l, "gateway.store.when_full", 6, "allowed: refuse or drop_oldest");
  l = load(kBase + "[gateway.store]\nsync = \"fsync\"\n");
  expect_single_error(l, "gateway.store.sync", 6, "allowed: full or normal");
}

TEST(LoadConfig, ListenersAndMetrics) {
  auto l = load(kBase +
                "metrics = \"\"\n[gateway.listen]\nmqtt = \"127.0.0.1:0\"\namqp = \"\"\n"
                "https = \"[::1]:8443\"\n");
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_FALSE(l.cfg->metrics);
  EXPECT_EQ(l.cfg->listen.mqtt, (HostPort{"127.0.0.1", 0}));
  EXPECT_FALSE(l.cfg->listen.amqp);
  EXPECT_EQ(l.cfg->listen.https, (HostPort{"::1", 8443}));
  expect_single_error(load(kBase + "[gateway.listen]\nmqtt = \"0.0.0.0:http\"\n"),
                      "gateway.listen.mqtt", 6, "port");
  expect_single_error(load(kBase + "[gateway.listen]\nwebsocket = \"0.0.0.0:443\"\n"),
                      "gateway.listen.websocket", 6, "unknown key");
}

TEST(LoadConfig, DuplicatePortsOnOverlappingAddresses) {
  // The default metrics address (127.0.0.1:9600) overlaps a wildcard listener on 9600.
  auto l = load(kBase + "[gateway.listen]\nhttps = \"0.0.0.0:9600\"\n");
  expect_single_error(l, "gateway.listen.https", 6,
                      "already used by gateway.metrics (its default)");
  l = load(kBase + "metrics = \"127.0.0.1:8883\"\n");
  expect_single_error(l, "gateway.metrics", 5, "port 8883 is already used by gateway.listen.mqtt");
  // Different specific hosts, and ephemeral ports, do not clash.
  l = load(kBase +
           "metrics = \"127.0.0.1:0\"\n[gateway.listen]\nmqtt = \"127.0.0.1:9000\"\n"
           "amqp = \"10.0.0.1:9000\"\nhttps = \"127.0.0.1:0\"\n");
  EXPECT_TRUE(l.cfg) << l.all();
}

TEST(LoadConfig, PathsAndUris) {
  auto l = load(kBase + "state_dir = \"file:///srv/edgehub\"\nidentities = \"\"\n");
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_EQ(l.cfg->state_dir, fs::path("/srv/edgehub"));
  EXPECT_FALSE(l.cfg->identities);
  expect_single_error(load(kBase + "state_dir = \"var/lib/edgehubd\"\n"), "gateway.state_dir", 5,
                      "relative paths are not allowed");
  expect_single_error(load(kBase + "identities = \"identities.toml\"\n"), "gateway.identities", 5,
                      "relative paths are not allowed");
  expect_single_error(load(kBase + "identities = \"file://etc/ids.toml\"\n"), "gateway.identities",
                      5, "three slashes");
  auto pk =
      load(kBase + "[edge_ca]\ncert = \"file:///c.pem\"\npk = \"pkcs11:token=x?pin-value=4321\"\n");
  expect_single_error(pk, "edge_ca.pk", 7, "scheme 'pkcs11' is not supported");
  EXPECT_EQ(pk.all().find("4321"), std::string::npos);
}

TEST(LoadConfig, AdminSocket) {
  auto d = load(kBase);
  ASSERT_TRUE(d.cfg) << d.all();
  EXPECT_EQ(d.cfg->admin_socket, fs::path("/run/edgehubd/admin.sock"));
  auto off = load(kBase + "admin_socket = \"\"\n");
  ASSERT_TRUE(off.cfg) << off.all();
  EXPECT_FALSE(off.cfg->admin_socket);
  auto uri = load(kBase + "admin_socket = \"file:///tmp/gw/admin.sock\"\n");
  ASSERT_TRUE(uri.cfg) << uri.all();
  EXPECT_EQ(uri.cfg->admin_socket, fs::path("/tmp/gw/admin.sock"));
  expect_single_error(load(kBase + "admin_socket = \"admin.sock\"\n"), "gateway.admin_socket", 5,
                      "relative paths are not allowed");
  expect_single_error(load(kBase + "admin_socket = \"/" + std::string(120, 'a') + "\"\n"),
                      "gateway.admin_socket", 5, "at most 107");
}

TEST(LoadConfig, EdgeCaForms) {
  auto l = load(kBase + "[edge_ca]\nauto_generated_edge_ca_expiry_days = 30\n");
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_EQ(l.cfg->edge_ca.auto_generated_expiry_days, 30u);
  expect_single_error(load(kBase + "[edge_ca]\npk = \"file:///k.pem\"\n"), "edge_ca.cert", 6,
                      "missing");
  expect_single_error(load(kBase + "[edge_ca]\ncert = \"file:///c.pem\"\npk = \"file:///k.pem\"\n"
                                   "auto_generated_edge_ca_expiry_days = 30\n"),
                      "edge_ca.auto_generated_edge_ca_expiry_days", 8, "only without cert and pk");
  expect_single_error(load(kBase + "[edge_ca]\nauto_generated_edge_ca_expiry_days = 0\n"),
                      "edge_ca.auto_generated_edge_ca_expiry_days", 6, "positive");
  expect_single_error(load(kBase + "[edge_ca]\nmethod = \"est\"\n"), "edge_ca.method", 6,
                      "not supported");
  l = load(kBase +
           "[edge_ca]\nauto_generated_edge_ca_expiry_days = 30\n[edge_ca.auto_renew]\n"
           "rotate_key = true\n");
  ASSERT_TRUE(l.cfg) << l.all();  // aziot's own keys in [edge_ca] are warnings, not errors
  ASSERT_EQ(l.issues.size(), 1u);
  EXPECT_EQ(l.issues[0].severity, Severity::warning);
  EXPECT_EQ(l.issues[0].key, "edge_ca.auto_renew");
}

TEST(LoadConfig, HostnameRules) {
  auto l = load("[gateway]\ndevice_id = \"gw\"\niothub_hostname = \"h.net\"\n");
  expect_single_error(l, "hostname", 1, "missing");
  expect_single_error(load("hostname = \"gw_1!\"\n" + kBase.substr(kBase.find('\n') + 1)),
                      "hostname", 1, "not a valid host name");
  expect_single_error(load("hostname = \"\"\n" + kBase.substr(kBase.find('\n') + 1)), "hostname", 1,
                      "must not be empty");
  l = load("parent_hostname = \"parent\"\n" + kBase);
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_EQ(l.cfg->parent_hostname, "parent");
  // A misspelt top-level key is a warning (aziot may own it), the missing key an error.
  l = load("hostnme = \"gw\"\n" + kBase.substr(kBase.find('\n') + 1));
  ASSERT_EQ(l.issues.size(), 2u) << l.all();
  EXPECT_EQ(l.issues[0].severity, Severity::warning);
  EXPECT_NE(l.issues[0].reason.find("did you mean 'hostname'?"), std::string::npos);
  EXPECT_EQ(l.issues[1].key, "hostname");
}

TEST(LoadConfig, IgnoredAziotTablesAreRecordedInFileOrder) {
  auto l = load(kBase +
                "[moby_runtime]\nuri = \"unix:///var/run/docker.sock\"\n[agent]\n"
                "name = \"edgeAgent\"\n[[principal]]\nuid = 1\n[aziot_keys]\n");
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_TRUE(l.issues.empty()) << l.all();
  EXPECT_EQ(l.cfg->ignored_tables,
            (std::vector<std::string>{"moby_runtime", "agent", "principal", "aziot_keys"}));
  expect_single_error(load(kBase + "[provisionning]\nsource = \"manual\"\n"), "provisionning", 5,
                      "did you mean [provisioning]?");
}

TEST(LoadConfig, GatewayIdentityWithoutProvisioning) {
  expect_single_error(load("hostname = \"gw\"\n"), "gateway.device_id", 1, "missing");
  expect_single_error(load("hostname = \"gw\"\n[gateway]\ndevice_id = \"d\"\n"),
                      "gateway.iothub_hostname", 2, "missing");
  expect_single_error(load("hostname = \"gw\"\n[gateway]\ndevice_id = \"a/b\"\n"
                           "iothub_hostname = \"h.net\"\n"),
                      "gateway.device_id", 3, "not a valid IoT Hub device id");
  expect_single_error(load("hostname = \"gw\"\n[gateway]\ndevice_id = \"d\"\n"
                           "iothub_hostname = \"h.net:443\"\n"),
                      "gateway.iothub_hostname", 4, "not a valid host name");
}

std::string provisioning_cs(const std::string& extra = "") {
  return "hostname = \"gw\"\n"    // 1
         "[provisioning]\n"       // 2
         "source = \"manual\"\n"  // 3
         "connection_string = \"HostName=hub.azure-devices.net:5671;DeviceId=gw-cs;"
         "SharedAccessKey=" +
         std::string(kKey) + "\"\n" + extra;  // 4
}

TEST(LoadConfig, ProvisioningByConnectionString) {
  auto l = load(provisioning_cs());
  ASSERT_TRUE(l.cfg) << l.all();
  ASSERT_TRUE(l.cfg->provisioning);
  EXPECT_EQ(l.cfg->provisioning->iothub_hostname, "hub.azure-devices.net");
  EXPECT_EQ(l.cfg->provisioning->iothub_port, 5671);
  EXPECT_EQ(l.cfg->provisioning->sas_key, kKey);
  EXPECT_EQ(l.cfg->device_id, "gw-cs");
  EXPECT_EQ(l.cfg->iothub_hostname, "hub.azure-devices.net");
  // [gateway] may repeat the identity only if it agrees.
  l = load(provisioning_cs("[gateway]\ndevice_id = \"gw-cs\"\n"));
  EXPECT_TRUE(l.cfg) << l.all();
  expect_single_error(load(provisioning_cs("[gateway]\ndevice_id = \"other\"\n")),
                      "gateway.device_id", 6, "differs");
  // Without source, manual is assumed.
  l = load(
      "hostname = \"gw\"\n[provisioning]\nconnection_string = \"HostName=h.net;DeviceId=d;"
      "SharedAccessKey=" +
      std::string(kKey) + "\"\n");
  EXPECT_TRUE(l.cfg) << l.all();
}

TEST(LoadConfig, ConnectionStringMistakesNeverEchoTheKey) {
  const std::string cs = "hostname = \"gw\"\n[provisioning]\nconnection_string = \"";
  for (const std::string& body :
       {std::string("HostName=h.net;DeviceId=d;ModuleId=m;SharedAccessKey=") + kKey,
        std::string("HostName=h.net;SharedAccessKey=") + kKey,
        std::string("HostName=h.net;DeviceId=d;") + kKey,
        std::string("HostName=h.net;DeviceId=d;SharedAccessKey=") + std::string(kKey).substr(1)}) {
    const auto l = load(cs + body + "\"\n");
    expect_single_error(l, "provisioning.connection_string", 3, "connection string");
    EXPECT_EQ(l.all().find(std::string(kKey).substr(4, 20)), std::string::npos) << l.all();
  }
  auto l = load(provisioning_cs() + "\n[provisioning.x]\n");
  ASSERT_TRUE(l.cfg);  // an unknown aziot key in [provisioning] is a warning
  ASSERT_EQ(l.issues.size(), 1u);
  EXPECT_EQ(l.issues[0].severity, Severity::warning);
  l = load(
      "hostname = \"gw\"\n[provisioning]\nconnection_string = \"HostName=h.net;DeviceId=d;"
      "SharedAccessKey=" +
      std::string(kKey) + ";GatewayHostName=parent\"\n");
  ASSERT_TRUE(l.cfg);
  ASSERT_EQ(l.issues.size(), 1u);
  EXPECT_NE(l.issues[0].reason.find("GatewayHostName is ignored"), std::string::npos);
}

TEST(LoadConfig, UnsupportedProvisioningSources) {
  expect_single_error(
      load("hostname = \"gw\"\n[provisioning]\nsource = \"dps\"\nid_scope = \"x\"\n"),
      "provisioning.source", 3, "not supported by edgehubd, use manual");
  expect_single_error(load("hostname = \"gw\"\n[provisioning]\nsource = \"tpm\"\n"),
                      "provisioning.source", 3, "allowed: manual");
}

const std::string kManualHead =
    "hostname = \"gw\"\n"                            // 1
    "[provisioning]\n"                               // 2
    "source = \"manual\"\n"                          // 3
    "iothub_hostname = \"hub.azure-devices.net\"\n"  // 4
    "device_id = \"gw-m\"\n"                         // 5
    "[provisioning.authentication]\n";               // 6

TEST(LoadConfig, ProvisioningByHostDeviceAndSasValue) {
  auto l = load(kManualHead + "method = \"sas\"\ndevice_id_pk = { value = \"" + kKey + "\" }\n");
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_EQ(l.cfg->provisioning->method, ProvisioningAuth::sas);
  EXPECT_EQ(l.cfg->provisioning->sas_key, kKey);
  EXPECT_EQ(l.cfg->device_id, "gw-m");
  EXPECT_FALSE(l.cfg->provisioning->iothub_port);
  expect_single_error(load(kManualHead + "method = \"sas\"\n"),
                      "provisioning.authentication.device_id_pk", 7, "missing");
  expect_single_error(load(kManualHead + "method = \"sas\"\ndevice_id_pk = \"" + kKey + "\"\n"),
                      "provisioning.authentication.device_id_pk", 8,
                      "expected a table, got a string");
  expect_single_error(load(kManualHead + "method = \"sas\"\ndevice_id_pk = { value = \"" + kKey +
                           "\", uri = \"file:///k\" }\n"),
                      "provisioning.authentication.device_id_pk.uri", 8, "alternatives");
  expect_single_error(load(kManualHead + "method = \"sas\"\ndevice_id_pk = {}\n"),
                      "provisioning.authentication.device_id_pk", 8, "needs value or uri");
  expect_single_error(load(kManualHead + "method = \"psk\"\n"),
                      "provisioning.authentication.method", 7, "allowed: sas or x509");
  expect_single_error(
      load(kManualHead + "device_id_pk = { value = \"" + std::string(kKey) + "\" }\n"),
      "provisioning.authentication.method", 6, "missing");
}

TEST(LoadConfig, ProvisioningX509) {
  auto l = load(kManualHead +
                "method = \"x509\"\nidentity_cert = \"file:///c.pem\"\n"
                "identity_pk = \"file:///k.pem\"\n");
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_EQ(l.cfg->provisioning->method, ProvisioningAuth::x509);
  EXPECT_EQ(l.cfg->provisioning->identity_cert, fs::path("/c.pem"));
  EXPECT_EQ(l.cfg->provisioning->identity_pk, fs::path("/k.pem"));
  EXPECT_TRUE(l.cfg->provisioning->sas_key.empty());
  expect_single_error(load(kManualHead + "method = \"x509\"\nidentity_cert = \"file:///c.pem\"\n"),
                      "provisioning.authentication.identity_pk", 7, "missing");
}

TEST(LoadConfig, ProvisioningMissingParts) {
  const auto l = load("hostname = \"gw\"\n[provisioning]\nsource = \"manual\"\n");
  EXPECT_FALSE(l.cfg);
  EXPECT_EQ(l.errors(), 3u) << l.all();
  EXPECT_NE(l.find("provisioning.iothub_hostname"), nullptr);
  EXPECT_NE(l.find("provisioning.device_id"), nullptr);
  EXPECT_NE(l.find("provisioning.authentication"), nullptr);
  EXPECT_EQ(l.find("gateway.device_id"), nullptr);  // no misleading follow-up error
}

TEST(LoadConfig, SecretKeyFromFileUri) {
  TempDir dir;
  const auto text_key = dir.write("text.key", std::string(kKey) + "\n");
  std::string raw(32, '\0');
  for (std::size_t i = 0; i < raw.size(); ++i)
    raw[i] = static_cast<char>(0xF0 + (i % 16));
  const auto raw_key = dir.write("raw.key", raw);
  const auto bad_key = dir.write("bad.key", "hunter2-is-not-a-key");
  const auto with = [&](const fs::path& p) {
    return load(kManualHead + "method = \"sas\"\ndevice_id_pk = { uri = \"file://" + p.string() +
                "\" }\n");
  };
  auto l = with(text_key);
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_EQ(l.cfg->provisioning->sas_key, kKey);
  l = with(raw_key);  // aziot-keyd's raw form
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_EQ(l.cfg->provisioning->sas_key, "8PHy8/T19vf4+fr7/P3+//Dx8vP09fb3+Pn6+/z9/v8=");
  l = with(bad_key);
  expect_single_error(l, "provisioning.authentication.device_id_pk.uri", 8, "neither");
  EXPECT_EQ(l.all().find("hunter2"), std::string::npos);
  expect_single_error(with(dir.path()), "provisioning.authentication.device_id_pk.uri", 8,
                      "not a regular file");
  expect_single_error(with("/dev/zero"), "provisioning.authentication.device_id_pk.uri", 8,
                      "not a regular file");
  expect_single_error(with(dir.path() / "absent.key"),
                      "provisioning.authentication.device_id_pk.uri", 8, "cannot read");
  const auto big = dir.write("big.key", std::string(5000, 'A'));
  expect_single_error(with(big), "provisioning.authentication.device_id_pk.uri", 8, "larger than");
  const auto shared = dir.write("shared.key", kKey);
  fs::permissions(shared, fs::perms::group_read, fs::perm_options::add);
  l = with(shared);
  expect_single_error(l, "provisioning.authentication.device_id_pk.uri", 8,
                      "accessible by group or others");
  EXPECT_EQ(l.issues[0].fix, "chmod 600 " + shared.string());
}

TEST(LoadConfig, EdgeHubModuleKey) {
  auto l = load(provisioning_cs("edgehub_module_key = \"" + std::string(kKey) + "\"\n"));
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_EQ(l.cfg->provisioning->edgehub_module_key, kKey);
  l = load(provisioning_cs("edgehub_module_key = { value = \"" + std::string(kKey) + "\" }\n"));
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_EQ(l.cfg->provisioning->edgehub_module_key, kKey);
  expect_single_error(load(provisioning_cs("edgehub_module_key = \"abc\"\n")),
                      "provisioning.edgehub_module_key", 5, "not valid base64");
}

TEST(LoadConfig, ProxyAndSans) {
  auto l = load(kBase + "proxy = \"http://user:pa55word@proxy.local:3128/\"\n");
  ASSERT_TRUE(l.cfg) << l.all();
  EXPECT_EQ(l.cfg->proxy, "http://user:pa55word@proxy.local:3128/");
  l = load(kBase + "proxy = \"http://user:pa55word@proxy.local\"\n");
  expect_single_error(l, "gateway.proxy", 5, "needs a host and a port");
  EXPECT_EQ(l.all().find("pa55word"), std::string::npos);
  l = load(kBase + "proxy = \"\"\n");
  ASSERT_TRUE(l.cfg);
  EXPECT_FALSE(l.cfg->proxy);
  expect_single_error(load(kBase + "server_cert_extra_sans = [\"gw\", \"not valid!\"]\n"),
                      "gateway.server_cert_extra_sans[1]", 5, "neither a DNS name nor an IP");
  expect_single_error(load(kBase + "server_cert_extra_sans = [\"gw\", 7]\n"),
                      "gateway.server_cert_extra_sans[1]", 5, "expected a string");
}

TEST(LoadConfig, MissingOrUnreadableFile) {
  std::vector<ConfigIssue> issues;
  const fs::path missing = "/nonexistent/edgehubd/config.toml";
  EXPECT_FALSE(load_config(missing, issues));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0].line, 0);
  EXPECT_EQ(issues[0].to_string().rfind(missing.string() + ": cannot read", 0), 0u)
      << issues[0].to_string();
  issues.clear();
  EXPECT_FALSE(load_config("/", issues));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_NE(issues[0].reason.find("not a regular file"), std::string::npos);
}

TEST(LoadConfig, RefusesAnOversizedFile) {
  TempDir dir;
  const auto big = dir.write("config.toml", kBase + std::string(1024 * 1024, '#'));
  std::vector<ConfigIssue> issues;
  EXPECT_FALSE(load_config(big, issues));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_NE(issues[0].reason.find("larger than 1048576 bytes"), std::string::npos);
  const auto ok = dir.write("ok.toml", kBase);
  issues.clear();
  EXPECT_TRUE(load_config(ok, issues)) << (issues.empty() ? "" : issues[0].to_string());
}

TEST(LoadConfig, AppendsToExistingIssuesAndJudgesOnlyItsOwn) {
  std::vector<ConfigIssue> issues{ConfigIssue{"/old", 1, 0, "k", "old", "", Severity::error}};
  const auto cfg = parse_config(kBase, kFile, issues);
  EXPECT_TRUE(cfg.has_value());
  EXPECT_EQ(issues.size(), 1u);
}

TEST(LoadConfig, GarbageNeverCrashes) {
  for (const std::string& text :
       {std::string("\0\0\0", 3), std::string("[[[[[["), std::string("a = {{{{"),
        std::string("gateway = { routes = { r = { route = 1 } } }"), std::string(2000, '['),
        std::string("hostname = \"gw\"\n[gateway.routes]\n\"\" = \"FROM x\"\n")}) {
    const auto l = load(text);
    EXPECT_FALSE(l.cfg);
    EXPECT_TRUE(has_errors(l.issues));
  }
}

}  // namespace
}  // namespace edgehub::config
