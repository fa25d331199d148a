#include "edgehub/config/load.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <exception>

#include "config/reader.hpp"
#include "config/sections.hpp"

namespace edgehub::config {
namespace {

constexpr std::size_t kMaxConfigBytes = 1024 * 1024;

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  return s;
}

std::string_view trim(std::string_view s) {
  s = trim_left(s);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool is_bare_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

// toml++ reports where a syntax error is, not which key; the operator wants the key. Read it
// back from the text: the table header in force at that line plus the key on the line itself.
std::string key_at_line(std::string_view text, int line) {
  std::string table;
  int n = 1;
  while (n <= line && !text.empty()) {
    const auto eol = text.find('\n');
    const auto current = trim_left(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    if (current.starts_with('[')) {
      auto header = current.substr(current.starts_with("[[") ? 2 : 1);
      header = trim(header.substr(0, header.find(']')));
      if (n == line) return header.empty() ? "toml" : std::string(header);
      table = std::string(header);
    } else if (n == line) {
      std::size_t len = 0;
      while (len < current.size() && is_bare_key_char(current[len]))
        ++len;
      const auto key = current.substr(0, len);
      if (key.empty()) break;
      return table.empty() ? std::string(key) : table + "." + std::string(key);
    }
    ++n;
  }
  return table.empty() ? "toml" : table;
}

}  // namespace

std::string ConfigIssue::to_string() const {
  std::string out = file.string();
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  out += reason;
  return out;
}

bool has_errors(const std::vector<ConfigIssue>& issues) noexcept {
  return std::any_of(issues.begin(), issues.end(),
                     [](const ConfigIssue& i) { return i.severity == Severity::error; });
}

std::optional<GatewayConfig> parse_config(std::string_view text, const std::filesystem::path& file,
                                          std::vector<ConfigIssue>& issues) {
  const std::size_t first = issues.size();
  detail::Reader reader(file, issues);
  GatewayConfig config;
  config.source_file = file;
  // toml++ is built with exceptions; they stop here so callers (and the SIGHUP path) only ever
  // see issues.
  try {
    const toml::table root = toml::parse(text, file.string());
    detail::read_aziot(reader, root, config);
    const bool provisioning_declared = root.contains("provisioning");
    detail::read_gateway(reader, root, provisioning_declared, config);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    const int line = static_cast<int>(where.line);
    issues.push_back(ConfigIssue{
        file, line, static_cast<int>(where.column), key_at_line(text, line),
        "TOML syntax error at column " + std::to_string(where.column) + ": " +
            std::string(e.description()),
        "fix the syntax on this line (strings need double quotes, tables are [name], one key per "
        "line)",
        Severity::error});
  } catch (const std::exception& e) {
    issues.push_back(ConfigIssue{file, 0, 0, "",
                                 std::string("cannot read the configuration: ") + e.what(),
                                 "check the file is a readable TOML file", Severity::error});
  }
  // Report in file order; issues without a line (none today) last.
  std::stable_sort(issues.begin() + static_cast<std::ptrdiff_t>(first), issues.end(),
                   [](const ConfigIssue& a, const ConfigIssue& b) {
                     const int la = a.line > 0 ? a.line : INT32_MAX;
                     const int lb = b.line > 0 ? b.line : INT32_MAX;
                     return la < lb;
                   });
  const bool failed =
      std::any_of(issues.begin() + static_cast<std::ptrdiff_t>(first), issues.end(),
                  [](const ConfigIssue& i) { return i.severity == Severity::error; });
  if (failed) return std::nullopt;
  return config;
}

std::optional<GatewayConfig> load_config(const std::filesystem::path& file,
                                         std::vector<ConfigIssue>& issues) {
  std::string reason;
  const auto text = detail::read_bounded_file(file, kMaxConfigBytes, reason);
  if (!text) {
    issues.push_back(ConfigIssue{file, 0, 0, "", std::move(reason),
                                 "pass the right file with --config PATH, or create it",
                                 Severity::error});
    return std::nullopt;
  }
  return parse_config(*text, file, issues);
}

}  // namespace edgehub::config
