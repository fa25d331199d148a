#pragma once

// Process metrics computed at scrape time: resident memory, open file descriptors, uptime and
// the build-info gauge every Prometheus dashboard keys on.

#include <cstdint>

#include "edgehub/core/clock.hpp"
#include "edgehub/ops/metrics.hpp"

namespace edgehub::ops {

/// Registers edgehubd_process_resident_memory_bytes, edgehubd_process_open_fds,
/// edgehubd_process_uptime_seconds and edgehubd_build_info{version} with `registry`.
void register_process_metrics(Registry& registry, const core::Clock& clock);

/// Resident set size of this process in bytes (from /proc/self/statm); 0 when unreadable.
std::uint64_t resident_memory_bytes() noexcept;
/// Number of open file descriptors (entries of /proc/self/fd).
std::uint64_t open_fd_count() noexcept;

}  // namespace edgehub::ops
