// The aziot part of config.toml: the keys edgehubd shares with an IoT Edge install. Tables that
// belong to other aziot components are recorded and ignored, so one file can serve both.

#include <algorithm>

#include "config/sections.hpp"
#include "edgehub/config/errors.hpp"
#include "edgehub/config/parse.hpp"

namespace edgehub::config::detail {
namespace {

constexpr std::uint32_t kMaxCaDays = 3650;

std::string connection_string_fix(ConfigErrc e) {
  constexpr std::string_view kShow =
      "copy the gateway device's primary connection string from IoT Hub (az iot hub "
      "device-identity connection-string show --device-id <gateway>)";
  switch (e) {
    case ConfigErrc::missing_host_name:
      return "add HostName=<hub>.azure-devices.net, or " + std::string(kShow);
    case ConfigErrc::missing_device_id:
      return "add DeviceId=<gateway device id>, or " + std::string(kShow);
    case ConfigErrc::missing_shared_access_key:
      return "add SharedAccessKey=<base64 key>, or " + std::string(kShow);
    case ConfigErrc::x509_not_allowed:
      return "replace connection_string with iothub_hostname, device_id and "
             "[provisioning.authentication] method = \"x509\"";
    case ConfigErrc::bad_port:
    case ConfigErrc::bad_host:
      return "write HostName=<hub>.azure-devices.net (optionally :port)";
    default:
      return std::string(kShow);
  }
}

void read_authentication(Reader& r, const toml::table& auth, const std::string& prefix,
                         ProvisioningConfig& p) {
  r.check_keys(auth, prefix, {"method", "device_id_pk", "identity_cert", "identity_pk"},
               Severity::error);
  const auto method_field = Reader::field(auth, prefix, "method");
  if (!method_field) {
    r.error(Reader::line_of(auth), prefix + ".method", "missing",
            "add method = \"sas\" (with device_id_pk) or method = \"x509\" (with identity_cert "
            "and identity_pk)");
    return;
  }
  const auto method = r.enumeration<ProvisioningAuth>(
      method_field, {{"sas", ProvisioningAuth::sas}, {"x509", ProvisioningAuth::x509}},
      {"sas", "x509"});
  if (!method) return;
  p.method = *method;
  if (*method == ProvisioningAuth::sas) {
    const auto pk = Reader::field(auth, prefix, "device_id_pk");
    if (!pk) {
      r.error(method_field.line, prefix + ".device_id_pk",
              "missing; method \"sas\" needs the device key",
              "add device_id_pk = { value = \"<base64 key>\" } or device_id_pk = { uri = "
              "\"file:///absolute/path\" }");
      return;
    }
    if (auto key = r.secret_key(pk, false)) p.sas_key = std::move(*key);
    return;
  }
  for (const auto name : {"identity_cert", "identity_pk"}) {
    const auto f = Reader::field(auth, prefix, name);
    if (!f) {
      r.error(method_field.line, prefix + "." + name, "missing; method \"x509\" needs it",
              std::string("add ") + name + " = \"file:///absolute/path\"");
      continue;
    }
    if (auto path = r.file_uri(f)) {
      (std::string_view(name) == "identity_cert" ? p.identity_cert : p.identity_pk) = *path;
    }
  }
}

void read_provisioning(Reader& r, const toml::table& t, GatewayConfig& out) {
  const std::size_t errors_before = r.error_count();
  const std::string prefix = "provisioning";
  if (const auto source = Reader::field(t, prefix, "source")) {
    const auto text = r.string(source);
    if (!text) return;
    if (*text == "dps") {
      r.error(
          source,
          "source \"dps\" (Device Provisioning Service) is not supported by edgehubd, use manual",
          "provision the device once, then write source = \"manual\" with its "
          "connection_string (or iothub_hostname, device_id and [provisioning.authentication])");
      return;
    }
    if (*text != "manual") {
      r.error(source, "source \"" + *text + "\" is not supported by edgehubd; allowed: manual",
              "write source = \"manual\" with a connection_string (or iothub_hostname, device_id "
              "and [provisioning.authentication])");
      return;
    }
  }
  r.check_keys(t, prefix,
               {"source", "connection_string", "iothub_hostname", "device_id", "authentication",
                "edgehub_module_key", "always_reprovision_on_startup", "dynamic_reprovisioning"},
               Severity::warning);

  ProvisioningConfig p;
  const auto cs = Reader::field(t, prefix, "connection_string");
  const auto hub = Reader::field(t, prefix, "iothub_hostname");
  const auto device = Reader::field(t, prefix, "device_id");
  const auto auth = Reader::field(t, prefix, "authentication");
  if (cs) {
    if (hub || device || auth) {
      const Field& other = hub ? hub : device ? device : auth;
      r.error(other,
              "connection_string and iothub_hostname/device_id/authentication are two "
              "alternative forms; use one",
              "remove connection_string, or remove iothub_hostname, device_id and "
              "[provisioning.authentication]");
    }
    if (const auto text = r.non_empty_string(cs)) {
      auto parsed = parse_device_connection_string(*text);
      if (!parsed) {
        // Only the error text: the string holds the device key.
        const auto e = static_cast<ConfigErrc>(parsed.error().value());
        const bool about_key = e == ConfigErrc::bad_base64 || e == ConfigErrc::bad_key_length;
        const bool about_host = e == ConfigErrc::bad_host || e == ConfigErrc::bad_port;
        r.error(cs,
                std::string(about_key    ? "SharedAccessKey in the connection string: "
                            : about_host ? "HostName in the connection string: "
                                         : "") +
                    parsed.error().message(),
                connection_string_fix(static_cast<ConfigErrc>(parsed.error().value())));
      } else {
        p.iothub_hostname = std::move(parsed->host_name);
        p.iothub_port = parsed->port;
        p.device_id = std::move(parsed->device_id);
        p.method = ProvisioningAuth::sas;
        p.sas_key = std::move(parsed->shared_access_key);
        if (parsed->gateway_host_name) {
          r.warning(cs.line, cs.key, "GatewayHostName is ignored; edgehubd itself is the gateway",
                    "set parent_hostname at the top level for a nested gateway");
        }
      }
    }
  } else {
    const int line = Reader::line_of(t);
    if (!hub) {
      r.error(line, prefix + ".iothub_hostname",
              "missing; [provisioning] needs connection_string, or iothub_hostname + device_id + "
              "[provisioning.authentication]",
              "add iothub_hostname = \"<hub>.azure-devices.net\" or a connection_string");
    } else if (const auto text = r.non_empty_string(hub)) {
      if (text->find(':') != std::string::npos) {
        auto hp = parse_host_port(*text);
        if (!hp || hp->port == 0 || text->front() == ':') {
          r.error(hub, "\"" + *text + "\" is not host or host:port with a port from 1 to 65535",
                  "write iothub_hostname = \"<hub>.azure-devices.net\"");
        } else {
          p.iothub_hostname = hp->host;
          p.iothub_port = hp->port;
        }
      } else if (!is_valid_host(*text)) {
        r.error(hub, "\"" + *text + "\" is not a valid host name",
                "write iothub_hostname = \"<hub>.azure-devices.net\"");
      } else {
        p.iothub_hostname = *text;
      }
    }
    if (!device) {
      r.error(line, prefix + ".device_id", "missing; the gateway's IoT Hub device id is required",
              "add device_id = \"<gateway device id>\"");
    } else if (const auto text = r.non_empty_string(device)) {
      if (!is_valid_device_id(*text)) {
        r.error(device,
                "\"" + *text +
                    "\" is not a valid IoT Hub device id (1-128 letters, digits "
                    "and - . % _ * ? ! ( ) , : = @ $ ')",
                "use the device id exactly as registered in IoT Hub");
      } else {
        p.device_id = *text;
      }
    }
    if (!auth) {
      r.error(line, prefix + ".authentication", "missing; iothub_hostname + device_id need it",
              "add a [provisioning.authentication] table with method = \"sas\" or \"x509\"");
    } else if (const auto* a = r.table(auth)) {
      read_authentication(r, *a, auth.key, p);
    }
  }
  if (const auto key = Reader::field(t, prefix, "edgehub_module_key")) {
    if (auto value = r.secret_key(key, true)) p.edgehub_module_key = std::move(*value);
  }
  if (r.error_count() == errors_before) out.provisioning = std::move(p);
}

void read_edge_ca(Reader& r, const toml::table& t, GatewayConfig& out) {
  const std::string prefix = "edge_ca";
  for (const auto name : {"method", "url"}) {
    if (const auto f = Reader::field(t, prefix, name)) {
      r.error(f, "certificate issuance by EST or another service is not supported by edgehubd",
              "give cert and pk files, or auto_generated_edge_ca_expiry_days for a quickstart CA");
    }
  }
  r.check_keys(t, prefix, {"cert", "pk", "auto_generated_edge_ca_expiry_days", "method", "url"},
               Severity::warning);
  const auto cert = Reader::field(t, prefix, "cert");
  const auto pk = Reader::field(t, prefix, "pk");
  const auto days = Reader::field(t, prefix, "auto_generated_edge_ca_expiry_days");
  if (cert) out.edge_ca.cert = r.file_uri(cert);
  if (pk) out.edge_ca.pk = r.file_uri(pk);
  if (cert && !pk) {
    r.error(cert.line, "edge_ca.pk",
            "missing; [edge_ca] cert is set, so pk (its private key) is required",
            "add pk = \"file:///absolute/path/to/edge-ca.key.pem\"");
  } else if (pk && !cert) {
    r.error(pk.line, "edge_ca.cert", "missing; [edge_ca] pk is set, so cert is required",
            "add cert = \"file:///absolute/path/to/edge-ca.cert.pem\" (the full chain)");
  }
  if (days) {
    if (cert || pk) {
      r.error(days, "auto_generated_edge_ca_expiry_days applies only without cert and pk",
              "remove auto_generated_edge_ca_expiry_days, or remove cert and pk");
    } else {
      out.edge_ca.auto_generated_expiry_days = r.u32(days, 1, kMaxCaDays);
    }
  }
}

}  // namespace

void read_aziot(Reader& r, const toml::table& root, GatewayConfig& out) {
  const std::initializer_list<std::string_view> kOwnTables = {"provisioning", "edge_ca", "gateway"};
  struct Ignored {
    std::string name;
    int line;
  };
  std::vector<Ignored> ignored;
  for (const auto& [k, v] : root) {
    const std::string_view name = k.str();
    if (name == "hostname" || name == "parent_hostname" || name == "trust_bundle_cert" ||
        std::find(kOwnTables.begin(), kOwnTables.end(), name) != kOwnTables.end()) {
      continue;
    }
    const auto f = Reader::field(root, "", name);
    const bool is_table = v.is_table() || v.is_array_of_tables();
    const auto near =
        is_table ? closest_match(name, kOwnTables)
                 : closest_match(name, {"hostname", "parent_hostname", "trust_bundle_cert"});
    if (!near.empty() && is_table) {
      r.error(f, "unknown table; did you mean [" + near + "]?",
              "rename [" + std::string(name) + "] to [" + near + "]");
    } else if (!near.empty()) {
      r.warning(f.line, f.key, "not used by edgehubd and ignored; did you mean '" + near + "'?",
                "rename '" + std::string(name) + "' to '" + near + "'");
    } else if (is_table) {
      ignored.push_back({std::string(name), f.line});
    }
  }
  std::stable_sort(ignored.begin(), ignored.end(),
                   [](const Ignored& a, const Ignored& b) { return a.line < b.line; });
  for (auto& i : ignored)
    out.ignored_tables.push_back(std::move(i.name));

  if (const auto f = Reader::field(root, "", "hostname"); !f) {
    r.error(1, "hostname",
            "missing; the gateway's DNS name (the server certificate's name, what devices put in "
            "GatewayHostName) is required",
            "add hostname = \"gw.example.local\" at the top of the file, before any [table]");
  } else if (const auto text = r.non_empty_string(f)) {
    if (text->find(':') != std::string::npos && !is_ip_literal(*text)) {
      r.error(f, "\"" + *text + "\": a host name has no port", "remove the :port part");
    } else if (!is_valid_host(*text)) {
      r.error(f, "\"" + *text + "\" is not a valid host name (letters, digits, '-' and '.')",
              "write the name devices use to reach the gateway, e.g. \"gw.example.local\"");
    } else {
      out.hostname = *text;
    }
  }
  if (const auto f = Reader::field(root, "", "parent_hostname")) {
    if (const auto text = r.non_empty_string(f)) {
      if (!is_valid_host(*text)) {
        r.error(f, "\"" + *text + "\" is not a valid host name",
                "write the parent gateway's hostname, e.g. \"parent.example.local\"");
      } else {
        out.parent_hostname = *text;
      }
    }
  }
  if (const auto f = Reader::field(root, "", "trust_bundle_cert")) {
    out.trust_bundle_cert = r.file_uri(f);
  }
  if (const auto f = Reader::field(root, "", "provisioning")) {
    if (const auto* t = r.table(f)) read_provisioning(r, *t, out);
  }
  if (const auto f = Reader::field(root, "", "edge_ca")) {
    if (const auto* t = r.table(f)) read_edge_ca(r, *t, out);
  }
}

}  // namespace edgehub::config::detail
