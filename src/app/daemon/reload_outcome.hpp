#pragma once

// What one reload (SIGHUP or `edgehubctl config apply`) did: applied or rejected, and why. The
// daemon logs it, keeps the last one for `edgehubctl status`, and answers it on the admin socket.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgehub/core/clock.hpp"

namespace edgehub::app {

struct ReloadOutcome {
  bool applied = false;  ///< false: nothing changed, `errors` says why
  core::SystemTime at{};
  std::string trigger;                 ///< "SIGHUP" or "admin socket"
  std::vector<std::string> errors;     ///< each "FILE:LINE: KEY: reason" or a sentence
  std::vector<std::string> warnings;   ///< e.g. keys that take effect only after a restart
  std::vector<std::string> changes;    ///< what the reload changed, one sentence each
  std::size_t closed_connections = 0;  ///< of removed, disabled or re-keyed identities

  nlohmann::json to_json() const;
};

}  // namespace edgehub::app
