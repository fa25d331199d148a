#pragma once

// A strict parser for the Prometheus text exposition format 0.0.4, so tests check /metrics as a
// scraper would read it rather than by string search: every line must be a comment, a HELP/TYPE
// line or a well-formed sample; every sample must belong to a family declared by TYPE before it.

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace edgehub::testing {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromFamily {
  std::string name;
  std::string type;  ///< counter, gauge, summary, histogram, untyped
  std::string help;
  std::vector<PromSample> samples;
};

struct PromParseResult {
  std::map<std::string, PromFamily> families;
  std::vector<std::string> errors;  ///< "line N: what is wrong"; empty when valid
  bool ok() const { return errors.empty(); }

  /// The value of the first sample of `name` whose labels include all of `labels`.
  std::optional<double> value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const;
};

PromParseResult parse_prometheus_text(const std::string& text);

/// Minimal HTTP/1.1 GET over plain TCP to 127.0.0.1 (test use only).
struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  ///< lower-cased names
  std::string body;
};
std::optional<HttpReply> http_get(unsigned short port, const std::string& target);

}  // namespace edgehub::testing
