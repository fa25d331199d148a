#include "config/reader.hpp"

#include <algorithm>
#include <fstream>
#include <system_error>

#include "config/base64.hpp"
#include "edgehub/config/errors.hpp"
#include "edgehub/config/parse.hpp"

namespace edgehub::config::detail {
namespace {

constexpr std::size_t kMaxSecretFileBytes = 4096;
constexpr std::size_t kMinRawKeyBytes = 16;
constexpr std::size_t kMaxRawKeyBytes = 64;

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return std::string(s);
}

std::string last_segment(std::string_view key) {
  const auto dot = key.rfind('.');
  return std::string(dot == std::string_view::npos ? key : key.substr(dot + 1));
}

// The fix to suggest for a file-URI error; the URI itself is never echoed because some schemes
// (pkcs11:...?pin-value=) carry secrets.
std::string uri_fix(std::string_view leaf, ConfigErrc e) {
  switch (e) {
    case ConfigErrc::relative_path:
    case ConfigErrc::not_a_uri:
      return "write an absolute file URI: " + std::string(leaf) + " = \"file:///absolute/path\"";
    case ConfigErrc::unsupported_scheme:
      return "keep the material in a file and write " + std::string(leaf) +
             " = \"file:///absolute/path\" (PKCS#11 and other key stores are not supported)";
    case ConfigErrc::remote_file_uri:
      return "use three slashes: \"file:///absolute/path\"";
    default:
      return "write " + std::string(leaf) +
             " = \"file:///absolute/path\" with %-escapes only for "
             "special characters";
  }
}

}  // namespace

std::string_view type_name(const toml::node& node) noexcept {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date/time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string closest_match(std::string_view word,
                          std::initializer_list<std::string_view> candidates) {
  std::string best;
  std::size_t best_distance = SIZE_MAX;
  for (const auto candidate : candidates) {
    const auto d = edit_distance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(candidate);
    }
  }
  // A third of the longer word, at least two edits: "stat_dir" -> "state_dir", "metric" ->
  // "metrics", but not "foo" -> "proxy".
  const std::size_t limit = std::max<std::size_t>(2, std::max(word.size(), best.size()) / 3);
  if (best_distance <= limit && best_distance < std::max(word.size(), best.size())) return best;
  // An abbreviation ("prio" for "priority") is as likely a slip as a typo.
  constexpr std::size_t kMinPrefix = 3;
  if (word.size() >= kMinPrefix) {
    for (const auto candidate : candidates) {
      if (candidate.size() > word.size() &&
          edit_distance(candidate.substr(0, word.size()), word) == 0) {
        return std::string(candidate);
      }
    }
  }
  return {};
}

bool is_valid_device_id(std::string_view id) noexcept {
  constexpr std::size_t kMaxDeviceIdLength = 128;
  constexpr std::string_view kPunctuation = "-.%_*?!(),:=@$'";
  if (id.empty() || id.size() > kMaxDeviceIdLength) return false;
  return std::all_of(id.begin(), id.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kPunctuation.find(c) != std::string_view::npos;
  });
}

std::string join_alternatives(std::initializer_list<std::string_view> values) {
  std::string out;
  std::size_t i = 0;
  for (const auto v : values) {
    if (i > 0) out += (i + 1 == values.size()) ? " or " : ", ";
    out += v;
    ++i;
  }
  return out;
}

std::optional<std::string> read_bounded_file(const std::filesystem::path& path,
                                             std::size_t max_bytes, std::string& reason) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    reason =
        "cannot read " + path.string() + ": " + (ec ? ec.message() : std::string("no such file"));
    return std::nullopt;
  }
  if (!std::filesystem::is_regular_file(status)) {
    reason = path.string() + " is not a regular file";
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    reason = "cannot open " + path.string() + " (permission denied?)";
    return std::nullopt;
  }
  std::string content(max_bytes + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  const auto got = static_cast<std::size_t>(in.gcount());
  if (got > max_bytes) {
    reason = path.string() + " is larger than " + std::to_string(max_bytes) + " bytes";
    return std::nullopt;
  }
  if (in.bad()) {
    reason = "cannot read " + path.string();
    return std::nullopt;
  }
  content.resize(got);
  return content;
}

void Reader::error(int line, std::string key, std::string reason, std::string fix) {
  issues_.push_back(ConfigIssue{file_, line, 0, std::move(key), std::move(reason), std::move(fix),
                                Severity::error});
  ++errors_;
}

void Reader::error(const Field& f, std::string reason, std::string fix) {
  error(f.line, f.key, std::move(reason), std::move(fix));
  issues_.back().column = f.column;
}

void Reader::warning(int line, std::string key, std::string reason, std::string fix) {
  issues_.push_back(ConfigIssue{file_, line, 0, std::move(key), std::move(reason), std::move(fix),
                                Severity::warning});
}

Field Reader::field(const toml::table& table, std::string_view prefix, std::string_view name) {
  const auto it = table.find(name);
  if (it == table.end()) return {};
  const auto& where = it->first.source().begin;
  Field f;
  f.node = &it->second;
  f.key = prefix.empty() ? std::string(name) : std::string(prefix) + "." + std::string(name);
  f.line = where.line > 0 ? static_cast<int>(where.line) : line_of(it->second);
  f.column = static_cast<int>(where.column);
  return f;
}

int Reader::line_of(const toml::node& node) noexcept {
  return std::max(1, static_cast<int>(node.source().begin.line));
}

void Reader::check_keys(const toml::table& table, std::string_view prefix,
                        std::initializer_list<std::string_view> known, Severity severity) {
  for (const auto& [k, v] : table) {
    if (std::find(known.begin(), known.end(), k.str()) != known.end()) continue;
    const auto f = field(table, prefix, k.str());
    const auto near = closest_match(k.str(), known);
    const std::string table_name =
        prefix.empty() ? "the top level" : "[" + std::string(prefix) + "]";
    if (severity == Severity::error) {
      error(f,
            "unknown key in " + table_name + (near.empty() ? "" : "; did you mean '" + near + "'?"),
            near.empty()
                ? "remove it; the keys of " + table_name + " are " + join_alternatives(known)
                : "rename '" + std::string(k.str()) + "' to '" + near + "'");
    } else {
      warning(f.line, f.key,
              "not used by edgehubd and ignored" +
                  (near.empty() ? std::string{} : "; did you mean '" + near + "'?"),
              near.empty() ? "nothing to do if another IoT Edge component uses it"
                           : "rename '" + std::string(k.str()) + "' to '" + near + "'");
    }
  }
}

void Reader::wrong_type(const Field& f, std::string_view expected, std::string fix) {
  error(f, "expected " + std::string(expected) + ", got " + std::string(type_name(*f.node)),
        std::move(fix));
}

std::optional<std::string> Reader::string(const Field& f) {
  if (const auto* s = f.node->as_string()) return s->get();
  wrong_type(f, "a string", "quote the value: " + last_segment(f.key) + " = \"...\"");
  return std::nullopt;
}

std::optional<std::string> Reader::non_empty_string(const Field& f) {
  auto s = string(f);
  if (s && s->empty()) {
    error(f, "must not be empty", "give a value or remove the line");
    return std::nullopt;
  }
  return s;
}

std::optional<bool> Reader::boolean(const Field& f) {
  if (const auto* b = f.node->as_boolean()) return b->get();
  wrong_type(f, "a boolean", "write " + last_segment(f.key) + " = true or false (no quotes)");
  return std::nullopt;
}

std::optional<std::int64_t> Reader::integer(const Field& f, std::int64_t min, std::int64_t max) {
  const auto* i = f.node->as_integer();
  if (i == nullptr && f.node->is_string()) {
    const auto& text = f.node->as_string()->get();
    const bool numeric =
        !text.empty() && text.size() < 20 &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (numeric) {
      wrong_type(f, "an integer", "remove the quotes: " + last_segment(f.key) + " = " + text);
      return std::nullopt;
    }
  }
  if (i == nullptr) {
    wrong_type(f, "an integer",
               "write a whole number without quotes: " + last_segment(f.key) + " = " +
                   std::to_string(std::max<std::int64_t>(min, 1)));
    return std::nullopt;
  }
  const std::int64_t v = i->get();
  if (v < min || v > max) {
    std::string reason;
    if (min == 1 && v <= 0) {
      reason = "must be a positive integer, got " + std::to_string(v);
    } else if (min == 0 && v < 0) {
      reason = "must not be negative, got " + std::to_string(v);
    } else {
      reason = "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
               std::to_string(v);
    }
    error(f, std::move(reason),
          "use a value from " + std::to_string(min) + " to " + std::to_string(max));
    return std::nullopt;
  }
  return v;
}

std::optional<std::uint32_t> Reader::u32(const Field& f, std::uint32_t min, std::uint32_t max) {
  const auto v = integer(f, min, max);
  if (!v) return std::nullopt;
  return static_cast<std::uint32_t>(*v);
}

const toml::table* Reader::table(const Field& f) {
  if (const auto* t = f.node->as_table()) return t;
  wrong_type(f, "a table", "write it as a [" + f.key + "] section");
  return nullptr;
}

bool Reader::enum_match(std::string_view text, std::string_view name) const noexcept {
  // edgeHub's environment used PascalCase ("AmqpWs", "CloudAndScope"); accept those spellings
  // by ignoring case and underscores.
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < text.size() || j < name.size()) {
    if (i < text.size() && text[i] == '_') {
      ++i;
      continue;
    }
    if (j < name.size() && name[j] == '_') {
      ++j;
      continue;
    }
    if (i == text.size() || j == name.size() || lower(text[i]) != lower(name[j])) return false;
    ++i;
    ++j;
  }
  return true;
}

bool Reader::endpoint(const Field& f, bool allow_disable, std::optional<HostPort>& out) {
  const auto text = string(f);
  if (!text) return false;
  if (text->empty()) {
    if (allow_disable) {
      out.reset();
      return true;
    }
    error(f, "must not be empty", "write host:port, e.g. \"0.0.0.0:8883\"");
    return false;
  }
  auto hp = parse_host_port(*text);
  if (!hp) {
    const auto e = static_cast<ConfigErrc>(hp.error().value());
    std::string fix =
        e == ConfigErrc::bad_port   ? "use a port from 1 to 65535, e.g. \"0.0.0.0:8883\""
        : e == ConfigErrc::bad_host ? "use a host name or IP address; bracket IPv6: \"[::]:8883\""
                                    : "write host:port, e.g. \"0.0.0.0:8883\"";
    if (allow_disable) fix += ", or \"\" to disable";
    error(f, "\"" + *text + "\": " + hp.error().message(), std::move(fix));
    return false;
  }
  out = std::move(*hp);
  return true;
}

std::optional<std::filesystem::path> Reader::file_uri(const Field& f) {
  const auto text = string(f);
  if (!text) return std::nullopt;
  if (text->empty()) {
    error(f, "must not be empty", "write \"file:///absolute/path\" or remove the line");
    return std::nullopt;
  }
  auto path = file_uri_to_path(*text);
  if (!path) {
    const auto e = static_cast<ConfigErrc>(path.error().value());
    std::string reason = path.error().message();
    if (e == ConfigErrc::unsupported_scheme) {
      reason = "scheme '" + text->substr(0, text->find(':')) + "' is not supported; " + reason;
    }
    error(f, std::move(reason), uri_fix(last_segment(f.key), e));
    return std::nullopt;
  }
  return std::move(*path);
}

std::optional<std::filesystem::path> Reader::absolute_path(const Field& f) {
  const auto text = string(f);
  if (!text) return std::nullopt;
  if (text->empty()) {
    error(f, "must not be empty", "write an absolute path such as \"/var/lib/edgehubd\"");
    return std::nullopt;
  }
  if (text->find('\0') != std::string::npos) {
    error(f, "the path contains a NUL character", "write an absolute path");
    return std::nullopt;
  }
  if (text->front() == '/') return std::filesystem::path(*text).lexically_normal();
  if (text->rfind("file:", 0) == 0) return file_uri(f);
  error(f,
        "relative paths are not allowed (the daemon's working directory is not the config "
        "file's)",
        "write an absolute path such as \"/var/lib/edgehubd\"");
  return std::nullopt;
}

std::optional<std::string> Reader::secret_key(const Field& f, bool allow_plain_string) {
  const std::string leaf = last_segment(f.key);
  const std::string table_fix = leaf + " = { value = \"<base64 key>\" } or " + leaf +
                                " = { uri = \"file:///absolute/path\" }";
  if (f.node->is_string() && allow_plain_string) {
    const auto& value = f.node->as_string()->get();
    if (auto ok = validate_sas_key(value); !ok) {
      error(f, ok.error().message(), "copy the key again from IoT Hub (primary or secondary key)");
      return std::nullopt;
    }
    return value;
  }
  const auto* t = f.node->as_table();
  if (t == nullptr) {
    wrong_type(f, allow_plain_string ? "a base64 string or a table" : "a table", table_fix);
    return std::nullopt;
  }
  check_keys(*t, f.key, {"value", "uri"}, Severity::error);
  const auto value = field(*t, f.key, "value");
  const auto uri = field(*t, f.key, "uri");
  if (value && uri) {
    error(uri, "value and uri are alternatives; give one", "remove value or uri");
    return std::nullopt;
  }
  if (value) {
    const auto* s = value.node->as_string();
    if (s == nullptr) {
      wrong_type(value, "a base64 string", table_fix);
      return std::nullopt;
    }
    if (auto ok = validate_sas_key(s->get()); !ok) {
      error(value, ok.error().message(),
            "copy the key again from IoT Hub (primary or secondary key)");
      return std::nullopt;
    }
    return s->get();
  }
  if (uri) {
    const auto path = file_uri(uri);
    if (!path) return std::nullopt;
    std::string reason;
    const auto content = read_bounded_file(*path, kMaxSecretFileBytes, reason);
    if (!content) {
      error(uri, std::move(reason), "create the key file or correct the URI");
      return std::nullopt;
    }
    // Same rule as every other key file at start-up (design.md §5): a secret others can read is
    // refused, not just warned about.
    std::error_code ec;
    const auto mode = std::filesystem::status(*path, ec).permissions();
    using Perms = std::filesystem::perms;
    if (!ec && (mode & (Perms::group_all | Perms::others_all)) != Perms::none) {
      error(uri, "the key file " + path->string() + " is accessible by group or others",
            "chmod 600 " + path->string());
      return std::nullopt;
    }
    // aziot-keyd stores symmetric keys as raw bytes; people also save the base64 text.
    const std::string text = trim(*content);
    if (validate_sas_key(text)) return text;
    // Raw bytes are recognised by a byte that no text file would hold; printable content is
    // meant as base64 and reported when it is not.
    const bool binary = std::any_of(content->begin(), content->end(), [](char c) {
      const auto b = static_cast<unsigned char>(c);
      return b >= 0x7f || (b < 0x20 && b != '\n' && b != '\r' && b != '\t');
    });
    if (binary && content->size() >= kMinRawKeyBytes && content->size() <= kMaxRawKeyBytes) {
      return encode_base64(std::vector<std::uint8_t>(content->begin(), content->end()));
    }
    error(
        uri,
        "the key file " + path->string() + " holds neither a base64 key nor 16 to 64 raw key bytes",
        "write the device key (base64, as shown in IoT Hub) into the file");
    return std::nullopt;
  }
  error(f, "needs value or uri", table_fix);
  return std::nullopt;
}

}  // namespace edgehub::config::detail
