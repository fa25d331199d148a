#pragma once

#include <string>

#include "edgehub/core/clock.hpp"

namespace edgehub::hub {

/// ISO 8601 UTC with milliseconds, "2030-01-01T00:00:00.000Z", the form IoT Hub uses for
/// enqueuedTime and twin metadata.
std::string format_iso8601(core::SystemTime t);

}  // namespace edgehub::hub
