// The value parsers: host:port, file:// URIs, device connection strings and keys.

#include "edgehub/config/parse.hpp"

#include <gtest/gtest.h>

#include "edgehub/config/errors.hpp"

namespace edgehub::config {
namespace {

constexpr const char* kKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";  // 32 bytes

ConfigErrc code(const boost::system::error_code& ec) {
  return static_cast<ConfigErrc>(ec.value());
}

TEST(HostPort, ParsesNameIpv4AndBracketedIpv6) {
  auto a = parse_host_port("gw.example.local:8883");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "gw.example.local");
  EXPECT_EQ(a->port, 8883);
  auto b = parse_host_port("127.0.0.1:0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->port, 0);  // ephemeral, for tests
  auto c = parse_host_port("[::1]:443");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->to_string(), "[::1]:443");
  auto d = parse_host_port(":9600");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "0.0.0.0");
}

TEST(HostPort, RejectsWithSpecificCodes) {
  EXPECT_EQ(code(parse_host_port("").error()), ConfigErrc::empty_address);
  EXPECT_EQ(code(parse_host_port("0.0.0.0").error()), ConfigErrc::missing_port);
  EXPECT_EQ(code(parse_host_port("[::1]").error()), ConfigErrc::missing_port);
  EXPECT_EQ(code(parse_host_port("0.0.0.0:65536").error()), ConfigErrc::bad_port);
  EXPECT_EQ(code(parse_host_port("0.0.0.0:-1").error()), ConfigErrc::bad_port);
  EXPECT_EQ(code(parse_host_port("0.0.0.0:88a").error()), ConfigErrc::bad_port);
  EXPECT_EQ(code(parse_host_port("0.0.0.0:").error()), ConfigErrc::bad_port);
  EXPECT_EQ(code(parse_host_port("0.0.0.0:000008883").error()), ConfigErrc::bad_port);
  EXPECT_EQ(code(parse_host_port("::1:80").error()), ConfigErrc::bad_host);
  EXPECT_EQ(code(parse_host_port("[gw]:80").error()), ConfigErrc::bad_host);
  EXPECT_EQ(code(parse_host_port("[::1:80").error()), ConfigErrc::bad_host);
  EXPECT_EQ(code(parse_host_port("bad_host!:80").error()), ConfigErrc::bad_host);
  EXPECT_EQ(code(parse_host_port("300.1.1.1:80").error()), ConfigErrc::bad_host);
}

TEST(HostPort, ValidHosts) {
  EXPECT_TRUE(is_valid_host("gw"));
  EXPECT_TRUE(is_valid_host("a-b.example.com"));
  EXPECT_TRUE(is_valid_host("10.0.0.1"));
  EXPECT_TRUE(is_valid_host("fd00::1"));
  EXPECT_FALSE(is_valid_host(""));
  EXPECT_FALSE(is_valid_host("-gw"));
  EXPECT_FALSE(is_valid_host("gw..local"));
  EXPECT_FALSE(is_valid_host("gw_1.local"));
  EXPECT_FALSE(is_valid_host(std::string(64, 'a') + ".local"));
  EXPECT_FALSE(is_valid_host("1.2.3.999"));
  EXPECT_TRUE(is_ip_literal("::"));
  EXPECT_FALSE(is_ip_literal("gw.local"));
}

TEST(FileUri, ResolvesAbsoluteLocalPaths) {
  auto a = file_uri_to_path("file:///var/aziot/certs/ca.pem");
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, std::filesystem::path("/var/aziot/certs/ca.pem"));
  auto b = file_uri_to_path("FILE://localhost/etc/a%20b.pem");
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, std::filesystem::path("/etc/a b.pem"));
  auto c = file_uri_to_path("file:/etc/x/../y.pem");
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, std::filesystem::path("/etc/y.pem"));
}

TEST(FileUri, RejectsRelativeBareRemoteAndOtherSchemes) {
  EXPECT_EQ(code(file_uri_to_path("certs/ca.pem").error()), ConfigErrc::relative_path);
  EXPECT_EQ(code(file_uri_to_path("./ca.pem").error()), ConfigErrc::relative_path);
  EXPECT_EQ(code(file_uri_to_path("file:certs/ca.pem").error()), ConfigErrc::relative_path);
  EXPECT_EQ(code(file_uri_to_path("/etc/ca.pem").error()), ConfigErrc::not_a_uri);
  EXPECT_EQ(code(file_uri_to_path("file://certs/ca.pem").error()), ConfigErrc::remote_file_uri);
  EXPECT_EQ(code(file_uri_to_path("pkcs11:object=k?pin-value=1").error()),
            ConfigErrc::unsupported_scheme);
  EXPECT_EQ(code(file_uri_to_path("https://example.com/ca.pem").error()),
            ConfigErrc::unsupported_scheme);
  EXPECT_EQ(code(file_uri_to_path("file:///a%2").error()), ConfigErrc::bad_uri_path);
  EXPECT_EQ(code(file_uri_to_path("file:///a%zz").error()), ConfigErrc::bad_uri_path);
  EXPECT_EQ(code(file_uri_to_path("file:///a%00b").error()), ConfigErrc::bad_uri_path);
  EXPECT_EQ(code(file_uri_to_path("file:///a?x=1").error()), ConfigErrc::bad_uri_path);
  EXPECT_EQ(code(file_uri_to_path("file://localhost").error()), ConfigErrc::bad_uri_path);
  EXPECT_EQ(code(file_uri_to_path("").error()), ConfigErrc::bad_uri_path);
}

TEST(ConnectionString, ParsesDeviceString) {
  const std::string cs =
      std::string("HostName=hub.azure-devices.net;DeviceId=gw-1;SharedAccessKey=") + kKey;
  auto r = parse_device_connection_string(cs);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->host_name, "hub.azure-devices.net");
  EXPECT_FALSE(r->port);
  EXPECT_EQ(r->device_id, "gw-1");
  EXPECT_EQ(r->shared_access_key, kKey);  // the '=' padding survives: split at the first '='
}

TEST(ConnectionString, HostNameMayCarryAPortForDialingOnly) {
  auto r = parse_device_connection_string(
      std::string("HostName=localhost:18883;DeviceId=gw;SharedAccessKey=") + kKey + ";");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->host_name, "localhost");
  EXPECT_EQ(r->port, 18883);
  EXPECT_EQ(code(parse_device_connection_string(
                     std::string("HostName=h:0;DeviceId=gw;SharedAccessKey=") + kKey)
                     .error()),
            ConfigErrc::bad_port);
  EXPECT_EQ(code(parse_device_connection_string(
                     std::string("HostName=h:99999;DeviceId=gw;SharedAccessKey=") + kKey)
                     .error()),
            ConfigErrc::bad_port);
}

TEST(ConnectionString, RepeatedKeyKeepsTheLastAndEmptySegmentsAreSkipped) {
  auto r = parse_device_connection_string(std::string(";DeviceId=old;;HostName=h.net;DeviceId=new;"
                                                      "SharedAccessKey=") +
                                          kKey);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->device_id, "new");
}

TEST(ConnectionString, GatewayHostNameIsKept) {
  auto r = parse_device_connection_string(
      std::string("HostName=h.net;DeviceId=d;SharedAccessKey=") + kKey + ";GatewayHostName=gw");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->gateway_host_name, "gw");
}

TEST(ConnectionString, RejectsWithAReasonPerMistake) {
  const std::string key = std::string(";SharedAccessKey=") + kKey;
  const auto err = [](const std::string& s) {
    return code(parse_device_connection_string(s).error());
  };
  EXPECT_EQ(err("HostName=h.net;DeviceId=d;garbage"), ConfigErrc::malformed_segment);
  EXPECT_EQ(err("HostName=h.net;DeviceId=d;=x"), ConfigErrc::malformed_segment);
  EXPECT_EQ(err("HostName=h.net;DeviceId=d;Foo=1" + key),
            ConfigErrc::unknown_connection_string_key);
  EXPECT_EQ(err("hostname=h.net;DeviceId=d" + key), ConfigErrc::unknown_connection_string_key);
  EXPECT_EQ(err("DeviceId=d" + key), ConfigErrc::missing_host_name);
  EXPECT_EQ(err("HostName=;DeviceId=d" + key), ConfigErrc::missing_host_name);
  EXPECT_EQ(err("HostName=h.net" + key), ConfigErrc::missing_device_id);
  EXPECT_EQ(err("HostName=h.net;DeviceId=d"), ConfigErrc::missing_shared_access_key);
  EXPECT_EQ(err("HostName=h.net;DeviceId=d;ModuleId=m" + key), ConfigErrc::module_id_not_allowed);
  EXPECT_EQ(err("HostName=h.net;DeviceId=d;SharedAccessSignature=SharedAccessSignature sr=x"),
            ConfigErrc::sas_token_not_allowed);
  EXPECT_EQ(err("HostName=h.net;DeviceId=d;x509=true"), ConfigErrc::x509_not_allowed);
  EXPECT_EQ(err("HostName=h.net;SharedAccessKeyName=iothubowner" + key),
            ConfigErrc::policy_key_not_allowed);
  EXPECT_EQ(err("HostName=h.net;DeviceId=d;SharedAccessKey=not*base64"), ConfigErrc::bad_base64);
  EXPECT_EQ(err("HostName=h.net;DeviceId=d;SharedAccessKey=dGVzdA=="), ConfigErrc::bad_key_length);
  EXPECT_EQ(err("HostName=bad_host;DeviceId=d" + key), ConfigErrc::bad_host);
  EXPECT_EQ(err("HostName=h.net;DeviceId=d;GatewayHostName=not valid" + key),
            ConfigErrc::bad_gateway_host_name);
  EXPECT_EQ(err(""), ConfigErrc::missing_host_name);
}

TEST(ConnectionString, ErrorMessagesNeverContainTheKey) {
  const std::string cs =
      std::string("HostName=h.net;DeviceId=d;ModuleId=m;SharedAccessKey=") + kKey;
  const auto r = parse_device_connection_string(cs);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().find(kKey), std::string::npos);
  EXPECT_STREQ(r.error().category().name(), "edgehub.config");
}

TEST(SasKey, ChecksBase64AndLength) {
  EXPECT_TRUE(validate_sas_key(kKey));
  EXPECT_TRUE(validate_sas_key("AAAAAAAAAAAAAAAAAAAAAA=="));  // 16 bytes
  EXPECT_EQ(code(validate_sas_key("AAAAAAAAAAAAAAAAAAAAAA=").error()), ConfigErrc::bad_base64);
  EXPECT_EQ(code(validate_sas_key("AAAAAAAAAAAAAAAAAAAAAR==").error()), ConfigErrc::bad_base64);
  EXPECT_EQ(code(validate_sas_key("AAAA AAAAAAAAAAAAAAAAAA=").error()), ConfigErrc::bad_base64);
  EXPECT_EQ(code(validate_sas_key("").error()), ConfigErrc::bad_base64);
  EXPECT_EQ(code(validate_sas_key("AAAAAAAAAAAAAAAAAAAA").error()), ConfigErrc::bad_key_length);
  EXPECT_EQ(code(validate_sas_key(std::string(88, 'A')).error()), ConfigErrc::bad_key_length);
}

}  // namespace
}  // namespace edgehub::config
