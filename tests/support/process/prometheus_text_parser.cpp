#include "support/process/prometheus_text_parser.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <limits>
#include <regex>
#include <sstream>

namespace edgehub::testing {
namespace {

bool valid_metric_name(const std::string& n) {
  static const std::regex re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  return std::regex_match(n, re);
}
bool valid_label_name(const std::string& n) {
  static const std::regex re("[a-zA-Z_][a-zA-Z0-9_]*");
  return std::regex_match(n, re);
}

// The family a sample line belongs to: summaries and histograms add suffixes.
std::string family_of(const std::string& sample, const std::map<std::string, PromFamily>& fams) {
  if (fams.count(sample)) return sample;
  for (const char* suffix : {"_sum", "_count", "_bucket"}) {
    const std::string s(suffix);
    if (sample.size() > s.size() && sample.compare(sample.size() - s.size(), s.size(), s) == 0) {
      auto base = sample.substr(0, sample.size() - s.size());
      if (fams.count(base)) return base;
    }
  }
  return {};
}

bool parse_value(const std::string& text, double& out) {
  if (text == "NaN") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (text == "+Inf") {
    out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (text == "-Inf") {
    out = -std::numeric_limits<double>::infinity();
    return true;
  }
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end && *end == '\0' && !text.empty();
}

}  // namespace

std::optional<double> PromParseResult::value(
    const std::string& name, const std::map<std::string, std::string>& labels) const {
  for (const auto& [_, fam] : families) {
    for (const auto& s : fam.samples) {
      if (s.name != name) continue;
      const bool match = std::all_of(labels.begin(), labels.end(), [&](const auto& kv) {
        auto it = s.labels.find(kv.first);
        return it != s.labels.end() && it->second == kv.second;
      });
      if (match) return s.value;
    }
  }
  return std::nullopt;
}

PromParseResult parse_prometheus_text(const std::string& text) {
  PromParseResult r;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  auto err = [&](const std::string& what) {
    r.errors.push_back("line " + std::to_string(n) + ": " + what);
  };
  if (!text.empty() && text.back() != '\n') {
    r.errors.push_back("exposition must end with a newline");
  }
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream l(line.substr(1));
      std::string kind, name;
      l >> kind >> name;
      if (kind == "HELP" || kind == "TYPE") {
        if (!valid_metric_name(name)) {
          err("bad metric name in " + kind);
          continue;
        }
        std::string rest;
        std::getline(l, rest);
        if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
        auto& fam = r.families[name];
        fam.name = name;
        if (kind == "TYPE") {
          static const std::vector<std::string> types = {"counter", "gauge", "summary", "histogram",
                                                         "untyped"};
          if (std::find(types.begin(), types.end(), rest) == types.end())
            err("unknown TYPE " + rest);
          if (!fam.type.empty()) err("second TYPE for " + name);
          if (!fam.samples.empty()) err("TYPE after samples for " + name);
          fam.type = rest;
        } else {
          fam.help = rest;
        }
      }
      continue;
    }
    PromSample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ')
      ++i;
    s.name = line.substr(0, i);
    if (!valid_metric_name(s.name)) {
      err("bad sample name '" + s.name + "'");
      continue;
    }
    if (i < line.size() && line[i] == '{') {
      ++i;
      bool bad = false;
      while (i < line.size() && line[i] != '}') {
        std::size_t eq = line.find('=', i);
        if (eq == std::string::npos) {
          bad = true;
          break;
        }
        std::string lname = line.substr(i, eq - i);
        if (!valid_label_name(lname)) {
          bad = true;
          break;
        }
        if (eq + 1 >= line.size() || line[eq + 1] != '"') {
          bad = true;
          break;
        }
        std::string value;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\') {
            if (++j >= line.size()) {
              bad = true;
              break;
            }
            if (line[j] == 'n')
              value += '\n';
            else if (line[j] == '\\' || line[j] == '"')
              value += line[j];
            else {
              bad = true;
              break;
            }
          } else {
            value += line[j];
          }
        }
        if (bad || j >= line.size()) {
          bad = true;
          break;
        }
        if (s.labels.count(lname)) {
          bad = true;
          break;
        }
        s.labels[lname] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (bad || i >= line.size()) {
        err("malformed labels");
        continue;
      }
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
      err("missing value");
      continue;
    }
    std::string rest = line.substr(i + 1);
    std::string value_text = rest.substr(0, rest.find(' '));
    if (!parse_value(value_text, s.value)) {
      err("bad value '" + value_text + "'");
      continue;
    }
    const auto fam = family_of(s.name, r.families);
    if (fam.empty() || r.families[fam].type.empty()) {
      err("sample " + s.name + " has no TYPE line before it");
      continue;
    }
    r.families[fam].samples.push_back(std::move(s));
  }
  return r;
}

std::optional<HttpReply> http_get(unsigned short port, const std::string& target) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  const std::string req =
      "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return std::nullopt;
  }
  std::string raw;
  char buf[8192];
  for (ssize_t got; (got = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    raw.append(buf, static_cast<std::size_t>(got));
  ::close(fd);
  const auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return std::nullopt;
  HttpReply reply;
  std::istringstream head(raw.substr(0, head_end));
  std::string status_line;
  std::getline(head, status_line);
  if (std::sscanf(status_line.c_str(), "HTTP/1.%*d %d", &reply.status) != 1) return std::nullopt;
  for (std::string h; std::getline(head, h);) {
    if (!h.empty() && h.back() == '\r') h.pop_back();
    const auto colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::string name = h.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.erase(0, 1);
    reply.headers[name] = value;
  }
  reply.body = raw.substr(head_end + 4);
  return reply;
}

}  // namespace edgehub::testing
