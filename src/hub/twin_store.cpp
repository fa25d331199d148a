#include "edgehub/hub/twin_store.hpp"

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "edgehub/hub/errors.hpp"
#include "edgehub/ops/logging.hpp"

namespace edgehub::hub {

using Json = nlohmann::json;

// --- errors ---------------------------------------------------------------------------------

namespace {

class TwinCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "edgehub.twin"; }
  std::string message(int ev) const override {
    switch (static_cast<TwinErrc>(ev)) {
      case TwinErrc::malformed_json:
        return "twin patch is not valid JSON";
      case TwinErrc::not_an_object:
        return "twin patch must be a JSON object";
      case TwinErrc::too_deep:
        return "nested depth of twin properties exceeds 10";
      case TwinErrc::name_too_long:
        return "twin property name longer than 1024 bytes";
      case TwinErrc::invalid_name:
        return "twin property name contains '.', '$', a space or a control character";
      case TwinErrc::value_too_long:
        return "twin property string value longer than 4096 bytes";
      case TwinErrc::integer_out_of_range:
        return "twin property integer outside -4503599627370496..4503599627370495";
      case TwinErrc::document_too_large:
        return "twin properties larger than 32 KiB";
      case TwinErrc::null_in_array:
        return "twin property arrays cannot hold null";
    }
    return "invalid twin patch";
  }
};

}  // namespace

const boost::system::error_category& twin_category() noexcept {
  static const TwinCategory category;
  return category;
}

int twin_error_status(const boost::system::error_code& ec) noexcept {
  if (ec.category() == twin_category()) return 400;
  if (ec == Errc::too_many_pending) return 429;
  return 500;
}

// --- validation and merging -----------------------------------------------------------------

namespace {

bool valid_name(const std::string& name) {
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f || c == '.' || c == '$' || c == ' ') return false;
    // C1 controls U+0080..U+009F are 0xC2 0x80..0x9F in UTF-8.
    if (c == 0xC2 && i + 1 < name.size()) {
      const auto n = static_cast<unsigned char>(name[i + 1]);
      if (n >= 0x80 && n <= 0x9F) return false;
    }
  }
  return true;
}

core::Result<void> validate_value(const Json& value, std::size_t depth);

// `depth` is the level of the object's members: 1 for the patch's own members.
core::Result<void> validate_object(const Json& object, std::size_t depth) {
  if (depth > kMaxTwinDepth) return TwinErrc::too_deep;
  for (const auto& [name, value] : object.items()) {
    if (name.size() > kMaxTwinNameBytes) return TwinErrc::name_too_long;
    if (!valid_name(name)) return TwinErrc::invalid_name;
    if (auto r = validate_value(value, depth); !r) return r;
  }
  return {};
}

core::Result<void> validate_value(const Json& value, std::size_t depth) {
  switch (value.type()) {
    case Json::value_t::object:
      return validate_object(value, depth + 1);
    case Json::value_t::array:
      if (depth + 1 > kMaxTwinDepth) return TwinErrc::too_deep;
      for (const auto& element : value) {
        if (element.is_null()) return TwinErrc::null_in_array;
        if (auto r = validate_value(element, depth + 1); !r) return r;
      }
      return {};
    case Json::value_t::string:
      if (value.get_ref<const std::string&>().size() > kMaxTwinStringBytes)
        return TwinErrc::value_too_long;
      return {};
    case Json::value_t::number_integer: {
      const auto v = value.get<std::int64_t>();
      if (v < kMinTwinInteger || v > kMaxTwinInteger) return TwinErrc::integer_out_of_range;
      return {};
    }
    case Json::value_t::number_unsigned:
      if (value.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxTwinInteger))
        return TwinErrc::integer_out_of_range;
      return {};
    default:
      return {};
  }
}

core::Result<Json> parse_patch(std::string_view text) {
  // The raw text bounds the work before parsing (nlohmann's parser is not recursive, but
  // there is no reason to build a large document just to refuse it).
  if (text.size() > 2 * kMaxTwinDocumentBytes) return TwinErrc::document_too_large;
  Json patch = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (patch.is_discarded()) return TwinErrc::malformed_json;
  if (!patch.is_object()) return TwinErrc::not_an_object;
  return patch;
}

// A patch member set to null deletes; objects merge recursively; anything else replaces.
void merge(Json& target, const Json& patch) {
  for (const auto& [name, value] : patch.items()) {
    if (value.is_null()) {
      target.erase(name);
    } else if (value.is_object()) {
      auto& slot = target[name];
      if (!slot.is_object()) slot = Json::object();
      merge(slot, value);
    } else {
      target[name] = value;
    }
  }
}

// The pending patch keeps nulls: they delete the member at IoT Hub too. An object over a null
// turns the delete into a merge, as edgeHub's ReportedPropertiesStore does.
void merge_keeping_nulls(Json& target, const Json& patch) {
  for (const auto& [name, value] : patch.items()) {
    auto it = target.find(name);
    if (value.is_object() && it != target.end() && it->is_object()) {
      merge_keeping_nulls(*it, value);
    } else {
      target[name] = value;
    }
  }
}

Json difference(const Json& from, const Json& to) {
  Json diff = Json::object();
  for (const auto& [name, value] : to.items()) {
    if (name.starts_with('$')) continue;
    auto it = from.find(name);
    if (it == from.end()) {
      diff[name] = value;
    } else if (*it != value) {
      diff[name] = it->is_object() && value.is_object() ? difference(*it, value) : value;
    }
  }
  for (const auto& [name, value] : from.items()) {
    if (!name.starts_with('$') && !to.contains(name)) diff[name] = nullptr;
  }
  return diff;
}

std::int64_t version_of(const Json& section) {
  auto it = section.find("$version");
  return it != section.end() && it->is_number_integer() ? it->get<std::int64_t>() : 1;
}

Json new_twin() {
  return Json{{"desired", {{"$version", 1}}}, {"reported", {{"$version", 1}}}};
}

std::vector<std::byte> to_bytes(const std::string& s) {
  std::vector<std::byte> out(s.size());
  if (!s.empty()) std::memcpy(out.data(), s.data(), s.size());
  return out;
}

}  // namespace

std::string desired_difference(std::string_view from_json, std::string_view to_json) {
  const Json from = Json::parse(from_json, nullptr, false);
  const Json to = Json::parse(to_json, nullptr, false);
  return difference(from.is_object() ? from : Json::object(), to.is_object() ? to : Json::object())
      .dump();
}

core::Result<void> validate_reported_patch(std::string_view patch_json) {
  auto patch = parse_patch(patch_json);
  if (!patch) return patch.error();
  if (patch_json.size() > kMaxTwinDocumentBytes) return TwinErrc::document_too_large;
  return validate_object(*patch, 1);
}

// --- TwinStore ------------------------------------------------------------------------------

namespace {

constexpr const char* kNamespace = "twin";
// Inside the stored twin, next to "desired" and "reported": {"patch":{…},"seq":n}, the reported
// properties IoT Hub has not confirmed yet. One state value holds both, so one write keeps them
// consistent through a crash.
constexpr const char* kPending = "pending_reported";

// What a device sees of the stored twin.
Json device_view(const Json& twin) {
  const Json empty{{"$version", 1}};
  return Json{{"desired", twin.value("desired", empty)},
              {"reported", twin.value("reported", empty)}};
}

bool has_pending(const Json& twin) {
  auto it = twin.find(kPending);
  if (it == twin.end() || !it->is_object()) return false;
  auto patch = it->find("patch");
  return patch != it->end() && patch->is_object();
}

std::int64_t pending_seq(const Json& twin) {
  if (!has_pending(twin)) return 0;
  const auto& pending = twin.at(kPending);
  auto seq = pending.find("seq");
  return seq != pending.end() && seq->is_number_integer() ? seq->get<std::int64_t>() : 0;
}

bool usable_twin(const Json& fetched) {
  return fetched.is_object() && fetched.contains("desired") && fetched["desired"].is_object() &&
         fetched.contains("reported") && fetched["reported"].is_object();
}

}  // namespace

struct TwinStore::Impl : std::enable_shared_from_this<Impl> {
  /// One queued operation: it runs with the current twin and calls `next` when finished.
  using Op = std::function<void(Json twin, std::function<void()> next)>;
  using VersionDone = std::function<void(core::Result<std::int64_t>)>;

  Impl(store::MessageStore& s, DeviceChannels& c, Ingress* i, ops::Registry& r,
       const core::Clock& k, boost::asio::any_io_executor ex, TwinStoreOptions o)
      : store(s),
        channels(c),
        ingress(i),
        clock(k),
        options(o),
        strand(boost::asio::make_strand(ex)),
        sync_timer(strand),
        gets(r.counter("edgehub_gettwin_total", "Twin GET requests", {"source", "id"})),
        get_duration(r.summary("edgehub_gettwin_duration_seconds",
                               "Time to answer a twin GET request", {"source", "id"})),
        reported(r.counter("edgehub_reported_properties_total", "Reported property updates",
                           {"target", "id"})),
        reported_duration(r.summary("edgehub_reported_properties_update_duration_seconds",
                                    "Time to store a reported properties update",
                                    {"target", "id"})),
        sync_results(r.counter("edgehubd_twin_reported_sync_total",
                               "Pending reported-properties patches sent to IoT Hub, by outcome",
                               {"result"})),
        pending_gauge(r.gauge("edgehubd_twin_reported_pending",
                              "Identities with reported properties IoT Hub has not confirmed")
                          .with(std::vector<std::string>{})),
        desired_resyncs(
            r.counter("edgehubd_twin_desired_resync_total",
                      "Desired sections fetched again from IoT Hub, by cause and outcome",
                      {"cause", "result"})) {}

  double seconds_since(core::SteadyTime start) const {
    return std::chrono::duration<double>(clock.steady_now() - start).count();
  }

  /// Queues `op` for `id`; false when that identity already has too many waiting.
  bool enqueue(const core::ClientId& id, Op op) {
    auto& q = queues[id];
    if (q.size() >= kMaxTwinOpsPerIdentity) return false;
    q.push_back(std::move(op));
    if (q.size() == 1) run_front(id);
    return true;
  }

  void run_front(const core::ClientId& id) {
    store.async_get_state(
        kNamespace, id.to_string(),
        boost::asio::bind_executor(
            strand,
            [self = shared_from_this(), id](core::Result<std::optional<std::vector<std::byte>>> r) {
              Json twin = new_twin();
              if (!r) {
                // The operation itself reports the failure; it gets a null twin to tell.
                twin = Json();
              } else if (*r) {
                const auto& bytes = **r;
                Json stored = Json::parse(
                    std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                    nullptr, false);
                if (stored.is_object()) twin = std::move(stored);
              }
              auto& q = self->queues[id];
              auto op = std::move(q.front());
              op(std::move(twin), [self, id] {
                auto it = self->queues.find(id);
                it->second.pop_front();
                if (it->second.empty()) {
                  self->queues.erase(it);
                } else {
                  self->run_front(id);
                }
              });
            }));
  }

  void save(const core::ClientId& id, const Json& twin, std::function<void(core::ErrorCode)> done) {
    store.async_put_state(
        kNamespace, id.to_string(), to_bytes(twin.dump()),
        boost::asio::bind_executor(
            strand, [done = std::move(done)](core::Result<void> r) { done(r.error()); }));
  }

  void notify_change(const core::ClientId& id, const std::string& patch, std::int64_t version) {
    if (!ingress) return;
    core::Message m;
    m.kind = core::MessageKind::twin_change_notification;
    m.origin = id;
    m.set_body(patch);
    m.sys_prop(core::SystemProperty::version) = std::to_string(version);
    ingress->async_accept(
        std::move(m), boost::asio::bind_executor(strand, [id](core::Result<Accepted> r) {
          if (!r)
            ops::log(spdlog::level::warn, {.device_id = id.device, .module_id = id.module},
                     "twin change notification not routed: {}", r.error().message());
        }));
  }

  void send_desired(const core::ClientId& id, Json patch, std::int64_t version) {
    auto entry = channels.find(id);
    if (!entry || !entry->subscriptions.has(Subscription::desired_properties)) return;
    patch["$version"] = version;
    DeviceChannels::post_desired(entry->channel, DesiredPatch{patch.dump(), version});
  }

  // The reported section of a twin IoT Hub sent, with what it has not confirmed yet on top: the
  // device keeps seeing its own latest values.
  static Json reported_with_pending(const Json& cloud_reported, const Json& twin) {
    Json reported = cloud_reported;
    if (has_pending(twin)) {
      const Json version = reported.value("$version", Json(1));
      merge(reported, twin.at(kPending).at("patch"));
      reported["$version"] = version;
    }
    return reported;
  }

  // --- desired properties -------------------------------------------------------------------

  void apply_desired(const core::ClientId& id, Json twin, const Json& patch, std::int64_t version,
                     VersionDone done, std::function<void()> next) {
    auto& section = twin["desired"];
    merge(section, patch);
    section["$version"] = version;
    save(id, twin,
         [self = shared_from_this(), id, patch, version, done = std::move(done),
          next = std::move(next)](core::ErrorCode ec) {
           if (ec) {
             ops::log(spdlog::level::warn, {.device_id = id.device, .module_id = id.module},
                      "twin storage failed: {}", ec.message());
             done(make_error_code(Errc::storage_failure));
             return next();
           }
           self->send_desired(id, patch, version);
           done(version);
           next();
         });
  }

  /// The patch a notification carried, for when IoT Hub's twin cannot be had.
  struct Fallback {
    Json patch;
    std::int64_t version = 0;
  };

  // Replaces the cached desired section with IoT Hub's and sends the session the difference.
  void resync_desired(const core::ClientId& id, Json twin, std::string cause,
                      std::optional<Fallback> fallback, VersionDone done,
                      std::function<void()> next) {
    const auto current = version_of(twin["desired"]);
    auto fall_back = [self = shared_from_this(), id, twin, fallback, current, done,
                      next]() mutable {
      if (!fallback) {
        done(current);
        return next();
      }
      if (fallback->version <= current) {
        // Already seen (a refresh got there first): nothing to apply.
        done(current);
        return next();
      }
      ops::log(spdlog::level::info, {.device_id = id.device, .module_id = id.module},
               "desired $version {} after {} and IoT Hub's twin not available: patch applied as "
               "it came",
               fallback->version, current);
      self->apply_desired(id, std::move(twin), fallback->patch, fallback->version, std::move(done),
                          std::move(next));
    };
    CloudTwins* upstream = cloud.load();
    if (!upstream) {
      desired_resyncs.with({cause, "unavailable"}).inc();
      return fall_back();
    }
    upstream->fetch_twin(id, [self = shared_from_this(), id, twin = std::move(twin), cause,
                              fall_back, done = std::move(done),
                              next = std::move(next)](core::Result<std::string> r) mutable {
      boost::asio::post(self->strand, [self, id, twin = std::move(twin), cause, fall_back,
                                       done = std::move(done), next = std::move(next),
                                       r = std::move(r)]() mutable {
        const Json fetched = r ? Json::parse(*r, nullptr, false) : Json();
        if (!usable_twin(fetched)) {
          self->desired_resyncs.with({cause, "unavailable"}).inc();
          return fall_back();
        }
        Json old_desired = twin["desired"].is_object() ? twin["desired"] : Json::object();
        Json diff = difference(old_desired, fetched["desired"]);
        const auto version = version_of(fetched["desired"]);
        twin["desired"] = fetched["desired"];
        twin["reported"] = reported_with_pending(fetched["reported"], twin);
        self->save(id, twin,
                   [self, id, cause, diff = std::move(diff), version, done = std::move(done),
                    next = std::move(next)](core::ErrorCode ec) {
                     if (ec) {
                       ops::log(spdlog::level::warn,
                                {.device_id = id.device, .module_id = id.module},
                                "twin storage failed: {}", ec.message());
                       self->desired_resyncs.with({cause, "storage_failure"}).inc();
                       done(make_error_code(Errc::storage_failure));
                       return next();
                     }
                     const bool changed = !diff.empty();
                     self->desired_resyncs.with({cause, changed ? "changed" : "unchanged"}).inc();
                     if (changed) self->send_desired(id, diff, version);
                     done(version);
                     next();
                   });
      });
    });
  }

  // --- reported-properties sync ---------------------------------------------------------------

  void remember_pending(const core::ClientId& id) {
    pending_ids.insert(id);
    pending_gauge.set(static_cast<double>(pending_ids.size()));
  }
  void forget_pending(const core::ClientId& id) {
    pending_ids.erase(id);
    pending_gauge.set(static_cast<double>(pending_ids.size()));
  }

  void arm_sync() {
    sync_timer.expires_after(options.reported_sync_interval);
    sync_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || !self->cloud.load()) return;
      self->start_round({});
      self->arm_sync();
    });
  }

  // One round: every identity with a pending patch, one after the other. A round asked for
  // while one runs follows it.
  void start_round(std::function<void(std::size_t)> finished) {
    if (finished) next_round_waiters.push_back(std::move(finished));
    // Before the store told which identities have a pending patch, a round would miss them.
    if (syncing || !loaded) {
      round_requested = true;
      return;
    }
    syncing = true;
    round_requested = false;
    round_waiters = std::move(next_round_waiters);
    next_round_waiters.clear();
    auto ids =
        std::make_shared<std::vector<core::ClientId>>(pending_ids.begin(), pending_ids.end());
    sync_step(std::move(ids), 0, 0);
  }

  /// How one identity's turn in a round ended.
  enum class Synced { cleared, kept, unreachable };

  void sync_step(std::shared_ptr<std::vector<core::ClientId>> ids, std::size_t i,
                 std::size_t cleared) {
    if (i == ids->size()) return end_round(cleared);
    const auto id = (*ids)[i];
    sync_one(id, [self = shared_from_this(), ids = std::move(ids), i, cleared](Synced outcome) {
      // Posted: completions may come synchronously, and a round may hold many identities.
      boost::asio::post(self->strand, [self, ids, i, outcome,
                                       n = cleared + (outcome == Synced::cleared ? 1 : 0)] {
        // IoT Hub could not be asked: the others wait for the next round rather than each
        // paying for a connection attempt now.
        if (outcome == Synced::unreachable) return self->end_round(n);
        self->sync_step(ids, i + 1, n);
      });
    });
  }

  void end_round(std::size_t cleared) {
    syncing = false;
    auto waiters = std::move(round_waiters);
    round_waiters.clear();
    for (auto& w : waiters)
      w(cleared);
    if (round_requested) start_round({});
  }

  // Sends `id`'s pending patch.
  void sync_one(const core::ClientId& id, std::function<void(Synced)> finished) {
    const bool queued = enqueue(
        id, [self = shared_from_this(), id, finished](Json twin, std::function<void()> next) {
          next();  // the identity's other operations need not wait for IoT Hub
          if (twin.is_null()) return finished(Synced::kept);
          if (!has_pending(twin)) {
            self->forget_pending(id);
            return finished(Synced::cleared);
          }
          CloudTwins* upstream = self->cloud.load();
          if (!upstream) return finished(Synced::unreachable);
          const auto seq = pending_seq(twin);
          upstream->update_reported(id, twin[kPending]["patch"].dump(),
                                    [self, id, seq, finished](core::Result<int> r) {
                                      boost::asio::post(self->strand, [self, id, seq, finished, r] {
                                        self->on_synced(id, seq, r, finished);
                                      });
                                    });
        });
    if (!queued) finished(Synced::kept);
  }

  void on_synced(const core::ClientId& id, std::int64_t seq, core::Result<int> r,
                 std::function<void(Synced)> finished) {
    const ops::LogFields fields{.device_id = id.device, .module_id = id.module};
    if (!r || *r < 200 || (*r >= 300 && *r < 400) || *r >= 500) {
      sync_results.with({"failed"}).inc();
      ops::log(spdlog::level::debug, fields, "reported properties not synchronised yet: {}",
               r ? "IoT Hub answered " + std::to_string(*r) : r.error().message());
      // Only a connection-level failure says the others would fail too; an identity IoT Hub
      // refuses (or a full queue) must not hold back the rest of the round.
      const bool unreachable =
          !r && (r.error() == Errc::disconnected || r.error() == Errc::timeout ||
                 r.error() == Errc::shutting_down);
      return finished(unreachable ? Synced::unreachable : Synced::kept);
    }
    const bool accepted = *r < 300;
    sync_results.with({accepted ? "synced" : "rejected"}).inc();
    if (accepted) {
      reported.with({"upstream", id.to_string()}).inc();
    } else {
      ops::log(spdlog::level::warn, fields,
               "IoT Hub refused the reported properties of {} (status {}): dropped", id.to_string(),
               *r);
    }
    const bool queued = enqueue(
        id, [self = shared_from_this(), id, seq, finished](Json twin, std::function<void()> next) {
          if (twin.is_null() || !has_pending(twin)) {
            next();
            return finished(twin.is_null() ? Synced::kept : Synced::cleared);
          }
          if (pending_seq(twin) != seq) {
            // A newer patch was merged in while this one was on its way: the merged patch goes in
            // the next round (sending the older members again is harmless, patches merge).
            next();
            return finished(Synced::kept);
          }
          twin.erase(kPending);
          self->save(id, twin, [self, id, finished, next](core::ErrorCode ec) {
            if (!ec) self->forget_pending(id);
            finished(ec ? Synced::kept : Synced::cleared);
            next();
          });
        });
    if (!queued) finished(Synced::kept);
  }

  void load_pending() {
    store.async_list_state(
        kNamespace,
        boost::asio::bind_executor(strand, [self = shared_from_this()](
                                               core::Result<std::vector<store::StateEntry>> r) {
          if (!r) {
            ops::log(spdlog::level::warn, {}, "pending reported properties not listed: {}",
                     r.error().message());
          } else {
            for (const auto& e : *r) {
              const Json twin = Json::parse(
                  std::string_view(reinterpret_cast<const char*>(e.value.data()), e.value.size()),
                  nullptr, false);
              if (twin.is_object() && has_pending(twin)) {
                core::ClientId id;
                if (core::ClientId::parse(e.key, id)) self->remember_pending(id);
              }
            }
          }
          self->loaded = true;
          if (self->round_requested) self->start_round({});
        }));
  }

  store::MessageStore& store;
  DeviceChannels& channels;
  Ingress* ingress;
  const core::Clock& clock;
  const TwinStoreOptions options;
  boost::asio::strand<boost::asio::any_io_executor> strand;
  boost::asio::steady_timer sync_timer;
  ops::CounterFamily& gets;
  ops::SummaryFamily& get_duration;
  ops::CounterFamily& reported;
  ops::SummaryFamily& reported_duration;
  ops::CounterFamily& sync_results;
  ops::Gauge& pending_gauge;
  ops::CounterFamily& desired_resyncs;
  std::atomic<CloudTwins*> cloud{nullptr};

  // Strand state.
  std::map<core::ClientId, std::deque<Op>> queues;
  std::set<core::ClientId> pending_ids;
  std::map<core::ClientId, core::SteadyTime> refreshed;
  bool loaded = false;  ///< pending_ids holds what the store had at start
  bool syncing = false;
  bool round_requested = false;
  std::vector<std::function<void(std::size_t)>> round_waiters;
  std::vector<std::function<void(std::size_t)>> next_round_waiters;
};

TwinStore::TwinStore(store::MessageStore& store, DeviceChannels& channels, Ingress* ingress,
                     ops::Registry& registry, const core::Clock& clock,
                     boost::asio::any_io_executor executor, TwinStoreOptions options)
    : executor_(executor),
      impl_(std::make_shared<Impl>(store, channels, ingress, registry, clock, executor, options)) {
  impl_->load_pending();
}

TwinStore::~TwinStore() {
  impl_->cloud.store(nullptr);  // the timer's next expiry ends the sync
}

void TwinStore::set_cloud(CloudTwins* cloud) {
  const bool was_set = impl_->cloud.exchange(cloud) != nullptr;
  if (cloud && !was_set) {
    boost::asio::post(impl_->strand, [self = impl_] { self->arm_sync(); });
  } else if (!cloud && was_set) {
    boost::asio::post(impl_->strand, [self = impl_] { self->sync_timer.cancel(); });
  }
}

void TwinStore::on_cloud_online() {
  boost::asio::post(impl_->strand, [self = impl_] {
    if (self->cloud.load()) self->start_round({});
  });
}

void TwinStore::refresh_desired(core::ClientId id) {
  boost::asio::post(impl_->strand, [self = impl_, id = std::move(id)] {
    if (!self->cloud.load()) return;
    const auto now = self->clock.steady_now();
    auto [it, first] = self->refreshed.try_emplace(id, now);
    if (!first) {
      if (now - it->second < self->options.min_desired_refresh) return;
      it->second = now;
    }
    (void)self->enqueue(id, [self, id](Json twin, std::function<void()> next) {
      if (twin.is_null()) return next();
      self->resync_desired(
          id, std::move(twin), "reconnect", std::nullopt, [](core::Result<std::int64_t>) {},
          std::move(next));
    });
  });
}

void TwinStore::sync_reported(store::Completion<std::size_t> done) {
  auto shared_done = std::make_shared<store::Completion<std::size_t>>(std::move(done));
  boost::asio::post(impl_->strand, [self = impl_, shared_done] {
    self->start_round([shared_done](std::size_t cleared) { (*shared_done)(cleared); });
  });
}

void TwinStore::get(core::ClientId id, store::Completion<std::string> done) {
  boost::asio::post(impl_->strand, [self = impl_, id = std::move(id),
                                    done = std::move(done)]() mutable {
    auto shared_done = std::make_shared<store::Completion<std::string>>(std::move(done));
    const auto started = self->clock.steady_now();
    const bool queued =
        self->enqueue(id, [self, id, shared_done, started](Json twin, std::function<void()> next) {
          // Answers the GET from `t` (counted by where it came from) and lets the next op run.
          auto answer = [self, id, shared_done, started](const Json& t, std::string_view source) {
            self->gets.with({std::string(source), id.to_string()}).inc();
            self->get_duration.with({std::string(source), id.to_string()})
                .observe(self->seconds_since(started));
            (*shared_done)(device_view(t).dump());
          };
          auto fail = [shared_done] { (*shared_done)(make_error_code(Errc::storage_failure)); };
          CloudTwins* cloud = self->cloud.load();
          if (!cloud) {
            twin.is_null() ? fail() : answer(twin, "edge");
            return next();
          }
          cloud->fetch_twin(id, [self, id, twin = std::move(twin), answer, fail,
                                 next = std::move(next)](core::Result<std::string> r) mutable {
            boost::asio::post(self->strand, [self, id, twin = std::move(twin), answer, fail,
                                             next = std::move(next), r = std::move(r)]() {
              const Json fetched = r ? Json::parse(*r, nullptr, false) : Json();
              if (!usable_twin(fetched)) {
                // Offline or refused: the cached twin, never an empty one while one is cached.
                twin.is_null() ? fail() : answer(twin, "edge");
                return next();
              }
              Json fresh = twin.is_null() ? new_twin() : twin;
              fresh["desired"] = fetched["desired"];
              fresh["reported"] = Impl::reported_with_pending(fetched["reported"], fresh);
              self->save(id, fresh, [id](core::ErrorCode ec) {
                if (ec) {
                  ops::log(spdlog::level::warn, {.device_id = id.device, .module_id = id.module},
                           "twin from upstream not cached: {}", ec.message());
                }
              });
              answer(fresh, "upstream");
              next();
            });
          });
        });
    if (!queued) (*shared_done)(make_error_code(Errc::too_many_pending));
  });
}

void TwinStore::update_reported(core::ClientId id, std::string patch_text,
                                store::Completion<std::int64_t> done) {
  boost::asio::post(impl_->strand, [self = impl_, id = std::move(id), text = std::move(patch_text),
                                    done = std::move(done)]() mutable {
    auto patch = parse_patch(text);
    core::Result<void> valid = patch ? core::Result<void>{} : core::Result<void>(patch.error());
    if (valid && text.size() > kMaxTwinDocumentBytes) valid = TwinErrc::document_too_large;
    if (valid) valid = validate_object(*patch, 1);
    if (!valid) {
      ops::log(spdlog::level::info, {.device_id = id.device, .module_id = id.module},
               "reported properties refused: {}", valid.error().message());
      done(valid.error());
      return;
    }
    auto shared_done = std::make_shared<store::Completion<std::int64_t>>(std::move(done));
    auto shared_patch = std::make_shared<Json>(std::move(*patch));
    const auto started = self->clock.steady_now();
    const bool queued = self->enqueue(id, [self, id, shared_done, shared_patch, text, started](
                                              Json twin, std::function<void()> next) {
      if (twin.is_null()) {
        (*shared_done)(make_error_code(Errc::storage_failure));
        next();
        return;
      }
      auto& section = twin["reported"];
      if (!section.is_object()) section = Json{{"$version", 1}};
      const auto version = version_of(section) + 1;
      Json merged = section;
      merged.erase("$version");
      merge(merged, *shared_patch);
      // What IoT Hub has not confirmed yet, written with the twin: the device's ack implies both.
      Json pending = has_pending(twin) ? twin.at(kPending).at("patch") : Json::object();
      merge_keeping_nulls(pending, *shared_patch);
      if (merged.dump().size() > kMaxTwinDocumentBytes ||
          pending.dump().size() > kMaxTwinDocumentBytes) {
        (*shared_done)(make_error_code(TwinErrc::document_too_large));
        next();
        return;
      }
      merged["$version"] = version;
      section = std::move(merged);
      twin[kPending] = Json{{"patch", std::move(pending)}, {"seq", pending_seq(twin) + 1}};
      self->save(id, twin,
                 [self, id, shared_done, text, version, next, started](core::ErrorCode ec) {
                   if (ec) {
                     ops::log(spdlog::level::warn, {.device_id = id.device, .module_id = id.module},
                              "twin storage failed: {}", ec.message());
                     (*shared_done)(make_error_code(Errc::storage_failure));
                   } else {
                     self->remember_pending(id);
                     self->reported.with({"edge", id.to_string()}).inc();
                     self->reported_duration.with({"edge", id.to_string()})
                         .observe(self->seconds_since(started));
                     // edgeHub routes every reported-properties update as /twinChangeNotifications.
                     self->notify_change(id, text, version);
                     (*shared_done)(version);
                   }
                   next();
                 });
    });
    if (!queued) (*shared_done)(make_error_code(Errc::too_many_pending));
  });
}

void TwinStore::set_desired(core::ClientId id, std::string patch_text,
                            store::Completion<std::int64_t> done) {
  boost::asio::post(impl_->strand, [self = impl_, id = std::move(id), text = std::move(patch_text),
                                    done = std::move(done)]() mutable {
    auto patch = parse_patch(text);
    if (!patch) {
      done(patch.error());
      return;
    }
    std::optional<std::int64_t> version;
    if (auto it = patch->find("$version"); it != patch->end() && it->is_number_integer()) {
      version = it->get<std::int64_t>();
    }
    patch->erase("$version");
    auto shared_done = std::make_shared<store::Completion<std::int64_t>>(std::move(done));
    Impl::VersionDone finish = [shared_done](core::Result<std::int64_t> r) { (*shared_done)(r); };
    const bool queued = self->enqueue(id, [self, id, finish, patch = std::move(*patch), version](
                                              Json twin, std::function<void()> next) {
      if (twin.is_null()) {
        finish(make_error_code(Errc::storage_failure));
        return next();
      }
      auto& section = twin["desired"];
      if (!section.is_object()) section = Json{{"$version", 1}};
      const auto current = version_of(section);
      if (!version || *version == current + 1) {
        return self->apply_desired(id, std::move(twin), patch, version.value_or(current + 1),
                                   finish, std::move(next));
      }
      // A notification went missing (or this one is stale): IoT Hub's twin tells what changed.
      ops::log(spdlog::level::info, {.device_id = id.device, .module_id = id.module},
               "desired $version {} after {}: fetching the twin", *version, current);
      self->resync_desired(id, std::move(twin), "version_gap", Impl::Fallback{patch, *version},
                           finish, std::move(next));
    });
    if (!queued) (*shared_done)(make_error_code(Errc::too_many_pending));
  });
}

}  // namespace edgehub::hub
