#include "edgehub/ops/metrics.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <variant>

#include "ops/prometheus_text.hpp"

namespace edgehub::ops {

void Gauge::add(double d) noexcept {
  double current = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(current, current + d, std::memory_order_relaxed)) {
  }
}

void Summary::observe(double v) {
  std::lock_guard lock(mutex_);
  if (window_.size() < kWindow) {
    window_.push_back(v);
  } else {
    window_[next_] = v;
  }
  next_ = (next_ + 1) % kWindow;
  sum_ += v;
  ++count_;
}

Summary::Snapshot Summary::snapshot() const {
  static constexpr double kQuantiles[] = {0.1, 0.5, 0.9, 0.99};
  Snapshot s;
  std::vector<double> sorted;
  {
    std::lock_guard lock(mutex_);
    sorted = window_;
    s.sum = sum_;
    s.count = count_;
  }
  std::sort(sorted.begin(), sorted.end());
  for (double q : kQuantiles) {
    double value = std::nan("");
    if (!sorted.empty()) {
      const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
      value = sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
    }
    s.quantiles.emplace_back(q, value);
  }
  return s;
}

template <typename Metric>
Metric& Family<Metric>::with(const std::vector<std::string>& values) {
  assert(values.size() == label_names_.size() && "label value count must match label names");
  std::lock_guard lock(mutex_);
  return children_[values];
}

template <typename Metric>
Metric& Family<Metric>::with(std::initializer_list<std::string_view> values) {
  assert(values.size() == label_names_.size() && "label value count must match label names");
  std::lock_guard lock(mutex_);
  if (auto it = children_.find(values); it != children_.end()) return it->second;
  return children_.try_emplace(std::vector<std::string>(values.begin(), values.end()))
      .first->second;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Summary>;

struct Registry::Entry {
  MetricType type;
  std::variant<std::unique_ptr<CounterFamily>, std::unique_ptr<GaugeFamily>,
               std::unique_ptr<SummaryFamily>>
      family;
  std::string callback_name;
  std::string callback_help;
  std::function<double()> callback;  ///< set for callback gauges only
};

Registry::Registry(std::vector<std::pair<std::string, std::string>> const_labels)
    : const_labels_(std::move(const_labels)) {}

Registry::~Registry() = default;

Registry::Entry& Registry::find_or_add(std::string_view name, std::string_view help,
                                       MetricType type, std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  for (auto& e : entries_) {
    const std::string* existing = nullptr;
    std::visit([&](const auto& f) { existing = f ? &f->name() : &e->callback_name; }, e->family);
    if (*existing == name) {
      assert(e->type == type && "metric registered twice with different types");
      return *e;
    }
  }
  auto e = std::make_unique<Entry>();
  e->type = type;
  switch (type) {
    case MetricType::counter:
      e->family = std::make_unique<CounterFamily>(std::string(name), std::string(help),
                                                  std::move(label_names));
      break;
    case MetricType::gauge:
      e->family = std::make_unique<GaugeFamily>(std::string(name), std::string(help),
                                                std::move(label_names));
      break;
    case MetricType::summary:
      e->family = std::make_unique<SummaryFamily>(std::string(name), std::string(help),
                                                  std::move(label_names));
      break;
  }
  entries_.push_back(std::move(e));
  return *entries_.back();
}

CounterFamily& Registry::counter(std::string_view name, std::string_view help,
                                 std::vector<std::string> label_names) {
  return *std::get<std::unique_ptr<CounterFamily>>(
      find_or_add(name, help, MetricType::counter, std::move(label_names)).family);
}

GaugeFamily& Registry::gauge(std::string_view name, std::string_view help,
                             std::vector<std::string> label_names) {
  return *std::get<std::unique_ptr<GaugeFamily>>(
      find_or_add(name, help, MetricType::gauge, std::move(label_names)).family);
}

SummaryFamily& Registry::summary(std::string_view name, std::string_view help,
                                 std::vector<std::string> label_names) {
  return *std::get<std::unique_ptr<SummaryFamily>>(
      find_or_add(name, help, MetricType::summary, std::move(label_names)).family);
}

void Registry::add_callback_gauge(std::string_view name, std::string_view help,
                                  std::function<double()> f) {
  auto e = std::make_unique<Entry>();
  e->type = MetricType::gauge;
  e->family = std::unique_ptr<GaugeFamily>{};
  e->callback_name = std::string(name);
  e->callback_help = std::string(help);
  e->callback = std::move(f);
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(e));
}

std::string Registry::render() const {
  PrometheusWriter out(const_labels_);
  std::lock_guard lock(mutex_);
  for (const auto& e : entries_) {
    if (e->callback) {
      out.header(e->callback_name, e->callback_help, "gauge");
      out.sample(e->callback_name, {}, {}, e->callback());
      continue;
    }
    std::visit(
        [&](const auto& family) {
          using F = std::decay_t<decltype(*family)>;
          if constexpr (std::is_same_v<F, CounterFamily>) {
            out.header(family->name(), family->help(), "counter");
            family->for_each([&](const auto& labels, const Counter& c) {
              out.sample(family->name(), family->label_names(), labels,
                         static_cast<double>(c.value()));
            });
          } else if constexpr (std::is_same_v<F, GaugeFamily>) {
            out.header(family->name(), family->help(), "gauge");
            family->for_each([&](const auto& labels, const Gauge& g) {
              out.sample(family->name(), family->label_names(), labels, g.value());
            });
          } else {
            out.header(family->name(), family->help(), "summary");
            family->for_each([&](const auto& labels, const Summary& s) {
              out.summary(family->name(), family->label_names(), labels, s.snapshot());
            });
          }
        },
        e->family);
  }
  return out.take();
}

}  // namespace edgehub::ops
