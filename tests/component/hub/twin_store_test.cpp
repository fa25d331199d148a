// TwinStore on a real SQLite store: GET of new and existing twins, reported patches (merge,
// versions, every validation rule), persistence across a reopen, the /twinChangeNotifications
// message, desired patches reaching subscribed sessions; with a scripted cloud: the pending
// reported patch and its sync rounds, desired $version gaps and refreshes sent as differences.

#include "edgehub/hub/twin_store.hpp"

#include <nlohmann/json.hpp>
#include <set>

#include "component/hub/hub_fixture.hpp"
#include "edgehub/hub/errors.hpp"

namespace edgehub::hub::testing {
namespace {

using Json = nlohmann::json;

const core::ClientId kDev{"dev1", ""};
const core::ClientId kMod{kGateway, "filter"};

class TwinStoreTest : public HubFixture {
 protected:
  void start_twins(std::vector<config::RouteSpec> specs = {}) {
    start(specs);
    // Sync rounds only when a test asks for one (async_sync_reported).
    twins_ = std::make_unique<TwinStore>(*store_, channels_, ingress_.get(), registry_, clock_,
                                         ioc_.get_executor(),
                                         TwinStoreOptions{std::chrono::hours(1), kRefresh});
  }
  std::size_t sync() {
    auto r = store::testing::wait_for<std::size_t>(
        ioc_, [&](auto h) { twins_->async_sync_reported(std::move(h)); });
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : 0;
  }
  double pending_gauge() {
    return registry_.gauge("edgehubd_twin_reported_pending", "")
        .with(std::vector<std::string>{})
        .value();
  }
  std::uint64_t sync_results(const std::string& result) {
    return counter("edgehubd_twin_reported_sync_total", {"result"}, {result});
  }
  static constexpr std::chrono::milliseconds kRefresh{120000};
  void reopen() {
    settle();
    twins_.reset();
    ingress_.reset();
    forwarders_->stop_all();
    settle();
    forwarders_.reset();
    store_.reset();
    start_twins();
  }
  Json get(const core::ClientId& id) {
    auto r = store::testing::wait_for<std::string>(
        ioc_, [&](auto h) { twins_->async_get(id, std::move(h)); });
    EXPECT_TRUE(r) << r.error().message();
    return r ? Json::parse(*r) : Json();
  }
  core::Result<std::int64_t> report(const core::ClientId& id, std::string patch) {
    return store::testing::wait_for<std::int64_t>(
        ioc_, [&](auto h) { twins_->async_update_reported(id, std::move(patch), std::move(h)); });
  }
  core::Result<std::int64_t> desire(const core::ClientId& id, std::string patch) {
    return store::testing::wait_for<std::int64_t>(
        ioc_, [&](auto h) { twins_->async_set_desired(id, std::move(patch), std::move(h)); });
  }
  core::ErrorCode refused(std::string patch) {
    auto r = report(kDev, std::move(patch));
    return r ? core::ErrorCode{} : r.error();
  }
  static std::string nested(std::size_t levels) {
    std::string s = "1";
    for (std::size_t i = levels; i > 0; --i)
      s = "{\"l" + std::to_string(i) + "\":" + s + "}";
    return s;
  }

  std::unique_ptr<TwinStore> twins_;
};

TEST_F(TwinStoreTest, ANewTwinHasEmptySectionsAtVersionOne) {
  start_twins();
  EXPECT_EQ(get(kDev), Json::parse(R"({"desired":{"$version":1},"reported":{"$version":1}})"));
  EXPECT_EQ(counter("edgehub_gettwin_total", {"source", "id"}, {"edge", "dev1"}), 1u);
  EXPECT_EQ(registry_.summary("edgehub_gettwin_duration_seconds", "", {"source", "id"})
                .with({"edge", "dev1"})
                .snapshot()
                .count,
            1u);
}

// IoT Hub's side of twin GETs and reported patches, answered from the test.
class ScriptedCloud final : public CloudTwins {
 public:
  void fetch_twin(const core::ClientId& id,
                  std::function<void(core::Result<std::string>)> done) override {
    asked.push_back(id.to_string());
    answer ? done(*answer) : done(make_error_code(Errc::disconnected));
  }
  void update_reported(const core::ClientId& id, std::string patch,
                       std::function<void(core::Result<int>)> done) override {
    patches.emplace_back(id.to_string(), Json::parse(patch));
    if (hold) {
      held = std::move(done);
      return;
    }
    if (refused.count(id.to_string())) return done(make_error_code(Errc::not_authorized));
    status ? done(*status) : done(make_error_code(Errc::disconnected));
  }
  std::optional<std::string> answer;
  std::vector<std::string> asked;
  std::optional<int> status;      ///< none: offline
  bool hold = false;              ///< keep the next patch's `done` in `held`
  std::set<std::string> refused;  ///< identities IoT Hub does not accept
  std::function<void(core::Result<int>)> held;
  std::vector<std::pair<std::string, Json>> patches;
};

TEST_F(TwinStoreTest, AGetAsksTheCloudCachesItsTwinAndFallsBackToTheCacheWhenItFails) {
  start_twins();
  ScriptedCloud cloud;
  twins_->set_cloud(&cloud);
  // Offline before anything is cached: the new twin, as before.
  EXPECT_EQ(get(kDev), Json::parse(R"({"desired":{"$version":1},"reported":{"$version":1}})"));
  cloud.answer = R"({"desired":{"colour":"red","$version":7},"reported":{"fw":"2","$version":4}})";
  EXPECT_EQ(get(kDev)["desired"]["colour"], "red");
  EXPECT_EQ(counter("edgehub_gettwin_total", {"source", "id"}, {"upstream", "dev1"}), 1u);
  // The hub goes away (or answers nonsense): the cached twin answers, never an empty one.
  cloud.answer.reset();
  const auto cached = get(kDev);
  EXPECT_EQ(cached["desired"]["colour"], "red");
  EXPECT_EQ(cached["reported"]["$version"], 4);
  cloud.answer = "not json";
  EXPECT_EQ(get(kDev)["desired"]["$version"], 7);
  // Reported patches continue from the hub's version.
  auto v = report(kDev, R"({"fw":"3"})");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 5);
  EXPECT_EQ(cloud.asked.size(), 4u);
  twins_->set_cloud(nullptr);
  EXPECT_EQ(get(kDev)["reported"]["fw"], "3");
  EXPECT_EQ(cloud.asked.size(), 4u);
}

TEST_F(TwinStoreTest, ReportedPatchesMergeDeleteWithNullAndIncrementTheVersion) {
  start_twins();
  auto v = report(kDev, R"({"fw":"1.0","net":{"ssid":"a","rssi":-40},"old":true})");
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(*v, 2);
  v = report(kDev, R"({"net":{"rssi":-50,"ssid":null},"old":null,"list":[1,2]})");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 3);
  EXPECT_EQ(get(kDev)["reported"],
            Json::parse(R"({"fw":"1.0","net":{"rssi":-50},"list":[1,2],"$version":3})"));
  EXPECT_EQ(get(kDev)["desired"], Json::parse(R"({"$version":1})"));
  EXPECT_EQ(counter("edgehub_reported_properties_total", {"target", "id"}, {"edge", "dev1"}), 2u);
  EXPECT_EQ(
      registry_.summary("edgehub_reported_properties_update_duration_seconds", "", {"target", "id"})
          .with({"edge", "dev1"})
          .snapshot()
          .count,
      2u);
  // Identities are separate.
  EXPECT_EQ(get(kMod)["reported"], Json::parse(R"({"$version":1})"));
}

TEST_F(TwinStoreTest, AGetQueuedAfterAPatchSeesIt) {
  start_twins();
  std::optional<core::Result<std::int64_t>> patched;
  std::optional<core::Result<std::string>> got;
  twins_->async_update_reported(kDev, R"({"a":1})",
                                [&](core::Result<std::int64_t> r) { patched.emplace(r); });
  twins_->async_get(kDev, [&](core::Result<std::string> r) { got.emplace(std::move(r)); });
  ASSERT_TRUE(run_until(ioc_, [&] { return patched && got; }));
  ASSERT_TRUE(*got);
  EXPECT_EQ(Json::parse(**got)["reported"]["a"], 1);
}

TEST_F(TwinStoreTest, EveryValidationRuleRefusesWith400Reasons) {
  start_twins();
  EXPECT_EQ(refused("{not json"), TwinErrc::malformed_json);
  EXPECT_EQ(refused("[1,2]"), TwinErrc::not_an_object);
  EXPECT_FALSE(refused(nested(10)));
  EXPECT_EQ(refused(nested(11)), TwinErrc::too_deep);
  EXPECT_FALSE(refused("{\"" + std::string(1024, 'n') + "\":1}"));
  EXPECT_EQ(refused("{\"" + std::string(1025, 'n') + "\":1}"), TwinErrc::name_too_long);
  EXPECT_EQ(refused(R"({"a.b":1})"), TwinErrc::invalid_name);
  EXPECT_EQ(refused(R"({"$a":1})"), TwinErrc::invalid_name);
  EXPECT_EQ(refused(R"({"a b":1})"), TwinErrc::invalid_name);
  EXPECT_EQ(refused(R"({"a\u0001":1})"), TwinErrc::invalid_name);
  EXPECT_EQ(refused(R"({"a\u0085":1})"), TwinErrc::invalid_name);
  EXPECT_EQ(refused(R"({"ok":{"x.y":1}})"), TwinErrc::invalid_name);  // nested names too
  EXPECT_FALSE(refused("{\"s\":\"" + std::string(4096, 'v') + "\"}"));
  EXPECT_EQ(refused("{\"s\":\"" + std::string(4097, 'v') + "\"}"), TwinErrc::value_too_long);
  EXPECT_FALSE(refused(R"({"i":4503599627370495,"j":-4503599627370496,"f":1e300})"));
  EXPECT_EQ(refused(R"({"i":4503599627370496})"), TwinErrc::integer_out_of_range);
  EXPECT_EQ(refused(R"({"i":-4503599627370497})"), TwinErrc::integer_out_of_range);
  EXPECT_EQ(refused(R"({"i":18446744073709551615})"), TwinErrc::integer_out_of_range);
  EXPECT_EQ(refused(R"({"a":[1,null]})"), TwinErrc::null_in_array);
  EXPECT_EQ(refused(R"({"a":[{"b.c":1}]})"), TwinErrc::invalid_name);
  EXPECT_EQ(refused("{\"big\":\"" + std::string(4000, 'x') + "\"," +
                    [] {
                      std::string members;
                      for (int i = 0; i < 9; ++i)
                        members += (i ? "," : "") + std::string("\"m") + std::to_string(i) +
                                   "\":\"" + std::string(4000, 'y') + "\"";
                      return members;
                    }() +
                    "}"),
            TwinErrc::document_too_large);
  const auto ec = make_error_code(TwinErrc::too_deep);
  EXPECT_NE(ec.message().find("depth"), std::string::npos);
  EXPECT_EQ(twin_error_status(ec), 400);
  EXPECT_EQ(twin_error_status(make_error_code(Errc::too_many_pending)), 429);
  EXPECT_EQ(twin_error_status(make_error_code(Errc::storage_failure)), 500);
  // Nothing refused was applied: only the valid patches moved the version.
  EXPECT_EQ(get(kDev)["reported"]["$version"], 5);
}

TEST_F(TwinStoreTest, ThePatchRuleAlsoCoversTheMergedDocument) {
  start_twins();
  // Each patch is fine alone; together they pass 32 KiB.
  for (int i = 0; i < 8; ++i) {
    auto r = report(kDev, "{\"p" + std::to_string(i) + "\":\"" + std::string(4000, 'x') + "\"}");
    ASSERT_TRUE(r) << i;
  }
  auto r = report(kDev, "{\"p9\":\"" + std::string(4000, 'x') + "\"}");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), TwinErrc::document_too_large);
  EXPECT_EQ(get(kDev)["reported"]["$version"], 9);
}

TEST_F(TwinStoreTest, ValidateReportedPatchIsAvailableWithoutAStore) {
  EXPECT_TRUE(validate_reported_patch(R"({"a":{"b":[1,"x",true]}})"));
  EXPECT_EQ(validate_reported_patch(R"({"a":[null]})").error(), TwinErrc::null_in_array);
}

TEST_F(TwinStoreTest, TwinsSurviveAStoreReopen) {
  start_twins();
  ASSERT_TRUE(report(kMod, R"({"state":"running"})"));
  ASSERT_TRUE(desire(kMod, R"({"interval":5})"));
  reopen();
  auto twin = get(kMod);
  EXPECT_EQ(twin["reported"], Json::parse(R"({"state":"running","$version":2})"));
  EXPECT_EQ(twin["desired"], Json::parse(R"({"interval":5,"$version":2})"));
  auto v = report(kMod, R"({"state":"stopped"})");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 3);
}

TEST_F(TwinStoreTest, AReportedPatchIsRoutedAsATwinChangeNotification) {
  start_twins({route("twins", "FROM /twinChangeNotifications INTO $upstream")});
  ASSERT_TRUE(report(kMod, R"({"temp":21})"));
  auto entries = peek({"iothub", routing::kDefaultPriority});
  ASSERT_EQ(entries.size(), 1u);
  const auto& m = entries[0].message;
  EXPECT_EQ(m.kind, core::MessageKind::twin_change_notification);
  EXPECT_EQ(m.body_text(), R"({"temp":21})");
  EXPECT_EQ(m.origin, kMod);
  EXPECT_EQ(m.sys_prop(core::SystemProperty::message_type), "twinChangeNotification");
  EXPECT_EQ(m.sys_prop(core::SystemProperty::version), "2");
  EXPECT_EQ(m.sys_prop(core::SystemProperty::connection_module_id), "filter");
}

TEST_F(TwinStoreTest, TelemetryRoutesDoNotSeeTwinChangeNotifications) {
  start_twins({route("telemetry", "FROM /messages/* INTO $upstream")});
  ASSERT_TRUE(report(kDev, R"({"temp":21})"));
  settle();
  EXPECT_TRUE(peek({"iothub", routing::kDefaultPriority}).empty());
}

TEST_F(TwinStoreTest, DesiredPatchesReachOnlySubscribedSessions) {
  start_twins();
  auto subscribed = channel();
  auto reg = channels_.attach(kDev, subscribed, Subscription::desired_properties);
  auto other = channel();
  auto reg2 = channels_.attach(kMod, other);
  auto v = desire(kDev, R"({"fan":2,"$version":2})");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 2);
  ASSERT_TRUE(desire(kMod, R"({"fan":3})"));
  settle();
  ASSERT_EQ(subscribed->desired.size(), 1u);
  EXPECT_EQ(subscribed->desired[0].version, 2);
  EXPECT_EQ(Json::parse(subscribed->desired[0].json), Json::parse(R"({"fan":2,"$version":2})"));
  EXPECT_TRUE(other->desired.empty());
  EXPECT_EQ(get(kDev)["desired"], Json::parse(R"({"fan":2,"$version":2})"));
  ASSERT_TRUE(desire(kDev, R"({"fan":null,"mode":"eco"})"));
  settle();
  ASSERT_EQ(subscribed->desired.size(), 2u);
  EXPECT_EQ(get(kDev)["desired"], Json::parse(R"({"mode":"eco","$version":3})"));
}

TEST_F(TwinStoreTest, ReportedPatchesArePendingUntilIoTHubConfirmsThem) {
  start_twins();
  ScriptedCloud cloud;
  twins_->set_cloud(&cloud);
  ASSERT_TRUE(report(kDev, R"({"fw":"1","net":{"ssid":"a","rssi":-40},"old":true})"));
  ASSERT_TRUE(report(kDev, R"({"net":{"rssi":-50},"old":null})"));
  EXPECT_EQ(pending_gauge(), 1.0);
  // Offline: the merged patch (null kept: it deletes at IoT Hub too) stays for the next round.
  EXPECT_EQ(sync(), 0u);
  ASSERT_EQ(cloud.patches.size(), 1u);
  EXPECT_EQ(cloud.patches[0].first, "dev1");
  EXPECT_EQ(cloud.patches[0].second,
            Json::parse(R"({"fw":"1","net":{"ssid":"a","rssi":-50},"old":null})"));
  cloud.status = 503;
  EXPECT_EQ(sync(), 0u);
  EXPECT_EQ(sync_results("failed"), 2u);
  // IoT Hub applies it: gone, and not sent again.
  cloud.status = 204;
  EXPECT_EQ(sync(), 1u);
  EXPECT_EQ(cloud.patches.size(), 3u);
  EXPECT_EQ(cloud.patches[2].second, cloud.patches[0].second);
  EXPECT_EQ(sync_results("synced"), 1u);
  EXPECT_EQ(counter("edgehub_reported_properties_total", {"target", "id"}, {"upstream", "dev1"}),
            1u);
  EXPECT_EQ(pending_gauge(), 0.0);
  EXPECT_EQ(sync(), 0u);
  EXPECT_EQ(cloud.patches.size(), 3u);
  // The device's view never shows the bookkeeping.
  twins_->set_cloud(nullptr);
  const auto twin = get(kDev);
  EXPECT_EQ(twin.size(), 2u);
  EXPECT_EQ(twin["reported"],
            Json::parse(R"({"fw":"1","net":{"ssid":"a","rssi":-50},"$version":3})"));
}

TEST_F(TwinStoreTest, APendingPatchSurvivesAStoreReopen) {
  start_twins();
  ASSERT_TRUE(report(kMod, R"({"state":"running"})"));
  ASSERT_TRUE(report(kDev, R"({"temp":20})"));
  reopen();
  ScriptedCloud cloud;
  cloud.status = 200;
  twins_->set_cloud(&cloud);
  EXPECT_EQ(sync(), 2u);
  ASSERT_EQ(cloud.patches.size(), 2u);
  std::map<std::string, Json> sent(cloud.patches.begin(), cloud.patches.end());
  EXPECT_EQ(sent["dev1"], Json::parse(R"({"temp":20})"));
  EXPECT_EQ(sent[kMod.to_string()], Json::parse(R"({"state":"running"})"));
  reopen();
  twins_->set_cloud(&cloud);
  EXPECT_EQ(sync(), 0u);
  EXPECT_EQ(cloud.patches.size(), 2u);
  EXPECT_EQ(pending_gauge(), 0.0);
}

TEST_F(TwinStoreTest, APatchIoTHubRefusesIsDroppedAndCounted) {
  start_twins();
  ScriptedCloud cloud;
  cloud.status = 400;
  twins_->set_cloud(&cloud);
  ASSERT_TRUE(report(kDev, R"({"a":1})"));
  EXPECT_EQ(sync(), 1u);
  EXPECT_EQ(sync_results("rejected"), 1u);
  EXPECT_EQ(sync(), 0u);
  EXPECT_EQ(cloud.patches.size(), 1u);
  // The local twin keeps what the device reported.
  twins_->set_cloud(nullptr);
  EXPECT_EQ(get(kDev)["reported"]["a"], 1);
}

TEST_F(TwinStoreTest, APatchArrivingDuringTheSendIsNotLost) {
  start_twins();
  ScriptedCloud cloud;
  cloud.hold = true;
  twins_->set_cloud(&cloud);
  ASSERT_TRUE(report(kDev, R"({"a":1})"));
  std::optional<core::Result<std::size_t>> round;
  twins_->async_sync_reported([&](core::Result<std::size_t> r) { round.emplace(r); });
  ASSERT_TRUE(run_until(ioc_, [&] { return static_cast<bool>(cloud.held); }));
  // The device reports again while IoT Hub has not answered the first send.
  ASSERT_TRUE(report(kDev, R"({"b":2})"));
  auto held = std::move(cloud.held);
  cloud.held = nullptr;
  held(204);
  ASSERT_TRUE(run_until(ioc_, [&] { return round.has_value(); }));
  ASSERT_TRUE(*round);
  EXPECT_EQ(**round, 0u);
  // The next round sends what is still unconfirmed: both members (the first again, harmlessly).
  cloud.hold = false;
  cloud.status = 204;
  EXPECT_EQ(sync(), 1u);
  ASSERT_EQ(cloud.patches.size(), 2u);
  EXPECT_EQ(cloud.patches[1].second, Json::parse(R"({"a":1,"b":2})"));
  EXPECT_EQ(pending_gauge(), 0.0);
}

TEST_F(TwinStoreTest, ThePendingPatchIsBoundedLikeADocument) {
  start_twins();
  // Each patch is small, but deleting many distinct members piles up nulls for IoT Hub.
  const std::string name(1000, 'n');
  std::size_t accepted = 0;
  core::ErrorCode refusal;
  for (int i = 0; i < 40 && !refusal; ++i) {
    auto r = report(kDev, "{\"" + name + std::to_string(i) + "\":null}");
    if (r) {
      ++accepted;
    } else {
      refusal = r.error();
    }
  }
  EXPECT_EQ(refusal, TwinErrc::document_too_large);
  EXPECT_GT(accepted, 10u);
}

TEST_F(TwinStoreTest, WhileIoTHubIsUnreachableARoundStopsAtTheFirstIdentity) {
  start_twins();
  ScriptedCloud cloud;
  twins_->set_cloud(&cloud);
  ASSERT_TRUE(report(kDev, R"({"a":1})"));
  ASSERT_TRUE(report(kMod, R"({"b":2})"));
  EXPECT_EQ(sync(), 0u);
  EXPECT_EQ(cloud.patches.size(), 1u);  // one connection attempt per round, not one each
  cloud.status = 204;
  EXPECT_EQ(sync(), 2u);
  EXPECT_EQ(cloud.patches.size(), 3u);
}

TEST_F(TwinStoreTest, AnIdentityIoTHubRefusesDoesNotHoldBackTheOthers) {
  start_twins();
  ScriptedCloud cloud;
  cloud.status = 204;
  cloud.refused.insert("dev1");  // sorts before the module
  twins_->set_cloud(&cloud);
  ASSERT_TRUE(report(kDev, R"({"a":1})"));
  ASSERT_TRUE(report(kMod, R"({"b":2})"));
  EXPECT_EQ(sync(), 1u);
  EXPECT_EQ(cloud.patches.size(), 2u);
  EXPECT_EQ(pending_gauge(), 1.0);  // dev1's patch waits for IoT Hub to accept it
}

TEST(TwinDesiredDifference, ChangedAndAddedMembersAndNullForRemovedOnes) {
  EXPECT_EQ(Json::parse(desired_difference(R"({"a":1,"b":{"x":1,"y":2},"gone":true,"$version":2})",
                                           R"({"a":1,"b":{"x":5},"c":[1],"$version":7})")),
            Json::parse(R"({"b":{"x":5,"y":null},"c":[1],"gone":null})"));
  EXPECT_EQ(Json::parse(desired_difference(R"({"a":{"k":1}})", R"({"a":3})")),
            Json::parse(R"({"a":3})"));
  EXPECT_EQ(desired_difference(R"({"a":1,"$version":1})", R"({"a":1,"$version":9})"), "{}");
}

TEST_F(TwinStoreTest, ADesiredVersionGapSendsTheDifferenceToIoTHubsTwin) {
  start_twins();
  ScriptedCloud cloud;
  twins_->set_cloud(&cloud);
  auto session = channel();
  auto reg = channels_.attach(kDev, session, Subscription::desired_properties);
  auto v = desire(kDev, R"({"a":1,"b":{"x":1,"y":2},"$version":2})");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 2);
  EXPECT_TRUE(cloud.asked.empty());
  // Versions 3 and 4 never arrived; 5 did.
  cloud.answer = R"({"desired":{"a":1,"b":{"x":1},"c":3,"$version":5},"reported":{"$version":1}})";
  v = desire(kDev, R"({"c":3,"$version":5})");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 5);
  EXPECT_EQ(cloud.asked.size(), 1u);
  settle();
  ASSERT_EQ(session->desired.size(), 2u);
  EXPECT_EQ(session->desired[1].version, 5);
  EXPECT_EQ(Json::parse(session->desired[1].json),
            Json::parse(R"({"b":{"y":null},"c":3,"$version":5})"));
  EXPECT_EQ(counter("edgehubd_twin_desired_resync_total", {"cause", "result"},
                    {"version_gap", "changed"}),
            1u);
  // The next one in sequence is applied as it comes.
  ASSERT_TRUE(desire(kDev, R"({"a":9,"$version":6})"));
  settle();
  ASSERT_EQ(session->desired.size(), 3u);
  EXPECT_EQ(Json::parse(session->desired[2].json), Json::parse(R"({"a":9,"$version":6})"));
  EXPECT_EQ(cloud.asked.size(), 1u);
  twins_->set_cloud(nullptr);
  EXPECT_EQ(get(kDev)["desired"], Json::parse(R"({"a":9,"b":{"x":1},"c":3,"$version":6})"));
}

TEST_F(TwinStoreTest, AGapWithoutIoTHubsTwinAppliesThePatchAndAStaleOneChangesNothing) {
  start_twins();
  ScriptedCloud cloud;
  twins_->set_cloud(&cloud);
  auto session = channel();
  auto reg = channels_.attach(kDev, session, Subscription::desired_properties);
  auto v = desire(kDev, R"({"a":1,"$version":4})");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 4);
  settle();
  ASSERT_EQ(session->desired.size(), 1u);
  EXPECT_EQ(Json::parse(session->desired[0].json), Json::parse(R"({"a":1,"$version":4})"));
  // Stale (already seen) and IoT Hub's twin unchanged: nothing for the device.
  cloud.answer = R"({"desired":{"a":1,"$version":4},"reported":{"$version":1}})";
  v = desire(kDev, R"({"a":0,"$version":3})");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 4);
  settle();
  EXPECT_EQ(session->desired.size(), 1u);
  EXPECT_EQ(counter("edgehubd_twin_desired_resync_total", {"cause", "result"},
                    {"version_gap", "unchanged"}),
            1u);
}

TEST_F(TwinStoreTest, ARefreshSendsWhatChangedAtMostOncePerPeriod) {
  start_twins();
  ScriptedCloud cloud;
  twins_->set_cloud(&cloud);
  auto session = channel();
  auto reg = channels_.attach(kDev, session, Subscription::desired_properties);
  ASSERT_TRUE(report(kDev, R"({"fw":"2"})"));  // pending: IoT Hub's reported lacks it
  cloud.answer = R"({"desired":{"mode":"eco","$version":3},"reported":{"$version":1}})";
  twins_->refresh_desired(kDev);
  ASSERT_TRUE(run_until(ioc_, [&] { return session->desired.size() == 1; }));
  EXPECT_EQ(Json::parse(session->desired[0].json), Json::parse(R"({"mode":"eco","$version":3})"));
  cloud.answer = R"({"desired":{"mode":"off","$version":4},"reported":{"$version":1}})";
  twins_->refresh_desired(kDev);
  settle();
  EXPECT_EQ(cloud.asked.size(), 1u);
  clock_.advance(kRefresh);
  twins_->refresh_desired(kDev);
  ASSERT_TRUE(run_until(ioc_, [&] { return session->desired.size() == 2; }));
  EXPECT_EQ(Json::parse(session->desired[1].json), Json::parse(R"({"mode":"off","$version":4})"));
  clock_.advance(kRefresh);
  twins_->refresh_desired(kDev);
  ASSERT_TRUE(run_until(ioc_, [&] { return cloud.asked.size() == 3; }));
  settle();
  EXPECT_EQ(session->desired.size(), 2u);
  // The cached twin now holds IoT Hub's sections, with the unconfirmed report still on top.
  twins_->set_cloud(nullptr);
  EXPECT_EQ(get(kDev), Json::parse(R"({"desired":{"mode":"off","$version":4},)"
                                   R"("reported":{"fw":"2","$version":1}})"));
}

}  // namespace
}  // namespace edgehub::hub::testing
