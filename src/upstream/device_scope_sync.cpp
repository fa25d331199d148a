#include "edgehub/upstream/device_scope_sync.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "edgehub/identity/sas_token.hpp"
#include "edgehub/net/https_client.hpp"
#include "edgehub/upstream/device_scope.hpp"

namespace edgehub::upstream {

namespace asio = boost::asio;

namespace {

// Pages one sync follows at most: a server handing out links forever cannot keep it busy.
constexpr std::size_t kMaxScopePages = 10000;
// Of an error answer, what the log shows (IoT Hub's error JSON; never a key).
constexpr std::size_t kLoggedErrorBytes = 300;

bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const auto n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// temp file (0600) + fsync + rename + fsync of the directory: a crash leaves the old cache or the
// new one, never half of one.
std::error_code write_atomically(const std::filesystem::path& file, std::string_view text) {
  const auto temp = file.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return {errno, std::generic_category()};
  bool ok = ::fchmod(fd, 0600) == 0 && write_all(fd, text) && ::fsync(fd) == 0;
  const int error = errno;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(temp.c_str(), file.c_str()) != 0) {
    const int e = ok ? errno : error;
    ::unlink(temp.c_str());
    return {e, std::generic_category()};
  }
  const int dir = ::open(file.parent_path().empty() ? "." : file.parent_path().c_str(),
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

}  // namespace

std::optional<DeviceScopeOptions> DeviceScopeOptions::from_config(
    const config::GatewayConfig& config, std::string& why) {
  if (!config.provisioning) {
    why = "no [provisioning]: only identities of the identities file can connect";
    return std::nullopt;
  }
  const auto& p = *config.provisioning;
  if (p.edgehub_module_key.empty() && p.sas_key.empty()) {
    why = "no [provisioning] edgehub_module_key to sign the device-scope calls with";
    return std::nullopt;
  }
  DeviceScopeOptions o;
  o.iothub_hostname = p.iothub_hostname;
  o.edge_device_id = p.device_id;
  // A HostName ":port" is for dialing (as the upstream uses it), else HTTPS's 443.
  o.host = config.parent_hostname.value_or(p.iothub_hostname);
  o.port = p.iothub_port.value_or(443);
  o.trust_bundle = config.trust_bundle_cert;
  o.proxy = config.proxy;
  o.edgehub_module_key = p.edgehub_module_key;
  if (p.method == config::ProvisioningAuth::sas) o.device_key = p.sas_key;
  o.cache_file = config.state_dir / kScopeCacheFile;
  return o;
}

struct DeviceScopeSync::State : std::enable_shared_from_this<State> {
  State(DeviceScopeOptions o, identity::ScopeIdentities& s, ops::Registry& metrics,
        const core::Clock& c, asio::any_io_executor e)
      : options(std::move(o)),
        scope(s),
        clock(c),
        executor(std::move(e)),
        timer(executor),
        syncs(metrics.counter("edgehubd_device_scope_sync_total",
                              "Device-scope synchronisations by result", {"result"})),
        rejected(metrics
                     .counter("edgehubd_device_scope_rejected_total",
                              "Device-scope entries skipped as unusable (cache file or API page)")
                     .with({})),
        requests(metrics.counter("edgehubd_device_scope_refresh_requests_total",
                                 "Refreshes asked for by unknown identities, by outcome",
                                 {"result"})),
        cache_writes(metrics.counter("edgehubd_device_scope_cache_writes_total",
                                     "Writes of the device-scope cache file by result",
                                     {"result"})),
        identities(metrics
                       .gauge("edgehubd_device_scope_identities",
                              "Identities in the synchronised device scope")
                       .with({})) {}

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    while (!stopping) {
      const bool ok = co_await sync_once();
      if (stopping) break;
      if (refresh_wanted.exchange(false)) continue;
      timer.expires_after(ok ? options.refresh_interval : options.retry_after_failure);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      refresh_wanted = false;  // this wake-up serves it
    }
  }

  asio::awaitable<bool> sync_once() {
    std::vector<identity::Identity> all;
    std::optional<std::string> link;
    std::size_t pages = 0;
    net::ClientEndpoint endpoint;
    endpoint.host = options.host;
    endpoint.port = options.port;
    endpoint.trust_bundle = options.trust_bundle;
    endpoint.proxy = options.proxy;
    const auto where = options.host + ":" + std::to_string(options.port);
    while (pages < kMaxScopePages) {
      auto token = authorization();
      if (!token) {
        spdlog::error("device scope: cannot sign the request: {}", token.error().message());
        syncs.with({"unauthorized"}).inc();
        co_return false;
      }
      net::HttpsRequest request;
      request.method = "POST";
      request.target = scope_request_target(options.edge_device_id);
      request.headers = {{"Authorization", std::move(*token)},
                         {"Content-Type", "application/json; charset=utf-8"},
                         {"Accept", "application/json"}};
      request.body = scope_request_body(options.page_size, link, options.edge_device_id);
      request.timeout = options.request_timeout;
      auto response = co_await net::https_request(executor, endpoint, std::move(request));
      if (stopping) co_return false;
      if (!response) {
        spdlog::warn("device scope: {} unreachable: {}; keeping {} identities", where,
                     response.error().message(), scope.size());
        syncs.with({"unreachable"}).inc();
        co_return false;
      }
      if (response->status == 401 && !device_token && !options.device_key.empty()) {
        // A parent edgehubd knows its child gateways by their device keys, not their $edgeHub's.
        device_token = true;
        continue;
      }
      if (response->status != 200) {
        spdlog::warn("device scope: {} answered {}: {}", where, response->status,
                     response->body.substr(0, kLoggedErrorBytes));
        syncs
            .with({response->status == 401 || response->status == 403 ? "unauthorized"
                                                                      : "http_error"})
            .inc();
        co_return false;
      }
      std::string why;
      auto page = parse_scope_page(response->body, why);
      if (!page) {
        spdlog::warn("device scope: {} sent an unusable page: {}", where, why);
        syncs.with({"bad_response"}).inc();
        co_return false;
      }
      ++pages;
      note_rejected(page->rejected, where);
      for (auto& id : page->identities)
        all.push_back(std::move(id));
      if (all.size() > kMaxScopeIdentities) {
        spdlog::warn("device scope: {} lists more than {} identities", where, kMaxScopeIdentities);
        syncs.with({"bad_response"}).inc();
        co_return false;
      }
      link = std::move(page->continuation_link);
      if (!link) break;
    }
    if (link) {
      spdlog::warn("device scope: {} still had pages after {}", where, kMaxScopePages);
      syncs.with({"bad_response"}).inc();
      co_return false;
    }
    const auto count = all.size();
    auto text = scope_cache_text(all);
    scope.replace(identity::Snapshot(std::move(all)));
    identities.set(static_cast<double>(count));
    syncs.with({"ok"}).inc();
    spdlog::info("device scope: {} identities from {} ({} pages)", count, where, pages);
    enqueue_write(std::move(text));
    co_return true;
  }

  core::Result<std::string> authorization() const {
    // IoT Hub wants the $edgeHub module's token; without its key, or for a parent edgehubd, the
    // device's own.
    const bool own = device_token || options.edgehub_module_key.empty();
    auto resource = options.iothub_hostname + "/devices/" + options.edge_device_id;
    if (!own) resource += "/modules/$edgeHub";
    return identity::make_sas_token(resource, own ? options.device_key : options.edgehub_module_key,
                                    clock.now() + options.token_ttl);
  }

  void note_rejected(const std::vector<ScopeEntryIssue>& issues, std::string_view from) {
    for (const auto& issue : issues) {
      spdlog::warn("device scope: {} from {} skipped: {}", issue.where, from, issue.reason);
      rejected.inc();
    }
  }

  void request_refresh() {
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto allowed = next_refresh_allowed.load();
    const auto delay =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(options.miss_delay).count();
    if (now < allowed || !next_refresh_allowed.compare_exchange_strong(allowed, now + delay)) {
      requests.with({"rate_limited"}).inc();
      return;
    }
    requests.with({"accepted"}).inc();
    wake();
  }

  // The next sync now: a sync in progress is followed by another one.
  void wake() {
    refresh_wanted = true;
    asio::post(executor, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->timer.cancel();
    });
  }

  // The writer thread: one pending text at most, the newest.
  void enqueue_write(std::string text) {
    {
      std::lock_guard lock(write_mutex);
      pending_write = std::move(text);
    }
    write_ready.notify_one();
  }

  void write_loop() {
    for (;;) {
      std::string text;
      {
        std::unique_lock lock(write_mutex);
        write_ready.wait(lock, [this] { return pending_write || quit_writer; });
        if (!pending_write) return;
        text = std::move(*pending_write);
        pending_write.reset();
      }
      if (auto ec = write_atomically(options.cache_file, text)) {
        spdlog::error("device scope: cannot write {}: {}", options.cache_file.string(),
                      ec.message());
        cache_writes.with({"error"}).inc();
      } else {
        cache_writes.with({"ok"}).inc();
      }
    }
  }

  const DeviceScopeOptions options;
  identity::ScopeIdentities& scope;
  const core::Clock& clock;
  asio::any_io_executor executor;
  asio::steady_timer timer;   ///< executor only
  bool device_token = false;  ///< executor only: the parent wants the device's own token
  std::atomic<bool> stopping{false};
  std::atomic<bool> refresh_wanted{false};
  std::atomic<std::chrono::steady_clock::rep> next_refresh_allowed{0};

  ops::CounterFamily& syncs;
  ops::Counter& rejected;
  ops::CounterFamily& requests;
  ops::CounterFamily& cache_writes;
  ops::Gauge& identities;

  std::mutex write_mutex;
  std::condition_variable write_ready;
  std::optional<std::string> pending_write;
  bool quit_writer = false;
  std::thread writer;
};

DeviceScopeSync::DeviceScopeSync(DeviceScopeOptions options, identity::ScopeIdentities& scope,
                                 ops::Registry& metrics, const core::Clock& clock,
                                 asio::any_io_executor executor)
    : state_(
          std::make_shared<State>(std::move(options), scope, metrics, clock, std::move(executor))) {
  state_->writer = std::thread([state = state_.get()] { state->write_loop(); });
}

DeviceScopeSync::~DeviceScopeSync() {
  stop();
  {
    std::lock_guard lock(state_->write_mutex);
    state_->quit_writer = true;
  }
  state_->write_ready.notify_one();
  // The last pending write finishes first: a sync that completed is kept on disk.
  if (state_->writer.joinable()) state_->writer.join();
}

bool DeviceScopeSync::load_cache(std::string& why) {
  const auto& file = state_->options.cache_file;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return true;
  if (auto issue = identity::check_file_mode(file)) {
    why = issue->to_string();
    return false;
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) {
    why = file.string() + ": cannot be read";
    return false;
  }
  auto page = parse_scope_page(text.str(), why);
  if (!page) {
    why = file.string() + ": " + why;
    return false;
  }
  state_->note_rejected(page->rejected, file.string());
  const auto count = page->identities.size();
  state_->scope.replace(identity::Snapshot(std::move(page->identities)));
  state_->identities.set(static_cast<double>(count));
  spdlog::info("device scope: {} identities from the cache {}", count, file.string());
  return true;
}

void DeviceScopeSync::start() {
  asio::co_spawn(state_->executor, state_->run(), asio::detached);
}

void DeviceScopeSync::stop() {
  state_->stopping = true;
  asio::post(state_->executor, [state = state_] { state->timer.cancel(); });
}

void DeviceScopeSync::request_refresh() {
  state_->request_refresh();
}

void DeviceScopeSync::refresh_now() {
  state_->wake();
}

}  // namespace edgehub::upstream
