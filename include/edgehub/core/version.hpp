#pragma once

#include <string_view>

namespace edgehub::core {

/// The release version, e.g. "0.1.0".
std::string_view version() noexcept;

}  // namespace edgehub::core
