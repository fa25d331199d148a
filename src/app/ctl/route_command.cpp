// edgehubctl route test: evaluates a route or a condition against a message described in JSON,
// with exactly the engine edgehubd routes with (docs/routing-language.md).

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "app/ctl/commands.hpp"
#include "edgehub/core/message.hpp"
#include "edgehub/routing/condition.hpp"
#include "edgehub/routing/route_table.hpp"

namespace edgehub::app::ctl {
namespace {

constexpr const char* kDefaultEdgeDeviceId = "edge";

void print_route_usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: edgehubctl route test (--route TEXT | --condition TEXT) [--message FILE|-]\n"
      "                             [--edge-device-id ID]\n"
      "       edgehubctl route test --batch [--edge-device-id ID] < cases.jsonl\n\n"
      "Evaluates a route or a WHERE condition against one message, as edgehubd would.\n"
      "--condition prints true, false, undefined or 'compile_error: <message>';\n"
      "--route prints 'true <endpoint>' when the route fires, false when it does not,\n"
      "or 'compile_error: <message>'. Module endpoints are named\n"
      "<edge-device-id>/<module>/<input> (default edge device id: %s).\n\n"
      "Message JSON (every field optional):\n"
      "  {\"source\": \"telemetry\" | \"twinChangeNotifications\",\n"
      "   \"body\": \"text\" | null, \"body_base64\": \"exact bytes, wins over body\",\n"
      "   \"system_properties\": {\"contentType\": \"application/json\", ...},\n"
      "   \"properties\": {\"name\": \"value\" | null, ...}}\n"
      "A telemetry message's source path follows from its connectionModuleId and\n"
      "outputName. --batch reads JSON Lines {\"condition\"|\"route\": ..., \"message\": {...}}\n"
      "and prints one result per line.\n\n"
      "exit codes: 0 evaluated (whatever the result), 1 unreadable input, 64 usage\n",
      kDefaultEdgeDeviceId);
}

std::optional<std::string> decode_base64(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    const int v = value(in[i]);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  for (; i < in.size(); ++i) {
    if (in[i] != '=') return std::nullopt;
  }
  return out;
}

// Builds the message the route engine sees; false with a reason when the JSON is not one.
bool message_from_json(const nlohmann::json& j, core::Message& m, std::string& error) {
  if (j.is_null()) return true;
  if (!j.is_object()) {
    error = "\"message\" must be a JSON object";
    return false;
  }
  if (auto it = j.find("source"); it != j.end()) {
    if (*it == "telemetry") {
      m.kind = core::MessageKind::telemetry;
    } else if (*it == "twinChangeNotifications") {
      m.kind = core::MessageKind::twin_change_notification;
    } else {
      error = "\"source\" must be \"telemetry\" or \"twinChangeNotifications\"";
      return false;
    }
  }
  if (auto it = j.find("body_base64"); it != j.end() && !it->is_null()) {
    const auto bytes = it->is_string() ? decode_base64(it->get<std::string>()) : std::nullopt;
    if (!bytes) {
      error = "\"body_base64\" must be a base64 string";
      return false;
    }
    m.set_body(*bytes);
  } else if (auto b = j.find("body"); b != j.end() && !b->is_null()) {
    if (!b->is_string()) {
      error = "\"body\" must be a string or null (use body_base64 for exact bytes)";
      return false;
    }
    m.set_body(b->get<std::string>());
  }
  if (auto it = j.find("system_properties"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) {
      error = "\"system_properties\" must be an object";
      return false;
    }
    for (const auto& [name, value] : it->items()) {
      if (!value.is_null() && !value.is_string()) {
        error = "system property \"" + name + "\" must be a string or null";
        return false;
      }
      // Names edgehubd does not model cannot reach its router from any protocol head, so they
      // are ignored here too; null means absent (system properties have no null value).
      const auto p = core::find_system_property(name);
      if (!p || value.is_null()) continue;
      m.sys_prop(*p) = value.get<std::string>();
    }
  }
  if (const auto& module = m.sys_prop(core::SystemProperty::connection_module_id)) {
    m.origin.module = *module;
  }
  if (const auto& device = m.sys_prop(core::SystemProperty::connection_device_id)) {
    m.origin.device = *device;
  }
  if (auto it = j.find("properties"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) {
      error = "\"properties\" must be an object";
      return false;
    }
    for (const auto& [name, value] : it->items()) {
      if (!value.is_null() && !value.is_string()) {
        error = "property \"" + name + "\" must be a string or null (property values are strings)";
        return false;
      }
      m.set_app(name, value.is_null() ? std::nullopt
                                      : std::optional<std::string>(value.get<std::string>()));
    }
  }
  return true;
}

std::string evaluate_condition(const std::string& text, const core::Message& m) {
  routing::CompileOptions options;
  options.twin_change_source = m.kind == core::MessageKind::twin_change_notification;
  routing::CompileError error;
  auto condition = routing::Condition::compile(text, options, &error);
  if (!condition) return "compile_error: " + error.to_string();
  return std::string(routing::to_string(condition->evaluate(m)));
}

std::string evaluate_route(const std::string& text, const core::Message& m,
                           const std::string& edge_device_id) {
  routing::CompileError error;
  auto route = routing::Route::compile(text, edge_device_id, &error);
  if (!route) return "compile_error: " + error.to_string();
  routing::EvalContext context;
  context.bind(m);
  if (!route->fires(context)) return "false";
  return "true " + route->endpoint().id;
}

std::optional<std::string> read_all(const std::string& path) {
  if (path == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int run_batch(const std::string& edge_device_id) {
  std::string line;
  std::size_t number = 0;
  bool unreadable = false;
  while (std::getline(std::cin, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    std::string error;
    core::Message m;
    std::string result;
    if (j.is_discarded() || !j.is_object()) {
      error = "not a JSON object";
    } else if (!message_from_json(j.value("message", nlohmann::json()), m, error)) {
      // error set
    } else if (auto c = j.find("condition"); c != j.end() && c->is_string()) {
      result = evaluate_condition(c->get<std::string>(), m);
    } else if (auto r = j.find("route"); r != j.end() && r->is_string()) {
      result = evaluate_route(r->get<std::string>(), m, edge_device_id);
    } else {
      error = "needs a \"condition\" or \"route\" string";
    }
    if (!error.empty()) {
      unreadable = true;
      result = "error: line " + std::to_string(number) + ": " + error;
    }
    std::fwrite(result.data(), 1, result.size(), stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
  return unreadable ? kExitFailure : kExitOk;
}

}  // namespace

int run_route(Args args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    print_route_usage(args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] != "test") {
    std::fprintf(stderr, "edgehubctl route: unknown subcommand '%s'\n\n", args[0].c_str());
    print_route_usage(stderr);
    return kExitUsage;
  }
  std::optional<std::string> route_text, condition_text, message_file;
  std::string edge_device_id = kDefaultEdgeDeviceId;
  bool batch = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    std::optional<std::string>* target = nullptr;
    if (a == "--route") {
      target = &route_text;
    } else if (a == "--condition") {
      target = &condition_text;
    } else if (a == "--message") {
      target = &message_file;
    } else if (a == "--batch") {
      batch = true;
      continue;
    } else if (a == "--help" || a == "-h") {
      print_route_usage(stdout);
      return kExitOk;
    } else if (a == "--edge-device-id") {
      auto v = value();
      if (!v || v->empty()) {
        std::fprintf(stderr, "edgehubctl route test: --edge-device-id needs a value\n");
        return kExitUsage;
      }
      edge_device_id = *v;
      continue;
    } else {
      std::fprintf(stderr, "edgehubctl route test: unknown option '%s'\n\n", a.c_str());
      print_route_usage(stderr);
      return kExitUsage;
    }
    auto v = value();
    if (!v) {
      std::fprintf(stderr, "edgehubctl route test: %s needs a value\n", a.c_str());
      return kExitUsage;
    }
    *target = *v;
  }
  if (batch) {
    if (route_text || condition_text || message_file) {
      std::fprintf(stderr, "edgehubctl route test: --batch takes its cases from stdin only\n");
      return kExitUsage;
    }
    return run_batch(edge_device_id);
  }
  if (route_text.has_value() == condition_text.has_value()) {
    std::fprintf(stderr, "edgehubctl route test: give exactly one of --route and --condition\n\n");
    print_route_usage(stderr);
    return kExitUsage;
  }
  core::Message m;
  if (message_file) {
    const auto text = read_all(*message_file);
    if (!text) {
      std::fprintf(stderr, "edgehubctl route test: cannot read %s\n", message_file->c_str());
      return kExitFailure;
    }
    const auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    std::string error;
    if (j.is_discarded()) {
      std::fprintf(stderr, "edgehubctl route test: %s is not JSON\n", message_file->c_str());
      return kExitFailure;
    }
    if (!message_from_json(j, m, error)) {
      std::fprintf(stderr, "edgehubctl route test: %s: %s\n", message_file->c_str(), error.c_str());
      return kExitFailure;
    }
  }
  const std::string result = condition_text ? evaluate_condition(*condition_text, m)
                                            : evaluate_route(*route_text, m, edge_device_id);
  std::printf("%s\n", result.c_str());
  return kExitOk;
}

}  // namespace edgehub::app::ctl
