// edgehubctl import-deployment FILE: turns a deployment manifest's $edgeHub desired properties
// (schema 1.0-1.3, reference §3.1 and §7.1) into the [gateway.routes] / [gateway.store] TOML of
// design.md §4, checking every route with the route compiler edgehubd uses.

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "app/ctl/commands.hpp"
#include "edgehub/routing/route_table.hpp"

namespace edgehub::app::ctl {
namespace {

void print_import_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: edgehubctl import-deployment FILE|-\n\n"
               "Reads a deployment manifest (or just its $edgeHub desired properties) and\n"
               "prints the equivalent [gateway.store] and [gateway.routes] TOML on stdout.\n"
               "Routes that do not compile are reported on stderr with their names.\n\n"
               "exit codes: 0 converted, 1 invalid routes or manifest, 64 usage\n");
}

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string toml_key(std::string_view s) {
  bool bare = !s.empty();
  for (const char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    bare = bare && ok;
  }
  return bare ? std::string(s) : toml_string(s);
}

// The $edgeHub desired properties, wherever the file keeps them: a full manifest (optionally
// under "content", as `az iot edge deployment` writes it), or the desired properties alone.
const nlohmann::ordered_json* find_desired(const nlohmann::ordered_json& j) {
  if (!j.is_object()) return nullptr;
  if (j.contains("routes") || j.contains("schemaVersion")) return &j;
  for (const char* root : {"content", ""}) {
    const nlohmann::ordered_json* base = &j;
    if (*root != '\0') {
      auto it = j.find(root);
      if (it == j.end() || !it->is_object()) continue;
      base = &*it;
    }
    for (const char* mc : {"modulesContent", "moduleContent"}) {
      auto m = base->find(mc);
      if (m == base->end() || !m->is_object()) continue;
      auto hub = m->find("$edgeHub");
      if (hub == m->end() || !hub->is_object()) continue;
      auto desired = hub->find("properties.desired");
      if (desired != hub->end() && desired->is_object()) return &*desired;
    }
  }
  return nullptr;
}

struct Imported {
  std::string name;
  std::string text;
  std::optional<std::uint8_t> priority;
  std::optional<std::uint32_t> ttl;
};

}  // namespace

int run_import_deployment(Args args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    print_import_usage(args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args.size() != 1 || (args[0].size() > 1 && args[0][0] == '-')) {
    if (args[0].size() > 1 && args[0][0] == '-') {
      std::fprintf(stderr, "edgehubctl import-deployment: unknown option '%s'\n\n",
                   args[0].c_str());
    }
    print_import_usage(stderr);
    return kExitUsage;
  }
  const std::string& file = args[0];
  std::string text;
  if (file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "edgehubctl import-deployment: cannot read %s\n", file.c_str());
      return kExitFailure;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  const auto j = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    std::fprintf(stderr, "edgehubctl import-deployment: %s is not valid JSON\n", file.c_str());
    return kExitFailure;
  }
  const nlohmann::ordered_json* desired = find_desired(j);
  if (desired == nullptr) {
    std::fprintf(stderr,
                 "edgehubctl import-deployment: %s has no $edgeHub desired properties "
                 "(modulesContent.$edgeHub[\"properties.desired\"])\n",
                 file.c_str());
    return kExitFailure;
  }

  std::vector<std::string> problems;
  // schemaVersion: major 1, minor 0-3 (EdgeHubConfigParser).
  int minor = -1;
  if (auto v = desired->find("schemaVersion"); v != desired->end() && v->is_string()) {
    const std::string s = v->get<std::string>();
    if (s.size() >= 3 && s[0] == '1' && s[1] == '.' && s[2] >= '0' && s[2] <= '3' &&
        (s.size() == 3 || s[3] == '.')) {
      minor = s[2] - '0';
    } else {
      problems.push_back("schemaVersion '" + s + "' is not supported (1.0 to 1.3)");
    }
  } else {
    problems.push_back("schemaVersion is missing (1.0 to 1.3)");
  }

  std::vector<Imported> routes;
  if (auto r = desired->find("routes"); r != desired->end()) {
    if (!r->is_object()) {
      problems.push_back("routes must be an object of name: route");
    } else {
      for (const auto& [name, value] : r->items()) {
        Imported route{name, {}, {}, {}};
        if (value.is_string()) {
          route.text = value.get<std::string>();
        } else if (value.is_object() && minor != 0) {
          auto t = value.find("route");
          if (t == value.end() || !t->is_string()) {
            problems.push_back("route '" + name + "': needs a \"route\" string");
            continue;
          }
          route.text = t->get<std::string>();
          if (auto p = value.find("priority"); p != value.end() && !p->is_null()) {
            if (!p->is_number_integer() || p->get<std::int64_t>() < 0 ||
                p->get<std::int64_t>() > routing::kMaxExplicitPriority) {
              problems.push_back("route '" + name + "': priority must be an integer 0 to 9");
              continue;
            }
            route.priority = static_cast<std::uint8_t>(p->get<std::int64_t>());
          }
          if (auto ttl = value.find("timeToLiveSecs"); ttl != value.end() && !ttl->is_null()) {
            if (!ttl->is_number_integer() || ttl->get<std::int64_t>() < 0 ||
                ttl->get<std::int64_t>() > std::numeric_limits<std::uint32_t>::max()) {
              problems.push_back("route '" + name +
                                 "': timeToLiveSecs must be an integer 0 to 4294967295");
              continue;
            }
            if (ttl->get<std::int64_t>() != 0) {
              route.ttl = static_cast<std::uint32_t>(ttl->get<std::int64_t>());
            }
          }
        } else {
          problems.push_back(
              "route '" + name + "': must be a string" +
              (minor == 0 ? " in schema 1.0" : " or {route, priority, timeToLiveSecs}"));
          continue;
        }
        if (name.empty()) {
          problems.push_back("a route has an empty name");
          continue;
        }
        routing::CompileError error;
        if (!routing::Route::compile(route.text, "edge", &error)) {
          problems.push_back("route '" + name + "': " + error.to_string());
          continue;
        }
        routes.push_back(std::move(route));
      }
    }
  }

  std::optional<std::int64_t> store_ttl;
  if (auto sf = desired->find("storeAndForwardConfiguration"); sf != desired->end()) {
    if (auto ttl = sf->find("timeToLiveSecs"); sf->is_object() && ttl != sf->end()) {
      if (ttl->is_number_integer()) {
        store_ttl = ttl->get<std::int64_t>();
      } else {
        problems.push_back("storeAndForwardConfiguration.timeToLiveSecs must be an integer");
      }
    }
  }

  std::string out = "# Imported from " + file + " ($edgeHub desired properties";
  if (minor >= 0) out += ", schema 1." + std::to_string(minor);
  out += ")\n\n[gateway.store]\n";
  if (store_ttl) {
    if (*store_ttl < 0) {
      // edgeHub reads a negative TTL as "keep forever"; the largest TTL is the closest.
      out += "time_to_live_secs = 4294967295  # manifest: " + std::to_string(*store_ttl) +
             " (never expire)\n";
    } else if (*store_ttl > std::numeric_limits<std::uint32_t>::max()) {
      out += "time_to_live_secs = 4294967295\n";
    } else {
      out += "time_to_live_secs = " + std::to_string(*store_ttl) + "\n";
    }
  } else {
    out += "# time_to_live_secs not set in the manifest; edgehubd's default applies\n";
  }
  out += "\n[gateway.routes]\n";
  for (const auto& r : routes) {
    out += toml_key(r.name) + " = ";
    if (!r.priority && !r.ttl) {
      out += toml_string(r.text) + "\n";
      continue;
    }
    out += "{ route = " + toml_string(r.text);
    if (r.priority) out += ", priority = " + std::to_string(*r.priority);
    if (r.ttl) out += ", time_to_live_secs = " + std::to_string(*r.ttl);
    out += " }\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  for (const auto& p : problems) {
    std::fprintf(stderr, "edgehubctl import-deployment: %s\n", p.c_str());
  }
  return problems.empty() ? kExitOk : kExitFailure;
}

}  // namespace edgehub::app::ctl
