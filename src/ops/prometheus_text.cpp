#include "ops/prometheus_text.hpp"

#include <cmath>
#include <cstdio>

namespace edgehub::ops {

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void PrometheusWriter::header(std::string_view name, std::string_view help, std::string_view type) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void PrometheusWriter::labels(const std::vector<std::string>& names,
                              const std::vector<std::string>& values, std::string_view extra_label,
                              std::string_view extra_value) {
  bool first = true;
  auto add = [&](std::string_view n, std::string_view v) {
    out_ += first ? '{' : ',';
    first = false;
    out_ += n;
    out_ += "=\"";
    out_ += escape_label_value(v);
    out_ += '"';
  };
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i)
    add(names[i], values[i]);
  for (const auto& [n, v] : const_labels_)
    add(n, v);
  if (!extra_label.empty()) add(extra_label, extra_value);
  if (!first) out_ += '}';
}

void PrometheusWriter::value(double v) {
  out_ += ' ';
  if (std::isnan(v)) {
    out_ += "NaN";
  } else if (std::isinf(v)) {
    out_ += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    out_ += buf;
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    out_ += buf;
  }
  out_ += '\n';
}

void PrometheusWriter::sample(std::string_view name, const std::vector<std::string>& label_names,
                              const std::vector<std::string>& label_values, double v,
                              std::string_view extra_label, std::string_view extra_value) {
  out_ += name;
  labels(label_names, label_values, extra_label, extra_value);
  value(v);
}

void PrometheusWriter::summary(std::string_view name, const std::vector<std::string>& label_names,
                               const std::vector<std::string>& label_values,
                               const Summary::Snapshot& s) {
  for (const auto& [q, v] : s.quantiles) {
    char qbuf[16];
    std::snprintf(qbuf, sizeof qbuf, "%g", q);
    sample(name, label_names, label_values, v, "quantile", qbuf);
  }
  const std::string base(name);
  sample(base + "_sum", label_names, label_values, s.sum);
  sample(base + "_count", label_names, label_values, static_cast<double>(s.count));
}

}  // namespace edgehub::ops
