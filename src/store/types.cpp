#include "edgehub/store/types.hpp"

#include <charconv>

namespace edgehub::store {

std::string QueueId::to_string() const {
  return endpoint + "@" + std::to_string(priority);
}

bool QueueId::parse(std::string_view text, QueueId& out) {
  // Endpoint ids may contain '/' (module inputs) but never '@', so the last '@' splits.
  const auto at = text.rfind('@');
  std::string_view endpoint = text;
  std::uint32_t priority = kDefaultPriority;
  if (at != std::string_view::npos) {
    endpoint = text.substr(0, at);
    const auto digits = text.substr(at + 1);
    if (digits.empty()) return false;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), priority);
    if (ec != std::errc{} || end != digits.data() + digits.size()) return false;
  }
  if (endpoint.empty()) return false;
  out.endpoint = std::string(endpoint);
  out.priority = priority;
  return true;
}

Options Options::from_config(const config::StoreConfig& config,
                             const std::filesystem::path& state_dir) {
  Options o;
  o.path = state_dir / kDatabaseFileName;
  o.sync = config.sync;
  o.max_disk_bytes = config.max_disk_mb * 1024 * 1024;
  o.when_full = config.when_full;
  o.commit_window = std::chrono::milliseconds(config.commit_window_ms);
  return o;
}

}  // namespace edgehub::store
