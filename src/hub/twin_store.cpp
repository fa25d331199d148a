#include "edgehub/hub/twin_store.hpp"

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
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

core::Result<void> validate_reported_patch(std::string_view patch_json) {
  auto patch = parse_patch(patch_json);
  if (!patch) return patch.error();
  if (patch_json.size() > kMaxTwinDocumentBytes) return TwinErrc::document_too_large;
  return validate_object(*patch, 1);
}

// --- TwinStore ------------------------------------------------------------------------------

namespace {
constexpr const char* kNamespace = "twin";
}

struct TwinStore::Impl : std::enable_shared_from_this<Impl> {
  /// One queued operation: it runs with the current twin and calls `next` when finished.
  using Op = std::function<void(Json twin, std::function<void()> next)>;

  Impl(store::MessageStore& s, DeviceChannels& c, Ingress* i, ops::Registry& r,
       const core::Clock& k, boost::asio::any_io_executor ex)
      : store(s),
        channels(c),
        ingress(i),
        clock(k),
        strand(boost::asio::make_strand(ex)),
        gets(r.counter("edgehub_gettwin_total", "Twin GET requests", {"source", "id"})),
        get_duration(r.summary("edgehub_gettwin_duration_seconds",
                               "Time to answer a twin GET request", {"source", "id"})),
        reported(r.counter("edgehub_reported_properties_total", "Reported property updates",
                           {"target", "id"})),
        reported_duration(r.summary("edgehub_reported_properties_update_duration_seconds",
                                    "Time to store a reported properties update",
                                    {"target", "id"})) {}

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

  store::MessageStore& store;
  DeviceChannels& channels;
  Ingress* ingress;
  const core::Clock& clock;
  boost::asio::strand<boost::asio::any_io_executor> strand;
  ops::CounterFamily& gets;
  ops::SummaryFamily& get_duration;
  ops::CounterFamily& reported;
  ops::SummaryFamily& reported_duration;
  std::map<core::ClientId, std::deque<Op>> queues;  // strand only
  std::atomic<CloudTwins*> cloud{nullptr};
};

TwinStore::TwinStore(store::MessageStore& store, DeviceChannels& channels, Ingress* ingress,
                     ops::Registry& registry, const core::Clock& clock,
                     boost::asio::any_io_executor executor)
    : executor_(executor),
      impl_(std::make_shared<Impl>(store, channels, ingress, registry, clock, executor)) {}

TwinStore::~TwinStore() = default;

void TwinStore::set_cloud(CloudTwins* cloud) {
  impl_->cloud.store(cloud);
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
            (*shared_done)(t.dump());
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
              const bool usable = fetched.is_object() && fetched.contains("desired") &&
                                  fetched["desired"].is_object() && fetched.contains("reported") &&
                                  fetched["reported"].is_object();
              if (!usable) {
                // Offline or refused: the cached twin, never an empty one while one is cached.
                twin.is_null() ? fail() : answer(twin, "edge");
                return next();
              }
              Json fresh = twin.is_null() ? new_twin() : twin;
              fresh["desired"] = fetched["desired"];
              fresh["reported"] = fetched["reported"];
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
      if (merged.dump().size() > kMaxTwinDocumentBytes) {
        (*shared_done)(make_error_code(TwinErrc::document_too_large));
        next();
        return;
      }
      merged["$version"] = version;
      section = std::move(merged);
      self->save(id, twin,
                 [self, id, shared_done, text, version, next, started](core::ErrorCode ec) {
                   if (ec) {
                     ops::log(spdlog::level::warn, {.device_id = id.device, .module_id = id.module},
                              "twin storage failed: {}", ec.message());
                     (*shared_done)(make_error_code(Errc::storage_failure));
                   } else {
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
    patch->erase("$version");
    auto shared_done = std::make_shared<store::Completion<std::int64_t>>(std::move(done));
    auto shared_patch = std::make_shared<Json>(std::move(*patch));
    const bool queued = self->enqueue(
        id, [self, id, shared_done, shared_patch](Json twin, std::function<void()> next) {
          if (twin.is_null()) {
            (*shared_done)(make_error_code(Errc::storage_failure));
            next();
            return;
          }
          auto& section = twin["desired"];
          if (!section.is_object()) section = Json{{"$version", 1}};
          const auto version = version_of(section) + 1;
          merge(section, *shared_patch);
          section["$version"] = version;
          self->save(
              id, twin, [self, id, shared_done, shared_patch, version, next](core::ErrorCode ec) {
                if (ec) {
                  ops::log(spdlog::level::warn, {.device_id = id.device, .module_id = id.module},
                           "twin storage failed: {}", ec.message());
                  (*shared_done)(make_error_code(Errc::storage_failure));
                  next();
                  return;
                }
                auto entry = self->channels.find(id);
                if (entry && entry->subscriptions.has(Subscription::desired_properties)) {
                  Json notification = *shared_patch;
                  notification["$version"] = version;
                  DeviceChannels::post_desired(entry->channel,
                                               DesiredPatch{notification.dump(), version});
                }
                (*shared_done)(version);
                next();
              });
        });
    if (!queued) (*shared_done)(make_error_code(Errc::too_many_pending));
  });
}

}  // namespace edgehub::hub
