#include "hub/time_format.hpp"

#include <chrono>
#include <cstdio>

namespace edgehub::hub {

std::string format_iso8601(core::SystemTime t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch());
  const auto days = floor<std::chrono::days>(ms);
  const year_month_day ymd{sys_days{days}};
  const auto rest = ms - days;
  const auto h = duration_cast<hours>(rest);
  const auto m = duration_cast<minutes>(rest - h);
  const auto s = duration_cast<seconds>(rest - h - m);
  const auto milli = rest - h - m - s;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(h.count()), static_cast<int>(m.count()),
                static_cast<int>(s.count()));
  // Milliseconds go in before the 'Z'.
  std::string out(buf);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(milli.count()));
  out.insert(out.size() - 1, frac);
  return out;
}

}  // namespace edgehub::hub
