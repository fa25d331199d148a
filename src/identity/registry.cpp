#include "edgehub/identity/registry.hpp"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

namespace edgehub::identity {
namespace {

// IoT Hub keys are 16 to 64 bytes; a shorter "key" is a paste error, not a secret.
constexpr std::size_t kMinKeyBytes = 16;
constexpr std::size_t kMaxKeyBytes = 64;
constexpr std::size_t kMaxFileBytes = 16u << 20;

constexpr std::array kDeviceKeys = {"id",
                                    "auth",
                                    "primary_key",
                                    "secondary_key",
                                    "primary_thumbprint",
                                    "secondary_thumbprint",
                                    "enabled",
                                    "status",
                                    "edge_device",
                                    "parent"};
constexpr std::array kModuleKeys = {"id",      "device", "auth", "primary_key", "secondary_key",
                                    "enabled", "status"};

int line_of(const toml::node& node) {
  return static_cast<int>(node.source().begin.line);
}

std::string_view type_name(const toml::node& node) {
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
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    default:
      return "a date/time";
  }
}

class EntryParser {
 public:
  EntryParser(const std::filesystem::path& file, std::string prefix, const toml::table& table,
              std::vector<RegistryIssue>& issues)
      : file_(file), prefix_(std::move(prefix)), table_(table), issues_(issues) {}

  void issue(const toml::node* at, std::string_view key, std::string reason) {
    issues_.push_back({file_, at ? line_of(*at) : line_of(table_),
                       key.empty() ? prefix_ : prefix_ + "." + std::string(key),
                       std::move(reason)});
    ok_ = false;
  }

  const toml::node* get(std::string_view key) const { return table_.get(key); }

  std::optional<std::string> string(std::string_view key) {
    const toml::node* node = get(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* s = node->as_string()) return s->get();
    issue(node, key, "must be a string, found " + std::string(type_name(*node)));
    return std::nullopt;
  }

  template <std::size_t N>
  void reject_unknown(const std::array<const char*, N>& allowed) {
    for (const auto& [key, node] : table_) {
      const std::string_view name = key.str();  // clang 14 cannot capture a structured binding
      const bool known =
          std::any_of(allowed.begin(), allowed.end(), [name](const char* k) { return name == k; });
      if (known) continue;
      std::string list;
      for (const char* k : allowed)
        list += (list.empty() ? "" : ", ") + std::string(k);
      issue(&node, name, "unknown key (expected one of: " + list + ")");
    }
  }

  std::optional<Bytes> key(std::string_view name) {
    const auto text = string(name);
    if (!text) return std::nullopt;
    auto bytes = decode_base64(*text);
    if (!bytes) {
      issue(get(name), name, "is not valid base64");
      return std::nullopt;
    }
    if (bytes->size() < kMinKeyBytes || bytes->size() > kMaxKeyBytes) {
      issue(get(name), name,
            "decodes to " + std::to_string(bytes->size()) + " bytes; keys must be 16 to 64 bytes");
      return std::nullopt;
    }
    return bytes;
  }

  std::optional<Bytes> thumbprint(std::string_view name) {
    const auto text = string(name);
    if (!text) return std::nullopt;
    auto bytes = parse_thumbprint(*text);
    if (!bytes) {
      issue(get(name), name,
            "is not a SHA-1 (40 hex digits) or SHA-256 (64 hex digits) thumbprint");
    }
    return bytes;
  }

  /// An optional boolean key; absent is false.
  bool flag(const char* name) {
    const toml::node* node = get(name);
    if (node == nullptr) return false;
    if (const auto* b = node->as_boolean()) return b->get();
    issue(node, name, "must be true or false, found " + std::string(type_name(*node)));
    return false;
  }

  bool enabled() {
    std::optional<bool> from_enabled;
    std::optional<bool> from_status;
    if (const toml::node* node = get("enabled")) {
      if (const auto* b = node->as_boolean()) {
        from_enabled = b->get();
      } else {
        issue(node, "enabled", "must be true or false, found " + std::string(type_name(*node)));
      }
    }
    if (const auto status = string("status")) {
      if (*status == "enabled" || *status == "disabled") {
        from_status = *status == "enabled";
      } else {
        issue(get("status"), "status", "must be \"enabled\" or \"disabled\"");
      }
    }
    if (from_enabled && from_status && *from_enabled != *from_status) {
      issue(get("status"), "status",
            "contradicts enabled = " + std::string(*from_enabled ? "true" : "false"));
    }
    return from_enabled.value_or(from_status.value_or(true));
  }

  void forbid(std::string_view key, std::string_view why) {
    if (const toml::node* node = get(key)) issue(node, key, std::string(why));
  }

  bool ok() const noexcept { return ok_; }
  int line() const { return line_of(table_); }

 private:
  const std::filesystem::path& file_;
  std::string prefix_;
  const toml::table& table_;
  std::vector<RegistryIssue>& issues_;
  bool ok_ = true;
};

std::optional<Identity> parse_entry(EntryParser& p, bool is_module,
                                    std::string_view gateway_device_id) {
  Identity identity;
  identity.line = p.line();
  if (is_module) {
    p.reject_unknown(kModuleKeys);
  } else {
    p.reject_unknown(kDeviceKeys);
  }

  const auto id = p.string("id");
  if (!p.get("id")) {
    p.issue(nullptr, "id", "is required");
  } else if (id && !is_valid_id(*id)) {
    p.issue(p.get("id"), "id",
            "must be 1-128 characters from A-Z a-z 0-9 - : . + % _ # * ? ! ( ) , = ; $ '");
  }
  // A module belongs to the gateway's own device unless it names a child gateway: the `$edgeHub`
  // module of a child edge device, whose key signs that child's on-behalf-of tokens.
  std::string device(gateway_device_id);
  if (is_module) {
    if (const auto owner = p.string("device")) {
      if (is_valid_id(*owner)) {
        device = *owner;
      } else {
        p.issue(p.get("device"), "device", "must be a valid device id (a child gateway's)");
      }
    }
  }
  if (id) identity.id = is_module ? core::ClientId{device, *id} : core::ClientId{*id, {}};

  // With an unusable auth the credential keys cannot be judged: report the auth only.
  bool auth_known = p.get("auth") == nullptr;
  if (const auto auth = p.string("auth")) {
    auth_known =
        *auth == "sas" || (!is_module && (*auth == "x509_thumbprint" || *auth == "x509_ca"));
    if (*auth == "sas") {
      identity.auth = AuthType::sas;
    } else if (is_module && (*auth == "x509_thumbprint" || *auth == "x509_ca")) {
      p.issue(p.get("auth"), "auth", "modules cannot use X.509 authentication; use \"sas\"");
    } else if (*auth == "x509_thumbprint") {
      identity.auth = AuthType::x509_thumbprint;
    } else if (*auth == "x509_ca") {
      identity.auth = AuthType::x509_ca;
    } else {
      p.issue(
          p.get("auth"), "auth",
          is_module ? "must be \"sas\"" : "must be \"sas\", \"x509_thumbprint\" or \"x509_ca\"");
    }
  }

  if (!auth_known) {
    // reported above
  } else if (identity.auth == AuthType::sas) {
    if (!p.get("primary_key")) p.issue(nullptr, "primary_key", "is required when auth = \"sas\"");
    for (const char* name : {"primary_key", "secondary_key"}) {
      if (!p.get(name)) continue;
      if (auto key = p.key(name)) identity.keys.push_back(std::move(*key));
    }
    for (const char* name : {"primary_thumbprint", "secondary_thumbprint"}) {
      p.forbid(name, "applies only to auth = \"x509_thumbprint\"");
    }
  } else {
    for (const char* name : {"primary_key", "secondary_key"}) {
      p.forbid(name, "applies only to auth = \"sas\"");
    }
    if (identity.auth == AuthType::x509_thumbprint) {
      if (!p.get("primary_thumbprint")) {
        p.issue(nullptr, "primary_thumbprint", "is required when auth = \"x509_thumbprint\"");
      }
      for (const char* name : {"primary_thumbprint", "secondary_thumbprint"}) {
        if (!p.get(name)) continue;
        if (auto t = p.thumbprint(name)) identity.thumbprints.push_back(std::move(*t));
      }
    } else {
      for (const char* name : {"primary_thumbprint", "secondary_thumbprint"}) {
        p.forbid(name, "applies only to auth = \"x509_thumbprint\" (x509_ca checks the chain)");
      }
    }
  }
  identity.enabled = p.enabled();
  if (!is_module) {
    identity.edge_device = p.flag("edge_device");
    if (const auto parent = p.string("parent")) {
      if (is_valid_id(*parent)) {
        identity.parent = *parent;
      } else {
        p.issue(p.get("parent"), "parent", "must be a valid device id (the child gateway's)");
      }
    }
  }
  if (!p.ok()) return std::nullopt;
  return identity;
}

void parse_kind(const toml::node& node, std::string_view kind, const std::filesystem::path& file,
                std::string_view gateway_device_id, std::vector<Identity>& out,
                std::vector<RegistryIssue>& issues) {
  const auto* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    issues.push_back({file, line_of(node), std::string(kind),
                      "must be an array of tables, written [[" + std::string(kind) + "]]"});
    return;
  }
  const bool is_module = kind == "module";
  std::unordered_map<std::string, int> seen;  // id -> line of its first declaration
  for (std::size_t i = 0; i < array->size(); ++i) {
    const auto& table = *array->get(i)->as_table();
    EntryParser parser(file, std::string(kind) + "[" + std::to_string(i + 1) + "]", table, issues);
    auto identity = parse_entry(parser, is_module, gateway_device_id);
    if (!identity) continue;
    const std::string& id = is_module ? identity->id.module : identity->id.device;
    const auto [it, inserted] = seen.emplace(identity->id.to_string(), identity->line);
    if (!inserted) {
      parser.issue(table.get("id"), "id",
                   "duplicate " + std::string(kind) + " id '" + id + "' (first declared on line " +
                       std::to_string(it->second) + ")");
      continue;
    }
    out.push_back(std::move(*identity));
  }
}

// A module of another device is only meaningful for a child gateway declared in the same file.
void check_module_owners(const std::filesystem::path& file, std::string_view gateway_device_id,
                         const std::vector<Identity>& identities,
                         std::vector<RegistryIssue>& issues) {
  for (std::size_t i = 0; i < identities.size(); ++i) {
    const auto& m = identities[i];
    if (!m.id.is_module() || m.id.device == gateway_device_id) continue;
    const bool owner_is_child_gateway =
        std::any_of(identities.begin(), identities.end(), [&](const Identity& d) {
          return !d.id.is_module() && d.id.device == m.id.device && d.edge_device;
        });
    if (!owner_is_child_gateway) {
      issues.push_back({file, m.line, "module.device",
                        "'" + m.id.device +
                            "' is not declared here as a [[device]] with edge_device = true; "
                            "only a child gateway's modules (its $edgeHub) may be listed"});
    }
  }
}

}  // namespace

std::string_view to_string(AuthType auth) noexcept {
  switch (auth) {
    case AuthType::sas:
      return "sas";
    case AuthType::x509_thumbprint:
      return "x509_thumbprint";
    case AuthType::x509_ca:
      return "x509_ca";
  }
  return "sas";
}

bool is_valid_id(std::string_view id) noexcept {
  static constexpr std::string_view kSpecial = "-:.+%_#*?!(),=;$'";
  if (id.empty() || id.size() > kMaxIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           kSpecial.find(c) != std::string_view::npos;
  });
}

std::string RegistryIssue::to_string() const {
  std::string out = file.string();
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  out += reason;
  return out;
}

Snapshot::Snapshot(std::vector<Identity> identities) : identities_(std::move(identities)) {
  index_.reserve(identities_.size());
  for (std::size_t i = 0; i < identities_.size(); ++i)
    index_.emplace(identities_[i].id, i);
}

const Identity* Snapshot::find(const core::ClientId& id) const noexcept {
  const auto it = index_.find(id);
  return it == index_.end() ? nullptr : &identities_[it->second];
}

std::optional<Snapshot> parse_identities(std::string_view text, const std::filesystem::path& file,
                                         std::string_view gateway_device_id,
                                         std::vector<RegistryIssue>& issues) {
  const std::size_t issues_before = issues.size();
  toml::table root;
  try {
    root = toml::parse(text, file.string());
  } catch (const toml::parse_error& e) {
    issues.push_back({file,
                      static_cast<int>(e.source().begin.line),
                      {},
                      "TOML syntax: " + std::string(e.description())});
    return std::nullopt;
  }
  std::vector<Identity> identities;
  // Devices before modules so that the snapshot order does not depend on file layout.
  for (const std::string_view kind : {"device", "module"}) {
    if (const toml::node* node = root.get(kind)) {
      parse_kind(*node, kind, file, gateway_device_id, identities, issues);
    }
  }
  for (const auto& [key, node] : root) {
    if (key.str() == "device" || key.str() == "module") continue;
    issues.push_back({file, line_of(node), std::string(key.str()),
                      "unknown key (expected [[device]] or [[module]] tables)"});
  }
  check_module_owners(file, gateway_device_id, identities, issues);
  if (issues.size() != issues_before) return std::nullopt;
  return Snapshot(std::move(identities));
}

std::optional<RegistryIssue> check_file_mode(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) {
    return RegistryIssue{file, 0, {}, std::string("cannot read: ") + std::strerror(errno)};
  }
  if (!S_ISREG(st.st_mode)) return RegistryIssue{file, 0, {}, "is not a regular file"};
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return RegistryIssue{file,
                         0,
                         {},
                         std::string("holds keys but is accessible by group or others (mode ") +
                             mode + "); fix: chmod 600 " + file.string()};
  }
  return std::nullopt;
}

std::optional<Snapshot> load_identities(const std::filesystem::path& file,
                                        std::string_view gateway_device_id,
                                        std::vector<RegistryIssue>& issues) {
  if (auto problem = check_file_mode(file)) {
    issues.push_back(std::move(*problem));
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    issues.push_back({file, 0, {}, std::string("cannot open: ") + std::strerror(errno)});
    return std::nullopt;
  }
  std::string text;
  char buffer[8192];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes) {
      issues.push_back({file, 0, {}, "is larger than 16 MiB"});
      return std::nullopt;
    }
  }
  return parse_identities(text, file, gateway_device_id, issues);
}

std::string_view describe(RevokeReason reason) noexcept {
  switch (reason) {
    case RevokeReason::removed:
      return "removed";
    case RevokeReason::disabled:
      return "disabled";
    case RevokeReason::credentials_changed:
      return "has new credentials";
  }
  return "revoked";
}

std::vector<Revocation> revocations(const Snapshot& before, const Snapshot& after) {
  std::vector<Revocation> out;
  for (const auto& old : before.identities()) {
    if (!old.enabled) continue;  // nobody can be connected as a disabled identity
    const Identity* now = after.find(old.id);
    if (now == nullptr) {
      out.push_back({old.id, RevokeReason::removed});
    } else if (!now->enabled) {
      out.push_back({old.id, RevokeReason::disabled});
    } else if (!now->same_credentials(old)) {
      out.push_back({old.id, RevokeReason::credentials_changed});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Revocation& a, const Revocation& b) { return a.id < b.id; });
  return out;
}

Registry::Registry(std::filesystem::path file, std::string gateway_device_id)
    : file_(std::move(file)),
      gateway_device_id_(std::move(gateway_device_id)),
      snapshot_(std::make_shared<const Snapshot>()) {}

std::optional<Snapshot> Registry::read(std::vector<RegistryIssue>& issues) const {
  if (file_.empty()) return Snapshot{};
  return load_identities(file_, gateway_device_id_, issues);
}

bool Registry::load(std::vector<RegistryIssue>& issues) {
  auto next = read(issues);
  if (!next) return false;
  auto shared = std::make_shared<const Snapshot>(std::move(*next));
  std::lock_guard lock(mutex_);
  snapshot_ = std::move(shared);
  return true;
}

std::optional<std::vector<Revocation>> Registry::reload(std::vector<RegistryIssue>& issues) {
  auto next = read(issues);
  if (!next) return std::nullopt;
  auto shared = std::make_shared<const Snapshot>(std::move(*next));
  std::shared_ptr<const Snapshot> previous;
  {
    std::lock_guard lock(mutex_);
    previous = std::exchange(snapshot_, shared);
  }
  return revocations(*previous, *shared);
}

std::shared_ptr<const Snapshot> Registry::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

std::shared_ptr<const Identity> Registry::find(const core::ClientId& id) const {
  auto current = snapshot();
  const Identity* identity = current->find(id);
  if (identity == nullptr) return nullptr;
  // Aliasing constructor: the identity keeps its whole snapshot alive.
  return std::shared_ptr<const Identity>(std::move(current), identity);
}

}  // namespace edgehub::identity
