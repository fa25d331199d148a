// edgehubctl identity add|list|remove: edits the local identity registry (design.md §4) and
// prints the connection string a downstream device or module needs.
//
// The file is rewritten atomically (temp file in the same directory, fsync, rename, fsync of the
// directory) with mode 0600, so the daemon's SIGHUP reload never sees half a file. Edits are
// textual: comments and layout of the rest of the file are kept; the result is re-parsed with
// the registry's own parser before it replaces the original.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "app/ctl/commands.hpp"
#include "edgehub/config/load.hpp"
#include "edgehub/identity/keys.hpp"
#include "edgehub/identity/registry.hpp"

namespace edgehub::app::ctl {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultIdentities = "/etc/aziot/edgehubd/identities.toml";
constexpr std::size_t kMaxFileBytes = 16u << 20;

void print_identity_usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: edgehubctl identity add ID [--module] [--x509-thumbprint HEX | --x509-ca]\n"
      "                              [--file PATH] [--config PATH]\n"
      "                              [--hub HOST] [--gateway HOST] [--edge-device ID]\n"
      "       edgehubctl identity list [--file PATH] [--config PATH]\n"
      "       edgehubctl identity remove ID [--module] [--file PATH] [--config PATH]\n\n"
      "Edits the local identities file: --file, else [gateway] identities of the config\n"
      "(--config, default %s), else %s.\n"
      "add generates two random keys for a SAS identity and prints its connection string on\n"
      "stdout. --hub/--gateway/--edge-device default to the config's IoT Hub host name,\n"
      "hostname and device id (modules are modules of the gateway's own device).\n"
      "X.509 devices get HostName=<gateway> (the SDK dials HostName for x509=true).\n"
      "list prints id, kind, auth and status, never keys.\n\n"
      "exit codes: 0 ok, 1 operation failed (exists, not found, write error),\n"
      "            64 usage, 78 configuration or identities file unusable\n",
      kDefaultConfig, kDefaultIdentities);
}

struct Options {
  std::string verb;
  std::optional<std::string> id;
  bool module = false;
  bool x509_ca = false;
  std::optional<std::string> thumbprint;
  std::optional<std::string> file;
  std::optional<std::string> config;
  std::optional<std::string> hub;
  std::optional<std::string> gateway;
  std::optional<std::string> edge_device;
  bool help = false;
};

int usage_error(const std::string& message) {
  std::fprintf(stderr, "edgehubctl identity: %s\n\n", message.c_str());
  print_identity_usage(stderr);
  return kExitUsage;
}

// Returns an error message, or nullopt when the arguments parse.
std::optional<std::string> parse_args(Args args, Options& o) {
  if (args.empty()) return "missing subcommand (add, list or remove)";
  o.verb = args[0];
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0) {
      if (const auto eq = arg.find('='); eq != std::string::npos) {
        inline_value = arg.substr(eq + 1);
        arg.resize(eq);
      }
    }
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      continue;
    }
    if (arg == "--module" || arg == "--x509-ca") {
      if (inline_value) return arg + " takes no value";
      (arg == "--module" ? o.module : o.x509_ca) = true;
      continue;
    }
    std::optional<std::string>* slot = arg == "--x509-thumbprint" ? &o.thumbprint
                                       : arg == "--file"          ? &o.file
                                       : arg == "--config"        ? &o.config
                                       : arg == "--hub"           ? &o.hub
                                       : arg == "--gateway"       ? &o.gateway
                                       : arg == "--edge-device"   ? &o.edge_device
                                                                  : nullptr;
    if (slot != nullptr) {
      if (!inline_value) {
        if (i + 1 >= args.size()) return arg + " needs a value";
        inline_value = args[++i];
      }
      if (inline_value->empty()) return arg + " needs a non-empty value";
      *slot = *inline_value;
      continue;
    }
    if (arg.rfind("-", 0) == 0 && arg.size() > 1) return "unknown option '" + arg + "'";
    if (o.id) return "unexpected argument '" + arg + "'";
    o.id = arg;
  }
  return std::nullopt;
}

/// What the command needs from the config file, loaded only when a flag leaves a gap.
struct Context {
  fs::path file;
  std::string hub;
  std::string gateway;
  std::string edge_device;
};

// Fills `ctx` from flags, then from the config for whatever is still missing. Returns an exit
// code on failure.
std::optional<int> resolve(const Options& o, bool need_hosts, Context& ctx) {
  const bool need_config =
      o.config || !o.file || (need_hosts && (!o.hub || !o.gateway || (o.module && !o.edge_device)));
  std::optional<config::GatewayConfig> cfg;
  if (need_config) {
    const fs::path path = o.config ? fs::path(*o.config) : fs::path(kDefaultConfig);
    std::error_code ec;
    if (o.config || fs::exists(path, ec)) {
      std::vector<config::ConfigIssue> issues;
      cfg = config::load_config(path, issues);
      for (const auto& issue : issues) {
        std::fprintf(stderr, "%s\n", issue.to_string().c_str());
      }
      if (!cfg) {
        std::fprintf(stderr, "edgehubctl identity: configuration %s is unusable\n", path.c_str());
        return kExitConfig;
      }
    }
  }
  ctx.file = o.file                   ? fs::path(*o.file)
             : cfg && cfg->identities ? *cfg->identities
                                      : fs::path(kDefaultIdentities);
  ctx.hub = o.hub ? *o.hub : cfg ? cfg->iothub_hostname : "";
  ctx.gateway = o.gateway ? *o.gateway : cfg ? cfg->hostname : "";
  ctx.edge_device = o.edge_device ? *o.edge_device : cfg ? cfg->device_id : "";
  return std::nullopt;
}

/// The current file: nullopt text when it does not exist.
struct Current {
  bool exists = false;
  std::string text;
  identity::Snapshot snapshot;
  struct stat st {};
};

std::optional<int> read_current(const Context& ctx, Current& cur) {
  if (::stat(ctx.file.c_str(), &cur.st) != 0) {
    if (errno == ENOENT) return std::nullopt;
    std::fprintf(stderr, "edgehubctl identity: %s: %s\n", ctx.file.c_str(), std::strerror(errno));
    return kExitFailure;
  }
  cur.exists = true;
  if (!S_ISREG(cur.st.st_mode) || cur.st.st_size > static_cast<off_t>(kMaxFileBytes)) {
    std::fprintf(stderr, "edgehubctl identity: %s is not a regular file of at most 16 MiB\n",
                 ctx.file.c_str());
    return kExitConfig;
  }
  std::ifstream in(ctx.file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "edgehubctl identity: cannot read %s: %s\n", ctx.file.c_str(),
                 std::strerror(errno));
    return kExitFailure;
  }
  cur.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  std::vector<identity::RegistryIssue> issues;
  auto snapshot = identity::parse_identities(cur.text, ctx.file, ctx.edge_device, issues);
  if (!snapshot) {
    for (const auto& issue : issues)
      std::fprintf(stderr, "%s\n", issue.to_string().c_str());
    std::fprintf(stderr, "edgehubctl identity: fix %s first; it was not changed\n",
                 ctx.file.c_str());
    return kExitConfig;
  }
  cur.snapshot = std::move(*snapshot);
  return std::nullopt;
}

const identity::Identity* find_entry(const identity::Snapshot& s, const std::string& id,
                                     bool module) {
  for (const auto& entry : s.identities()) {
    if (module ? (entry.id.is_module() && entry.id.module == id)
               : (!entry.id.is_module() && entry.id.device == id)) {
      return &entry;
    }
  }
  return nullptr;
}

// Replaces `file` with `text`: temp file + fsync + rename + directory fsync, mode 0600, owner
// kept when the file existed (best effort: only root may give a file away).
bool write_atomically(const fs::path& file, const std::string& text, const Current& cur) {
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::string temp = (dir / ("." + file.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) {
    const int error = errno;
    std::fprintf(stderr, "edgehubctl identity: cannot create a file in %s: %s\n", dir.c_str(),
                 std::strerror(error));
    if (error == ENOENT) std::fprintf(stderr, "fix: mkdir -p %s\n", dir.c_str());
    return false;
  }
  bool ok = ::fchmod(fd, 0600) == 0;
  // edgehubd runs as its own user: an edited file keeps its owner, and a new file made by root
  // takes the owner of its directory (e.g. /etc/aziot/edgehubd owned by the service user), or
  // the daemon could not read what root just wrote for it.
  struct stat owner {};
  if (cur.exists) {
    owner = cur.st;
  } else if (::geteuid() != 0 || ::stat(dir.c_str(), &owner) != 0) {
    owner.st_uid = ::geteuid();
    owner.st_gid = ::getegid();
  }
  if (ok && (owner.st_uid != ::geteuid() || owner.st_gid != ::getegid())) {
    (void)!::fchown(fd, owner.st_uid, owner.st_gid);
  }
  for (std::size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved = errno;
  ok = ::close(fd) == 0 && ok;
  ok = ok && ::rename(temp.c_str(), file.c_str()) == 0;
  if (!ok) {
    std::fprintf(stderr, "edgehubctl identity: cannot write %s: %s\n", file.c_str(),
                 std::strerror(errno ? errno : saved));
    ::unlink(temp.c_str());
    return false;
  }
  // The rename is durable only once the directory entry is.
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY); dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

// Re-parses `text` and checks that it holds exactly the expected identities.
bool verify_edit(const std::string& text, const Context& ctx, std::size_t expected_count,
                 const std::string& id, bool module, bool present) {
  std::vector<identity::RegistryIssue> issues;
  auto snapshot = identity::parse_identities(text, ctx.file, ctx.edge_device, issues);
  const bool ok = snapshot && snapshot->identities().size() == expected_count &&
                  (find_entry(*snapshot, id, module) != nullptr) == present;
  if (!ok) {
    std::fprintf(stderr,
                 "edgehubctl identity: internal error: the edited %s would not read back as "
                 "expected; it was not changed\n",
                 ctx.file.c_str());
  }
  return ok;
}

void note_mode(const Current& cur, const Context& ctx) {
  if (cur.exists && (cur.st.st_mode & 077) != 0) {
    std::fprintf(stderr, "note: %s was mode %04o; it is now 0600\n", ctx.file.c_str(),
                 static_cast<unsigned>(cur.st.st_mode & 07777));
  }
}

int run_add(const Options& o) {
  if (!o.id) return usage_error("add needs an ID");
  const std::string& id = *o.id;
  if (!identity::is_valid_id(id)) {
    return usage_error("'" + id +
                       "' is not a valid id: 1-128 characters from A-Z a-z 0-9 - : . + % _ # * ? "
                       "! ( ) , = ; $ '");
  }
  if (o.thumbprint && o.x509_ca)
    return usage_error("--x509-thumbprint and --x509-ca exclude each other");
  if (o.module && (o.thumbprint || o.x509_ca)) {
    return usage_error("modules cannot use X.509 authentication (edgeHub refuses them)");
  }
  std::optional<identity::Bytes> thumbprint;
  if (o.thumbprint) {
    thumbprint = identity::parse_thumbprint(*o.thumbprint);
    if (!thumbprint) {
      return usage_error(
          "--x509-thumbprint must be a SHA-1 (40 hex digits) or SHA-256 (64 hex "
          "digits) thumbprint");
    }
  }
  const bool x509 = o.thumbprint || o.x509_ca;

  Context ctx;
  if (auto rc = resolve(o, true, ctx)) return *rc;
  if (ctx.gateway.empty())
    return usage_error("the gateway host name is unknown: pass --gateway HOST or --config");
  if (!x509 && ctx.hub.empty())
    return usage_error("the IoT Hub host name is unknown: pass --hub HOST or --config");
  if (o.module && ctx.edge_device.empty()) {
    return usage_error("the gateway's device id is unknown: pass --edge-device ID or --config");
  }

  Current cur;
  if (auto rc = read_current(ctx, cur)) return *rc;
  if (find_entry(cur.snapshot, id, o.module) != nullptr) {
    std::fprintf(stderr, "edgehubctl identity: %s '%s' already exists in %s\n",
                 o.module ? "module" : "device", id.c_str(), ctx.file.c_str());
    return kExitFailure;
  }

  std::string primary, secondary;
  std::string block = o.module ? "[[module]]\n" : "[[device]]\n";
  block += "id = \"" + id + "\"\n";
  if (o.thumbprint) {
    block += "auth = \"x509_thumbprint\"\nprimary_thumbprint = \"" + identity::to_hex(*thumbprint) +
             "\"\n";
  } else if (o.x509_ca) {
    block += "auth = \"x509_ca\"\n";
  } else {
    auto k1 = identity::generate_key();
    auto k2 = identity::generate_key();
    if (!k1 || !k2) {
      std::fprintf(stderr, "edgehubctl identity: the system random generator failed\n");
      return kExitFailure;
    }
    primary = *k1;
    secondary = *k2;
    block += "auth = \"sas\"\nprimary_key = \"" + primary + "\"\nsecondary_key = \"" + secondary +
             "\"\n";
  }
  std::string text = cur.text;
  if (!text.empty() && text.back() != '\n') text += '\n';
  if (!text.empty()) text += '\n';
  text += block;

  if (!verify_edit(text, ctx, cur.snapshot.identities().size() + 1, id, o.module, true)) {
    return kExitFailure;
  }
  if (!write_atomically(ctx.file, text, cur)) return kExitFailure;
  note_mode(cur, ctx);

  std::fprintf(stderr, "added %s '%s' (%s) to %s\n", o.module ? "module" : "device", id.c_str(),
               o.thumbprint ? "x509_thumbprint"
               : o.x509_ca  ? "x509_ca"
                            : "sas",
               ctx.file.c_str());
  if (x509) {
    // The SDK ignores GatewayHostName with x509=true and dials HostName (iot-hub-protocol.md §13).
    std::printf("HostName=%s;DeviceId=%s;x509=true\n", ctx.gateway.c_str(), id.c_str());
  } else if (o.module) {
    std::printf("HostName=%s;DeviceId=%s;ModuleId=%s;SharedAccessKey=%s;GatewayHostName=%s\n",
                ctx.hub.c_str(), ctx.edge_device.c_str(), id.c_str(), primary.c_str(),
                ctx.gateway.c_str());
  } else {
    std::printf("HostName=%s;DeviceId=%s;SharedAccessKey=%s;GatewayHostName=%s\n", ctx.hub.c_str(),
                id.c_str(), primary.c_str(), ctx.gateway.c_str());
  }
  return kExitOk;
}

int run_remove(const Options& o) {
  if (!o.id) return usage_error("remove needs an ID");
  if (o.thumbprint || o.x509_ca) return usage_error("remove takes no --x509 options");
  Context ctx;
  if (auto rc = resolve(o, false, ctx)) return *rc;
  Current cur;
  if (auto rc = read_current(ctx, cur)) return *rc;
  const identity::Identity* entry = find_entry(cur.snapshot, *o.id, o.module);
  if (!cur.exists || entry == nullptr) {
    std::fprintf(stderr, "edgehubctl identity: no %s '%s' in %s\n", o.module ? "module" : "device",
                 o.id->c_str(), ctx.file.c_str());
    return kExitFailure;
  }

  // Drop the lines from the entry's [[...]] header up to the next table header.
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < cur.text.size();) {
    const auto nl = cur.text.find('\n', start);
    const auto end = nl == std::string::npos ? cur.text.size() : nl + 1;
    lines.push_back(cur.text.substr(start, end - start));
    start = end;
  }
  const auto first = static_cast<std::size_t>(entry->line - 1);
  auto last = first + 1;
  for (; last < lines.size(); ++last) {
    const auto pos = lines[last].find_first_not_of(" \t");
    if (pos != std::string::npos && lines[last][pos] == '[') break;
  }
  // Comments directly above the next header describe that entry: keep them.
  if (last < lines.size()) {
    while (last > first + 1) {
      const auto pos = lines[last - 1].find_first_not_of(" \t");
      if (pos == std::string::npos || lines[last - 1][pos] != '#') break;
      --last;
    }
  }
  std::string text;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i < first || i >= last) text += lines[i];
  }
  if (!verify_edit(text, ctx, cur.snapshot.identities().size() - 1, *o.id, o.module, false)) {
    return kExitFailure;
  }
  if (!write_atomically(ctx.file, text, cur)) return kExitFailure;
  note_mode(cur, ctx);
  std::fprintf(stderr, "removed %s '%s' from %s\n", o.module ? "module" : "device", o.id->c_str(),
               ctx.file.c_str());
  return kExitOk;
}

int run_list(const Options& o) {
  if (o.id) return usage_error("list takes no ID");
  Context ctx;
  if (auto rc = resolve(o, false, ctx)) return *rc;
  Current cur;
  if (auto rc = read_current(ctx, cur)) return *rc;
  if (!cur.exists) {
    std::fprintf(stderr,
                 "edgehubctl identity: %s does not exist (create it with: edgehubctl "
                 "identity add ID)\n",
                 ctx.file.c_str());
    return kExitFailure;
  }
  std::size_t width = 2;
  for (const auto& e : cur.snapshot.identities()) {
    width = std::max(width, (e.id.is_module() ? e.id.module : e.id.device).size());
  }
  const int w = static_cast<int>(width);
  std::printf("%-*s  %-6s  %-15s  %s\n", w, "ID", "KIND", "AUTH", "STATUS");
  for (const auto& e : cur.snapshot.identities()) {
    const std::string& id = e.id.is_module() ? e.id.module : e.id.device;
    const auto auth = identity::to_string(e.auth);
    std::printf("%-*s  %-6s  %-15.*s  %s\n", w, id.c_str(), e.id.is_module() ? "module" : "device",
                static_cast<int>(auth.size()), auth.data(), e.enabled ? "enabled" : "disabled");
  }
  // The daemon refuses such a file; say so here rather than at the next reload.
  if (auto problem = identity::check_file_mode(ctx.file)) {
    std::fprintf(stderr, "%s\n", problem->to_string().c_str());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

int run_identity(Args args) {
  Options o;
  const auto error = parse_args(args, o);
  if (o.help || (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help"))) {
    print_identity_usage(stdout);
    return kExitOk;
  }
  if (error) return usage_error(*error);
  if (o.verb == "add") return run_add(o);
  if (o.verb == "list") return run_list(o);
  if (o.verb == "remove") return run_remove(o);
  return usage_error("unknown subcommand '" + o.verb + "' (add, list or remove)");
}

}  // namespace edgehub::app::ctl
