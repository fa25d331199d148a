#include "edgehub/core/version.hpp"

namespace edgehub::core {

std::string_view version() noexcept {
  return EDGEHUB_VERSION;
}

}  // namespace edgehub::core
