// Issue 10: dashboards built for IoT Edge must work unchanged, and operators must find every
// metric explained. A running edgehubd (MQTT, AMQP and HTTPS listeners, an upstream configured,
// some traffic) is scraped as Prometheus would: every family it exposes must be documented in
// docs/*.md, and every metric of edgeHub's set (edgehub-reference.md §8) must be exposed with
// edgeHub's name, type and default labels.

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "integration/mqtt_malformed/gateway_under_test.hpp"

namespace edgehub::testing {
namespace {

/// Every `edgehub_*` / `edgehubd_*` name written in code spans of the project's documentation.
std::set<std::string> documented_names() {
  std::set<std::string> names;
  const std::regex name(R"(`(edgehubd?_[a-z0-9_]+))");
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(EDGEHUB_SOURCE_DIR) / "docs")) {
    if (entry.path().extension() != ".md") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const auto s = text.str();
    for (std::sregex_iterator it(s.begin(), s.end(), name), end; it != end; ++it)
      names.insert((*it)[1]);
  }
  return names;
}

// edgehub-reference.md §8: name and Prometheus type.
const std::map<std::string, std::string> kEdgeHubSet = {
    {"edgehub_messages_received_total", "counter"},
    {"edgehub_messages_sent_total", "counter"},
    {"edgehub_message_size_bytes", "summary"},
    {"edgehub_message_send_duration_seconds", "summary"},
    {"edgehub_message_process_duration_seconds", "summary"},
    {"edgehub_gettwin_total", "counter"},
    {"edgehub_gettwin_duration_seconds", "summary"},
    {"edgehub_reported_properties_total", "counter"},
    {"edgehub_reported_properties_update_duration_seconds", "summary"},
    {"edgehub_direct_methods_total", "counter"},
    {"edgehub_direct_method_duration_seconds", "summary"},
    {"edgehub_queue_length", "gauge"},
    {"edgehub_messages_dropped_total", "counter"},
    {"edgehub_messages_unack_total", "counter"},
    {"edgehub_offline_count_total", "counter"},
    {"edgehub_offline_duration_seconds", "summary"},
    {"edgehub_operation_retry_total", "counter"},
    {"edgehub_client_connect_failed_total", "counter"},
    {"edgehub_connected_clients", "gauge"},
    {"edgehub_client_connect_success_total", "counter"},
    {"edgehub_client_disconnect_total", "counter"},
};

TEST(MetricsDocs, EveryExposedMetricIsDocumentedAndEdgeHubsSetIsComplete) {
  GatewayUnderTestOptions o;
  o.identities = sas_device_entry("dev1");
  o.extra_gateway = "upstream_protocol = \"mqtt\"\n";
  // An upstream that cannot be reached: its metrics exist and report it offline.
  o.tail = std::string("[gateway.routes]\nup = \"FROM /messages/* INTO $upstream\"\n") +
           "[provisioning]\nsource = \"manual\"\nconnection_string = "
           "\"HostName=hub.azure-devices.net:1;DeviceId=gw;SharedAccessKey=" +
           kTestKey + "\"\nedgehub_module_key = \"" + kTestKey + "\"\n";
  GatewayUnderTest gw(std::move(o));
  auto device = connect_mqtt(gw, sas_connect("dev1"));
  ASSERT_NE(device, nullptr) << gw.process().stderr_text();
  ASSERT_TRUE(device->write(telemetry("dev1", 1)));
  ASSERT_NE(device->read_until(puback(1)).find(puback(1)), std::string::npos);

  auto reply = http_get(gw.ports().metrics, "/metrics");
  ASSERT_TRUE(reply && reply->status == 200);
  const auto scraped = parse_prometheus_text(reply->body);
  ASSERT_TRUE(scraped.ok()) << scraped.errors.front();

  const auto documented = documented_names();
  for (const auto& [name, family] : scraped.families) {
    EXPECT_TRUE(documented.count(name)) << name << " is exposed but not documented in docs/*.md";
  }
  for (const auto& [name, type] : kEdgeHubSet) {
    auto it = scraped.families.find(name);
    ASSERT_NE(it, scraped.families.end()) << "edgeHub's " << name << " is missing";
    EXPECT_EQ(it->second.type, type) << name;
    EXPECT_TRUE(documented.count(name)) << name << " is not documented";
  }
  // edgeHub's default labels on every sample.
  for (const auto& [name, family] : scraped.families) {
    for (const auto& sample : family.samples) {
      for (const char* label : {"iothub", "edge_device", "instance_number"}) {
        EXPECT_TRUE(sample.labels.count(label)) << sample.name << " lacks " << label;
      }
    }
  }
}

}  // namespace
}  // namespace edgehub::testing
