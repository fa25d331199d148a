// edgehubctl queue list | peek QUEUE [--max N] | purge QUEUE: operators' view of the store
// (docs/store.md). list and peek use a read-only SQLite connection, so they work while edgehubd
// runs and never block its writer. purge needs edgehubd stopped: the daemon keeps queue lengths,
// sequence numbers and in-flight deliveries in memory, so purge takes the daemon's store lock
// and refuses while it is held.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>

#include "app/ctl/commands.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/store/sqlite_store.hpp"

namespace edgehub::app::ctl {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultStateDir = "/var/lib/edgehubd";
constexpr std::size_t kDefaultPeek = 10;
constexpr std::size_t kPreviewBytes = 120;

void print_queue_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: edgehubctl queue list [--state-dir DIR]\n"
               "       edgehubctl queue peek QUEUE [--max N] [--state-dir DIR]\n"
               "       edgehubctl queue purge QUEUE [--state-dir DIR]\n\n"
               "Inspects the store-and-forward database DIR/%s (default DIR %s).\n"
               "QUEUE is ENDPOINT or ENDPOINT@PRIORITY: endpoint 'iothub' is $upstream,\n"
               "'{device}/{module}/{input}' a module input; priority 0 is the highest and\n"
               "routes without one use %u.\n"
               "list and peek work while edgehubd runs (read-only). peek shows the oldest N\n"
               "entries (default %zu), expired ones included and marked. purge deletes every\n"
               "entry of the queue and needs edgehubd stopped.\n\n"
               "exit codes: 0 ok, 1 store missing, unreadable, corrupt or locked, 64 usage\n",
               store::kDatabaseFileName, kDefaultStateDir, store::kDefaultPriority, kDefaultPeek);
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "edgehubctl queue: %s\n\n", message.c_str());
  print_queue_usage(stderr);
  return kExitUsage;
}

struct Options {
  std::string verb;
  std::optional<store::QueueId> queue;
  std::size_t max = kDefaultPeek;
  fs::path state_dir = kDefaultStateDir;
};

std::optional<std::string> parse_args(Args args, Options& o) {
  if (args.empty()) return "missing subcommand (list, peek or purge)";
  o.verb = args[0];
  if (o.verb != "list" && o.verb != "peek" && o.verb != "purge") {
    return "unknown subcommand '" + o.verb + "'";
  }
  for (std::size_t i = 1; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--state-dir" || a == "--max") {
      if (i + 1 >= args.size()) return a + " needs a value";
      const auto& v = args[++i];
      if (a == "--state-dir") {
        o.state_dir = v;
      } else {
        std::size_t n = 0;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc{} || end != v.data() + v.size() || n == 0) {
          return "--max needs a positive number, got '" + v + "'";
        }
        o.max = n;
      }
    } else if (!a.empty() && a[0] == '-') {
      return "unknown option '" + a + "'";
    } else if (!o.queue && o.verb != "list") {
      store::QueueId q;
      if (!store::QueueId::parse(a, q)) {
        return "'" + a + "' is not a queue (ENDPOINT or ENDPOINT@PRIORITY)";
      }
      o.queue = q;
    } else {
      return "unexpected argument '" + a + "'";
    }
  }
  if (o.verb != "list" && !o.queue) return o.verb + " needs a QUEUE";
  if (o.verb != "peek" && o.max != kDefaultPeek) return "--max applies to peek only";
  return std::nullopt;
}

std::string format_time(core::SystemTime t) {
  if (t == core::SystemTime::max()) return "never";
  if (t == core::SystemTime{}) return "-";
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// Printable text as is (escaped), anything else as hex, cut at kPreviewBytes.
std::string preview(const std::vector<std::byte>& body) {
  const auto n = std::min(body.size(), kPreviewBytes);
  bool text = true;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(body[i]);
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') text = false;
    if (c == 0x7f) text = false;
  }
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(body[i]);
    if (!text) {
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += static_cast<char>(c);
    }
  }
  if (body.size() > n) out += "...";
  return text ? "\"" + out + "\"" : "hex:" + out;
}

int fail(const std::string& diagnostic, const boost::system::error_code& ec) {
  std::fprintf(stderr, "edgehubctl queue: %s\n",
               diagnostic.empty() ? ec.message().c_str() : diagnostic.c_str());
  return kExitFailure;
}

int do_list(const fs::path& db) {
  std::string diagnostic;
  auto inspector = store::Inspector::open(db, diagnostic);
  if (!inspector) return fail(diagnostic, inspector.error());
  auto queues = inspector->queues(core::SystemClock::instance().now());
  if (!queues) return fail("cannot list queues: " + queues.error().message(), queues.error());
  auto info = inspector->file_info();
  if (!info) return fail("cannot read the store: " + info.error().message(), info.error());
  std::printf("%-48s %12s %10s %12s %12s\n", "QUEUE", "LENGTH", "EXPIRED", "FIRST_SEQ", "LAST_SEQ");
  for (const auto& q : *queues) {
    std::printf(
        "%-48s %12llu %10llu %12llu %12llu\n", q.queue.to_string().c_str(),
        static_cast<unsigned long long>(q.length), static_cast<unsigned long long>(q.expired),
        static_cast<unsigned long long>(q.first_seq), static_cast<unsigned long long>(q.last_seq));
  }
  std::printf("\nstore %s: %llu bytes (%llu free, awaiting vacuum), %llu bodies, schema v%d\n",
              db.c_str(), static_cast<unsigned long long>(info->file_bytes),
              static_cast<unsigned long long>(info->free_bytes),
              static_cast<unsigned long long>(info->bodies), info->schema_version);
  return kExitOk;
}

int do_peek(const fs::path& db, const store::QueueId& queue, std::size_t max) {
  std::string diagnostic;
  auto inspector = store::Inspector::open(db, diagnostic);
  if (!inspector) return fail(diagnostic, inspector.error());
  auto entries = inspector->peek(queue, max);
  if (!entries) return fail("cannot read queue: " + entries.error().message(), entries.error());
  const auto now = core::SystemClock::instance().now();
  if (entries->empty()) std::printf("%s is empty\n", queue.to_string().c_str());
  for (const auto& e : *entries) {
    const auto& m = e.message;
    std::printf("seq %llu  from %s  enqueued %s  expires %s%s\n",
                static_cast<unsigned long long>(e.seq), m.origin.to_string().c_str(),
                format_time(m.enqueued_at).c_str(), format_time(e.expires_at).c_str(),
                e.expires_at <= now ? " (EXPIRED)" : "");
    for (std::size_t i = 0; i < m.sys.size(); ++i) {
      if (!m.sys[i]) continue;
      const auto name = core::system_property_name(static_cast<core::SystemProperty>(i));
      std::printf("  $%.*s = %s\n", static_cast<int>(name.size()), name.data(), m.sys[i]->c_str());
    }
    for (const auto& p : m.app) {
      std::printf("  %s%s%s\n", p.name.c_str(), p.value ? " = " : " (null)",
                  p.value ? p.value->c_str() : "");
    }
    std::printf("  body (%zu bytes) %s\n", m.body.size(), preview(m.body).c_str());
  }
  return kExitOk;
}

int do_purge(const fs::path& db, const store::QueueId& queue) {
  std::string diagnostic;
  auto removed = store::purge_offline(db, queue, diagnostic);
  if (!removed) return fail(diagnostic, removed.error());
  std::printf("purged %llu entries from %s\n", static_cast<unsigned long long>(*removed),
              queue.to_string().c_str());
  return kExitOk;
}

}  // namespace

int run_queue(Args args) {
  const auto wants_help = [](const std::string& a) { return a == "--help" || a == "-h"; };
  if ((!args.empty() && args[0] == "help") || std::any_of(args.begin(), args.end(), wants_help)) {
    print_queue_usage(stdout);
    return kExitOk;
  }
  Options o;
  if (auto error = parse_args(args, o)) return usage_error(*error);
  const auto db = o.state_dir / store::kDatabaseFileName;
  if (o.verb == "list") return do_list(db);
  if (o.verb == "peek") return do_peek(db, *o.queue, o.max);
  return do_purge(db, *o.queue);
}

}  // namespace edgehub::app::ctl
