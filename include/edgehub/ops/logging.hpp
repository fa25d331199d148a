#pragma once

// Logging: spdlog with a journald sink (priorities and structured fields such as DEVICE_ID,
// MODULE_ID, REMOTE_ADDR) under systemd, stderr otherwise (design.md §7).
//
// Never log secrets: keys, SAS tokens, private keys and passwords do not go into any message or
// field. Log the identity and the reason instead.

#include <spdlog/spdlog.h>

#include <optional>
#include <string>
#include <string_view>

namespace edgehub::ops {

enum class LogTarget { automatic, journal, stderr_text };

/// Parses "trace|debug|info|warn|warning|error|critical|off".
std::optional<spdlog::level::level_enum> parse_log_level(std::string_view text) noexcept;
/// Parses "auto|journal|stderr".
std::optional<LogTarget> parse_log_target(std::string_view text) noexcept;

/// True when stderr is connected to the journal or the process runs as a systemd unit
/// (JOURNAL_STREAM matches stderr, or INVOCATION_ID is set).
bool running_under_systemd() noexcept;

/// Installs the default logger. `automatic` picks the journal under systemd, stderr otherwise.
/// Safe to call again (a reload changes the level with set_log_level instead).
void init_logging(LogTarget target, spdlog::level::level_enum level);
void set_log_level(spdlog::level::level_enum level);

/// Structured fields attached to one log record. Empty fields are omitted.
struct LogFields {
  std::string_view device_id{};
  std::string_view module_id{};
  std::string_view remote_addr{};
  std::string_view protocol{};
};

namespace detail {
/// The fields of the record being logged on this thread (sinks run synchronously inside the
/// logging call, so a thread-local pointer set around that call is exact).
const LogFields* current_fields() noexcept;
class ScopedFields {
 public:
  explicit ScopedFields(const LogFields& f) noexcept;
  ~ScopedFields();
  ScopedFields(const ScopedFields&) = delete;
  ScopedFields& operator=(const ScopedFields&) = delete;

 private:
  const LogFields* previous_;
};
}  // namespace detail

/// Logs with structured fields: journald gets DEVICE_ID=, MODULE_ID=, REMOTE_ADDR=, PROTOCOL=;
/// stderr gets them as a "[device=… module=… remote=…]" prefix.
template <typename... Args>
void log(spdlog::level::level_enum level, const LogFields& fields,
         spdlog::format_string_t<Args...> fmt, Args&&... args) {
  auto* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  detail::ScopedFields scope(fields);
  logger->log(level, fmt, std::forward<Args>(args)...);
}

}  // namespace edgehub::ops
