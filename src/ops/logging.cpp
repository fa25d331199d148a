#include "edgehub/ops/logging.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "edgehub/core/message.hpp"

namespace edgehub::ops {
namespace {

thread_local const LogFields* tls_fields = nullptr;

int journal_priority(spdlog::level::level_enum level) noexcept {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return LOG_DEBUG;
    case spdlog::level::info:
      return LOG_INFO;
    case spdlog::level::warn:
      return LOG_WARNING;
    case spdlog::level::err:
      return LOG_ERR;
    case spdlog::level::critical:
      return LOG_CRIT;
    default:
      return LOG_INFO;
  }
}

// journald sink with our structured fields. spdlog's own systemd_sink cannot carry per-record
// custom fields, hence this one.
class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::vector<std::string> fields;
    fields.reserve(8);
    fields.push_back("MESSAGE=" + std::string(msg.payload.data(), msg.payload.size()));
    fields.push_back("PRIORITY=" + std::to_string(journal_priority(msg.level)));
    fields.push_back("SYSLOG_IDENTIFIER=edgehubd");
    if (const auto* f = tls_fields) {
      if (!f->device_id.empty()) fields.push_back("DEVICE_ID=" + std::string(f->device_id));
      if (!f->module_id.empty()) fields.push_back("MODULE_ID=" + std::string(f->module_id));
      if (!f->remote_addr.empty()) fields.push_back("REMOTE_ADDR=" + std::string(f->remote_addr));
      if (!f->protocol.empty()) fields.push_back("PROTOCOL=" + std::string(f->protocol));
    }
    std::vector<iovec> iov;
    iov.reserve(fields.size());
    for (auto& f : fields)
      iov.push_back(iovec{f.data(), f.size()});
    sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
  }
  void flush_() override {}
};

// stderr sink: spdlog's colour sink formats the record; the fields become a bracketed prefix.
class FieldPrefixSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  FieldPrefixSink() : inner_(std::make_shared<spdlog::sinks::stderr_color_sink_mt>()) {
    inner_->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  }
  void set_level_all(spdlog::level::level_enum level) { inner_->set_level(level); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const auto* f = tls_fields;
    if (!f || (f->device_id.empty() && f->remote_addr.empty() && f->protocol.empty())) {
      inner_->log(msg);
      return;
    }
    std::string text = "[";
    auto add = [&](std::string_view key, std::string_view value) {
      if (value.empty()) return;
      if (text.size() > 1) text += ' ';
      text += key;
      text += '=';
      text += value;
    };
    add("protocol", f->protocol);
    add("device", f->device_id);
    add("module", f->module_id);
    add("remote", f->remote_addr);
    text += "] ";
    text.append(msg.payload.data(), msg.payload.size());
    spdlog::details::log_msg copy(msg.time, msg.source, msg.logger_name, msg.level, text);
    inner_->log(copy);
  }
  void flush_() override { inner_->flush(); }

 private:
  std::shared_ptr<spdlog::sinks::stderr_color_sink_mt> inner_;
};

}  // namespace

namespace detail {
const LogFields* current_fields() noexcept {
  return tls_fields;
}
ScopedFields::ScopedFields(const LogFields& f) noexcept : previous_(tls_fields) {
  tls_fields = &f;
}
ScopedFields::~ScopedFields() {
  tls_fields = previous_;
}
}  // namespace detail

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view text) noexcept {
  using L = spdlog::level::level_enum;
  struct Name {
    std::string_view name;
    L level;
  };
  static constexpr Name kNames[] = {
      {"trace", L::trace},  {"debug", L::debug}, {"info", L::info},         {"warn", L::warn},
      {"warning", L::warn}, {"error", L::err},   {"critical", L::critical}, {"off", L::off}};
  for (const auto& n : kNames) {
    if (core::iequals(n.name, text)) return n.level;
  }
  return std::nullopt;
}

std::optional<LogTarget> parse_log_target(std::string_view text) noexcept {
  if (core::iequals(text, "auto")) return LogTarget::automatic;
  if (core::iequals(text, "journal")) return LogTarget::journal;
  if (core::iequals(text, "stderr")) return LogTarget::stderr_text;
  return std::nullopt;
}

bool running_under_systemd() noexcept {
  if (const char* stream = std::getenv("JOURNAL_STREAM")) {
    // "DEVICE:INODE" of the journal stream; it names our stderr only if they match.
    struct stat st {};
    if (fstat(STDERR_FILENO, &st) == 0) {
      const std::string expected = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
      if (expected == stream) return true;
    }
  }
  return std::getenv("INVOCATION_ID") != nullptr;
}

void init_logging(LogTarget target, spdlog::level::level_enum level) {
  const bool journal =
      target == LogTarget::journal || (target == LogTarget::automatic && running_under_systemd());
  spdlog::sink_ptr sink;
  if (journal) {
    sink = std::make_shared<JournalSink>();
  } else {
    sink = std::make_shared<FieldPrefixSink>();
  }
  auto logger = std::make_shared<spdlog::logger>("edgehubd", sink);
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

void set_log_level(spdlog::level::level_enum level) {
  spdlog::default_logger_raw()->set_level(level);
}

}  // namespace edgehub::ops
