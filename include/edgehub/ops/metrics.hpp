#pragma once

// Metrics primitives and the registry behind the Prometheus endpoint (design.md §7, style P10).
//
// A feature declares a plain stats struct next to its code holding references obtained from the
// Registry, and increments them on its hot path (lock-free for Counter/Gauge; a Family lookup
// takes a mutex, so cache the reference returned by Family::with() per connection or endpoint).
// Names and labels follow edgeHub (edgehub-reference.md §8) so existing dashboards keep working.
//
// Thread safety: every type here may be used from any thread.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgehub::ops {

class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept;
  void inc() noexcept { add(1); }
  void dec() noexcept { add(-1); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// A summary with edgeHub's quantiles (0.1, 0.5, 0.9, 0.99) over a bounded sliding window of the
/// most recent observations, plus the running _sum and _count.
class Summary {
 public:
  static constexpr std::size_t kWindow = 1024;
  void observe(double v);
  struct Snapshot {
    std::vector<std::pair<double, double>> quantiles;  ///< (quantile, value); NaN when empty
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::vector<double> window_;  ///< ring buffer, at most kWindow entries
  std::size_t next_ = 0;
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

enum class MetricType { counter, gauge, summary };

/// A metric name with a fixed list of label names; with() returns the child for one combination
/// of label values, creating it on first use. References stay valid for the registry's lifetime.
template <typename Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

  /// Values in the order of the label names; a wrong count is a programming error (asserted).
  Metric& with(std::initializer_list<std::string_view> values);
  Metric& with(const std::vector<std::string>& values);

  const std::string& name() const noexcept { return name_; }
  const std::string& help() const noexcept { return help_; }
  const std::vector<std::string>& label_names() const noexcept { return label_names_; }

  /// Calls f(label_values, metric) for every child, under the family's lock.
  template <typename F>
  void for_each(F&& f) const {
    std::lock_guard lock(mutex_);
    for (const auto& [labels, metric] : children_)
      f(labels, metric);
  }

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  /// Orders label value lists of any string type alike, so with() finds an existing child from
  /// the caller's string_views without building a key (no allocation on the hot path).
  struct LabelValuesLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return std::lexicographical_compare(
          a.begin(), a.end(), b.begin(), b.end(),
          [](std::string_view x, std::string_view y) { return x < y; });
    }
  };

  mutable std::mutex mutex_;
  /// Children live in the map's nodes (stable addresses), not in heap objects of their own: a
  /// family labelled per identity gains a child for every device that ever connected.
  std::map<std::vector<std::string>, Metric, LabelValuesLess> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using SummaryFamily = Family<Summary>;

/// Owns every metric of the process and renders them as Prometheus text format 0.0.4.
class Registry {
 public:
  /// Labels added to every sample, e.g. iothub, edge_device, instance_number (edgeHub's defaults).
  explicit Registry(std::vector<std::pair<std::string, std::string>> const_labels = {});
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// Get-or-create by name. Asking again for the same name returns the same family; asking with a
  /// different type or label set is a programming error (asserted).
  CounterFamily& counter(std::string_view name, std::string_view help,
                         std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string_view name, std::string_view help,
                     std::vector<std::string> label_names = {});
  SummaryFamily& summary(std::string_view name, std::string_view help,
                         std::vector<std::string> label_names = {});

  /// A gauge computed at scrape time (process RSS, queue sizes read from elsewhere, ...).
  void add_callback_gauge(std::string_view name, std::string_view help, std::function<double()> f);

  /// The whole exposition, Prometheus text format 0.0.4.
  std::string render() const;

  const std::vector<std::pair<std::string, std::string>>& const_labels() const noexcept {
    return const_labels_;
  }

 private:
  struct Entry;
  Entry& find_or_add(std::string_view name, std::string_view help, MetricType type,
                     std::vector<std::string> label_names);

  std::vector<std::pair<std::string, std::string>> const_labels_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> entries_;  ///< registration order = exposition order
};

}  // namespace edgehub::ops
