#include "edgehub/ops/process_metrics.hpp"

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "edgehub/core/version.hpp"

namespace edgehub::ops {

std::uint64_t resident_memory_bytes() noexcept {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

std::uint64_t open_fd_count() noexcept {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return 0;
  std::uint64_t n = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n > 0 ? n - 1 : 0;  // minus the descriptor opendir itself holds
}

void register_process_metrics(Registry& registry, const core::Clock& clock) {
  registry.add_callback_gauge("edgehubd_process_resident_memory_bytes",
                              "Resident memory of the edgehubd process",
                              [] { return static_cast<double>(resident_memory_bytes()); });
  registry.add_callback_gauge("edgehubd_process_open_fds", "Open file descriptors",
                              [] { return static_cast<double>(open_fd_count()); });
  const auto started = clock.steady_now();
  registry.add_callback_gauge(
      "edgehubd_process_uptime_seconds", "Seconds since edgehubd started", [&clock, started] {
        return std::chrono::duration<double>(clock.steady_now() - started).count();
      });
  registry.gauge("edgehubd_build_info", "Build information; the value is always 1", {"version"})
      .with({core::version()})
      .set(1);
}

}  // namespace edgehub::ops
