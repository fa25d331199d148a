// Evaluations per second of typical route conditions. Each iteration binds the message to the
// evaluation context first, so the $body figures include validating and walking the JSON body
// once per message (the real per-message cost), not a cached lookup; the "SameMessage" variant
// shows the cost of a further $body route on an already bound message.
//
//   build-routing/bench/route_eval/route_eval_bench --benchmark_min_time=1

#include <benchmark/benchmark.h>

#include <string>

#include "edgehub/routing/condition.hpp"
#include "edgehub/routing/route_table.hpp"

namespace {

using edgehub::core::Message;
using edgehub::core::SystemProperty;
using edgehub::routing::Condition;
using edgehub::routing::EvalContext;
using edgehub::routing::Tri;

Message leaf_message() {
  Message m;
  m.sys_prop(SystemProperty::connection_device_id) = "sensor-0042";
  m.sys_prop(SystemProperty::message_id) = "6f1c2c1e-3b7a-4c39-9f0e-0d5c8a1b2e77";
  m.sys_prop(SystemProperty::content_type) = "application/json";
  m.sys_prop(SystemProperty::content_encoding) = "utf-8";
  m.set_app("sensor", "a");
  m.set_app("level", "7");
  m.set_app("site", "plant-3");
  // ~200 bytes of typical telemetry.
  m.set_body(R"({"deviceId":"sensor-0042","ts":"2026-11-29T10:00:00.000Z","temp":55.25,)"
             R"("humidity":41.5,"pressure":1013.2,"status":"ok","battery":87,)"
             R"("location":{"lat":47.6062,"lon":-122.3321},"tags":["a","b"],"seq":123456})");
  return m;
}

void run_condition(benchmark::State& state, const char* text, bool rebind) {
  auto condition = Condition::compile(text);
  if (!condition) {
    state.SkipWithError("does not compile");
    return;
  }
  const Message m = leaf_message();
  EvalContext context;
  context.bind(m);
  const Tri expected = condition->evaluate(context);
  if (expected != Tri::true_) state.SkipWithError("condition is not true on the sample");
  for (auto _ : state) {
    if (rebind) context.bind(m);
    benchmark::DoNotOptimize(condition->evaluate(context));
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["body_bytes"] = static_cast<double>(m.body.size());
}

void BM_NotIsDefinedModuleId(benchmark::State& state) {
  run_condition(state, "NOT IS_DEFINED($connectionModuleId)", true);
}
void BM_SensorAndLevel(benchmark::State& state) {
  run_condition(state, "sensor = 'a' AND as_number(level) > 3", true);
}
void BM_BodyTemp(benchmark::State& state) {
  run_condition(state, "$body.temp > 50", true);
}
void BM_BodyTempSameMessage(benchmark::State& state) {
  run_condition(state, "$body.temp > 50", false);
}
void BM_BodyNested(benchmark::State& state) {
  run_condition(state, "$body.location.lon < 0 AND $body.status = 'ok'", true);
}

// A realistic table: leaf devices upstream, alerts with priority, a module fan-out.
void BM_RouteTableMatch(benchmark::State& state) {
  std::vector<edgehub::config::RouteSpec> specs(3);
  specs[0].name = "leaf";
  specs[0].text = "FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO $upstream";
  specs[1].name = "alerts";
  specs[1].text = "FROM /messages/* WHERE $body.temp > 50 INTO $upstream";
  specs[1].priority = 0;
  specs[2].name = "filter";
  specs[2].text =
      "FROM /messages/* WHERE sensor = 'a' AND as_number(level) > 3 INTO "
      "BrokeredEndpoint(\"/modules/filter/inputs/in1\")";
  std::vector<edgehub::routing::RouteIssue> issues;
  auto table = edgehub::routing::RouteTable::build(specs, "gw", 7200, issues);
  if (!table) {
    state.SkipWithError("table does not build");
    return;
  }
  const Message m = leaf_message();
  edgehub::routing::MatchBuffer buffer;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table->match(m, buffer).size());
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_NotIsDefinedModuleId);
BENCHMARK(BM_SensorAndLevel);
BENCHMARK(BM_BodyTemp);
BENCHMARK(BM_BodyTempSameMessage);
BENCHMARK(BM_BodyNested);
BENCHMARK(BM_RouteTableMatch);

}  // namespace

BENCHMARK_MAIN();
