#pragma once

// Prometheus text exposition format 0.0.4: escaping rules and line shapes in one place.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edgehub/ops/metrics.hpp"

namespace edgehub::ops {

class PrometheusWriter {
 public:
  explicit PrometheusWriter(const std::vector<std::pair<std::string, std::string>>& const_labels)
      : const_labels_(const_labels) {}

  void header(std::string_view name, std::string_view help, std::string_view type);
  void sample(std::string_view name, const std::vector<std::string>& label_names,
              const std::vector<std::string>& label_values, double value,
              std::string_view extra_label = {}, std::string_view extra_value = {});
  void summary(std::string_view name, const std::vector<std::string>& label_names,
               const std::vector<std::string>& label_values, const Summary::Snapshot& s);
  std::string take() { return std::move(out_); }

 private:
  void labels(const std::vector<std::string>& names, const std::vector<std::string>& values,
              std::string_view extra_label, std::string_view extra_value);
  void value(double v);

  const std::vector<std::pair<std::string, std::string>>& const_labels_;
  std::string out_;
};

/// Escapes a label value: backslash, double quote and newline.
std::string escape_label_value(std::string_view v);
/// Escapes HELP text: backslash and newline.
std::string escape_help(std::string_view v);

}  // namespace edgehub::ops
