#include "edgehub/core/clock.hpp"

namespace edgehub::core {

const SystemClock& SystemClock::instance() {
  static const SystemClock clock;
  return clock;
}

}  // namespace edgehub::core
