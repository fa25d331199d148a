#pragma once

// The loader's private toolkit: typed access to toml++ nodes that records a ConfigIssue (with
// the key's line) instead of failing, so one pass over the file finds every problem. toml++
// types stay in src/config; nothing here is public.

#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/config/load.hpp"

namespace edgehub::config::detail {

/// One key of a table as found in the file: its value node, dotted name and line.
struct Field {
  const toml::node* node = nullptr;
  std::string key;
  int line = 0;
  int column = 0;
  explicit operator bool() const noexcept { return node != nullptr; }
};

/// Closest candidate to `word` by edit distance (case-insensitive), or empty when none is close
/// enough to be a plausible typo.
std::string closest_match(std::string_view word,
                          std::initializer_list<std::string_view> candidates);

/// IoT Hub's device id rule: 1 to 128 ASCII letters, digits and - . % _ * ? ! ( ) , : = @ $ '
bool is_valid_device_id(std::string_view id) noexcept;

/// "a, b or c" for messages that list the allowed values.
std::string join_alternatives(std::initializer_list<std::string_view> values);

/// Reads a file of at most `max_bytes`; refuses anything but a regular file so that a URI such
/// as file:///dev/zero cannot hang the loader. Returns an operator-facing reason on failure.
std::optional<std::string> read_bounded_file(const std::filesystem::path& path,
                                             std::size_t max_bytes, std::string& reason);

class Reader {
 public:
  Reader(std::filesystem::path file, std::vector<ConfigIssue>& issues)
      : file_(std::move(file)), issues_(issues) {}

  const std::filesystem::path& file() const noexcept { return file_; }

  void error(int line, std::string key, std::string reason, std::string fix);
  void error(const Field& f, std::string reason, std::string fix);
  void warning(int line, std::string key, std::string reason, std::string fix);
  std::size_t error_count() const noexcept { return errors_; }

  /// The key `name` of `table`, named `prefix.name`; an empty Field when absent.
  static Field field(const toml::table& table, std::string_view prefix, std::string_view name);
  /// The line of a table's header (at least 1).
  static int line_of(const toml::node& node) noexcept;

  /// Reports every key of `table` not in `known`: an error for edgehubd's own tables, a warning
  /// for aziot tables that may carry keys meant for other IoT Edge components.
  void check_keys(const toml::table& table, std::string_view prefix,
                  std::initializer_list<std::string_view> known, Severity severity);

  /// Typed reads: each reports a wrong type (and, for numbers, a range) and returns nullopt.
  std::optional<std::string> string(const Field& f);
  std::optional<std::string> non_empty_string(const Field& f);
  std::optional<bool> boolean(const Field& f);
  std::optional<std::int64_t> integer(const Field& f, std::int64_t min, std::int64_t max);
  std::optional<std::uint32_t> u32(const Field& f, std::uint32_t min,
                                   std::uint32_t max = UINT32_MAX);
  const toml::table* table(const Field& f);

  /// Reads `f` as one of `names` (case-insensitive); reports the allowed values otherwise.
  template <typename E>
  std::optional<E> enumeration(const Field& f,
                               std::initializer_list<std::pair<std::string_view, E>> names,
                               std::initializer_list<std::string_view> shown);

  /// A listen/connect address: "host:port", or "" (disabled) when `allow_disable`.
  /// Returns false on error; `out` is left unchanged then.
  bool endpoint(const Field& f, bool allow_disable, std::optional<HostPort>& out);
  /// A file:// URI naming an absolute path.
  std::optional<std::filesystem::path> file_uri(const Field& f);
  /// An absolute directory path, written plainly or as a file:// URI.
  std::optional<std::filesystem::path> absolute_path(const Field& f);
  /// A symmetric key written as a base64 string, or as { value = "base64" } / { uri = "file://" }
  /// (aziot's forms). Never puts the key into a message.
  std::optional<std::string> secret_key(const Field& f, bool allow_plain_string);

 private:
  bool enum_match(std::string_view text, std::string_view name) const noexcept;
  void wrong_type(const Field& f, std::string_view expected, std::string fix);

  std::filesystem::path file_;
  std::vector<ConfigIssue>& issues_;
  std::size_t errors_ = 0;
};

std::string_view type_name(const toml::node& node) noexcept;

template <typename E>
std::optional<E> Reader::enumeration(const Field& f,
                                     std::initializer_list<std::pair<std::string_view, E>> names,
                                     std::initializer_list<std::string_view> shown) {
  const auto text = string(f);
  if (!text) return std::nullopt;
  for (const auto& [name, value] : names) {
    if (enum_match(*text, name)) return value;
  }
  std::string reason = "unknown value \"" + *text + "\"; allowed: " + join_alternatives(shown);
  const auto near = closest_match(*text, shown);
  std::string fix = near.empty() ? "use one of " + join_alternatives(shown)
                                 : "did you mean \"" + near + "\"? write " +
                                       f.key.substr(f.key.rfind('.') + 1) + " = \"" + near + "\"";
  error(f, std::move(reason), std::move(fix));
  return std::nullopt;
}

}  // namespace edgehub::config::detail
