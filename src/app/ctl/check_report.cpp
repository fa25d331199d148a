#include "app/ctl/check_report.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace edgehub::app::ctl {
namespace {

std::string_view mark(FindingLevel level) {
  switch (level) {
    case FindingLevel::ok:
      return "\u2713";  // ✓
    case FindingLevel::warning:
      return "\u26a0";  // ⚠
    case FindingLevel::error:
      return "\u2717";  // ✗
  }
  return "?";
}

std::string_view mark_name(FindingLevel level) {
  switch (level) {
    case FindingLevel::ok:
      return "ok";
    case FindingLevel::warning:
      return "warning";
    case FindingLevel::error:
      return "error";
  }
  return "?";
}

void append_indented(std::string& out, std::string_view text, std::string_view first_prefix) {
  bool first = true;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    if (first) {
      out += first_prefix;
    } else {
      out.append(first_prefix.size(), ' ');
    }
    out += text.substr(0, eol);
    out += '\n';
    first = false;
    if (eol == std::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
}

std::string plural(std::size_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

}  // namespace

void CheckReport::section(std::string title) {
  entries_.push_back(Entry{true, std::move(title), {}});
}

void CheckReport::add(Finding finding) {
  entries_.push_back(Entry{false, {}, std::move(finding)});
}

std::size_t CheckReport::count(FindingLevel level) const noexcept {
  return static_cast<std::size_t>(
      std::count_if(entries_.begin(), entries_.end(),
                    [&](const Entry& e) { return !e.is_section && e.finding.level == level; }));
}

int CheckReport::exit_code() const noexcept {
  int code = kExitOk;
  for (const auto& e : entries_) {
    if (!e.is_section && e.finding.level == FindingLevel::error) {
      code = std::max(code, e.finding.exit_code);
    }
  }
  return code;
}

std::string CheckReport::render() const {
  std::string out;
  bool first_section = true;
  for (const auto& e : entries_) {
    if (e.is_section) {
      if (!first_section) out += '\n';
      first_section = false;
      out += e.section;
      out += '\n';
      out += std::string(e.section.size(), '-');
      out += '\n';
      continue;
    }
    const auto& f = e.finding;
    out += mark(f.level);
    out += ' ';
    out += f.title;
    out += '\n';
    append_indented(out, f.detail, "    ");
    if (f.level != FindingLevel::ok && !f.fix.empty()) append_indented(out, f.fix, "    fix: ");
  }
  const auto errors = count(FindingLevel::error);
  const auto warnings = count(FindingLevel::warning);
  out += '\n';
  if (errors == 0 && warnings == 0) {
    out += "All checks passed.\n";
  } else {
    out += plural(errors, "error") + ", " + plural(warnings, "warning") + ".\n";
  }
  return out;
}

std::string CheckReport::render_json() const {
  nlohmann::json sections = nlohmann::json::array();
  for (const auto& e : entries_) {
    if (e.is_section || sections.empty()) {
      sections.push_back({{"title", e.is_section ? e.section : std::string()},
                          {"findings", nlohmann::json::array()}});
      if (e.is_section) continue;
    }
    const auto& f = e.finding;
    sections.back()["findings"].push_back(
        {{"level", mark_name(f.level)}, {"title", f.title}, {"detail", f.detail}, {"fix", f.fix}});
  }
  return nlohmann::json{{"sections", std::move(sections)},
                        {"errors", count(FindingLevel::error)},
                        {"warnings", count(FindingLevel::warning)},
                        {"exit_code", exit_code()}}
             .dump(2) +
         "\n";
}

}  // namespace edgehub::app::ctl
