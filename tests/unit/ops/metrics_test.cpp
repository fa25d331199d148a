#include "edgehub/ops/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>
#include <vector>

#include "support/process/prometheus_text_parser.hpp"

namespace edgehub::ops {
namespace {

using testing::parse_prometheus_text;

TEST(Metrics, CountersAndGaugesRenderWithConstantLabels) {
  Registry r({{"iothub", "hub.example"}, {"edge_device", "gw"}});
  r.counter("edgehub_messages_received_total", "Messages received", {"id", "route_output"})
      .with({"dev1", ""})
      .inc(3);
  r.gauge("edgehub_connected_clients", "Connected clients").with({}).set(7);
  const auto parsed = parse_prometheus_text(r.render());
  ASSERT_TRUE(parsed.ok()) << ::testing::PrintToString(parsed.errors);
  EXPECT_EQ(parsed.families.at("edgehub_messages_received_total").type, "counter");
  EXPECT_EQ(parsed.value("edgehub_messages_received_total",
                         {{"id", "dev1"}, {"route_output", ""}, {"iothub", "hub.example"}}),
            3.0);
  EXPECT_EQ(parsed.value("edgehub_connected_clients", {{"edge_device", "gw"}}), 7.0);
}

TEST(Metrics, SameNameReturnsSameFamilyAndChildren) {
  Registry r;
  auto& a = r.counter("c_total", "help", {"k"});
  auto& b = r.counter("c_total", "help", {"k"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.with({"x"}), &b.with({"x"}));
  EXPECT_NE(&a.with({"x"}), &a.with({"y"}));
}

TEST(Metrics, ChildLookupIsTheSameFromViewsAndFromStrings) {
  Registry r;
  auto& family = r.counter("pairs_total", "help", {"from", "output"});
  const std::string long_id = "a-device-id-longer-than-the-short-string-buffer/module";
  auto& child = family.with({long_id, "out1"});
  EXPECT_EQ(&family.with(std::vector<std::string>{long_id, "out1"}), &child);
  EXPECT_EQ(&family.with({std::string_view(long_id), std::string_view("out1")}), &child);
  // Lists are ordered element by element: ("a", "b") and ("ab", "") are different children.
  EXPECT_NE(&family.with({"a", "b"}), &family.with({"ab", ""}));
  family.with({"a", "b"}).inc();
  EXPECT_EQ(family.with(std::vector<std::string>{"a", "b"}).value(), 1u);
  EXPECT_EQ(family.with({"ab", ""}).value(), 0u);
}

TEST(Metrics, LabelValuesAreEscaped) {
  Registry r;
  r.counter("weird_total", "help with \\ and\nnewline", {"id"}).with({"a\"b\\c\nd"}).inc();
  const auto text = r.render();
  EXPECT_NE(text.find(R"(id="a\"b\\c\nd")"), std::string::npos) << text;
  const auto parsed = parse_prometheus_text(text);
  ASSERT_TRUE(parsed.ok()) << ::testing::PrintToString(parsed.errors);
  EXPECT_EQ(parsed.value("weird_total", {{"id", "a\"b\\c\nd"}}), 1.0);
}

TEST(Metrics, SummaryHasEdgeHubQuantilesSumAndCount) {
  Registry r;
  auto& s = r.summary("edgehub_message_size_bytes", "sizes", {"id"}).with({"d"});
  for (int i = 1; i <= 100; ++i)
    s.observe(i);
  const auto parsed = parse_prometheus_text(r.render());
  ASSERT_TRUE(parsed.ok()) << ::testing::PrintToString(parsed.errors);
  EXPECT_EQ(parsed.value("edgehub_message_size_bytes", {{"quantile", "0.5"}}), 50.0);
  EXPECT_EQ(parsed.value("edgehub_message_size_bytes", {{"quantile", "0.1"}}), 10.0);
  EXPECT_EQ(parsed.value("edgehub_message_size_bytes", {{"quantile", "0.99"}}), 99.0);
  EXPECT_EQ(parsed.value("edgehub_message_size_bytes_sum"), 5050.0);
  EXPECT_EQ(parsed.value("edgehub_message_size_bytes_count"), 100.0);
}

TEST(Metrics, EmptySummaryQuantilesAreNaN) {
  Summary s;
  const auto snap = s.snapshot();
  ASSERT_EQ(snap.quantiles.size(), 4u);
  EXPECT_TRUE(std::isnan(snap.quantiles[0].second));
  EXPECT_EQ(snap.count, 0u);
}

TEST(Metrics, SummaryWindowIsBounded) {
  Summary s;
  for (std::size_t i = 0; i < Summary::kWindow * 3; ++i)
    s.observe(i < Summary::kWindow * 2 ? 0 : 1);
  const auto snap = s.snapshot();
  EXPECT_EQ(snap.count, Summary::kWindow * 3);
  EXPECT_EQ(snap.quantiles[0].second, 1.0) << "only the most recent window counts for quantiles";
}

TEST(Metrics, CallbackGaugeIsEvaluatedAtRender) {
  Registry r;
  double v = 1;
  r.add_callback_gauge("computed", "help", [&] { return v; });
  EXPECT_EQ(parse_prometheus_text(r.render()).value("computed"), 1.0);
  v = 42;
  EXPECT_EQ(parse_prometheus_text(r.render()).value("computed"), 42.0);
}

TEST(Metrics, CountersAreSafeAcrossThreads) {
  Registry r;
  auto& family = r.counter("n_total", "help", {"t"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i)
        family.with({"shared"}).inc();
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(family.with({"shared"}).value(), 40000u);
}

TEST(Metrics, GaugeAddIsAtomic) {
  Gauge g;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        g.inc();
        g.dec();
        g.inc();
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(g.value(), 40000.0);
}

}  // namespace
}  // namespace edgehub::ops
