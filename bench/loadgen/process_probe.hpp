#pragma once

// CPU time and resident memory of another process (the system under test), from /proc: the
// cost figures of every scenario are deltas of these around the measured phase.

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace edgehub::bench {

struct ProcessSample {
  double cpu_us = 0;  ///< user + system, all threads
  std::uint64_t rss_kib = 0;
};

inline ProcessSample sample_process(int pid) {
  ProcessSample s;
  if (pid <= 0) return s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  // Fields after the command name (which may hold spaces) start at field 3 (state);
  // utime and stime are fields 14 and 15.
  const auto close_paren = line.rfind(')');
  if (close_paren != std::string::npos) {
    std::istringstream rest(line.substr(close_paren + 2));
    std::string field;
    unsigned long long utime = 0;
    unsigned long long stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    s.cpu_us = static_cast<double>(utime + stime) * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      s.rss_kib = std::stoull(line.substr(6));
      break;
    }
  }
  return s;
}

}  // namespace edgehub::bench
