// commit_floor: what one durable commit costs on a filesystem, below any database: write P pages
// at the end of a file and fdatasync it, as a WAL commit does, N times. Timed on the thread's CPU
// clock (user + system, which is where a virtual disk's flush spends its time) and on the wall
// clock. That is the floor under the store's share of "CPU µs per message": a group commit of M
// messages cannot cost less than one of these (docs/performance.md).
//
//   commit_floor [--dir DIR] [--pages P] [--commits N]
//
// Prints key=value lines (bench/scenarios/lib.sh's kv reads them). The file is created in DIR
// (default: the current directory) and removed at the end.

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
  std::string dir = ".";
  int pages = 4;
  int commits = 500;
};

constexpr std::size_t kPage = 4096;

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) return false;
    const char* value = argv[++i];
    if (arg == "--dir") {
      o.dir = value;
    } else if (arg == "--pages") {
      o.pages = std::atoi(value);
    } else if (arg == "--commits") {
      o.commits = std::atoi(value);
    } else {
      return false;
    }
  }
  return o.pages > 0 && o.commits > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr, "usage: commit_floor [--dir DIR] [--pages P] [--commits N]\n");
    return 2;
  }
  const std::string path = o.dir + "/commit_floor." + std::to_string(getpid());
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::perror(path.c_str());
    return 1;
  }
  std::vector<char> page(kPage, 'x');
  // A WAL grows and is reset after checkpoints: write over a bounded region, like its frames.
  const std::size_t region_pages = 1024;
  std::size_t next = 0;
  bool ok = true;
  const double cpu0 = thread_cpu_us();
  const auto wall0 = std::chrono::steady_clock::now();
  for (int c = 0; c < o.commits && ok; ++c) {
    for (int p = 0; p < o.pages && ok; ++p) {
      const auto offset = static_cast<off_t>((next++ % region_pages) * kPage);
      ok = ::pwrite(fd, page.data(), kPage, offset) == static_cast<ssize_t>(kPage);
    }
    ok = ok && ::fdatasync(fd) == 0;
  }
  const double cpu_us = thread_cpu_us() - cpu0;
  const double wall_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - wall0).count();
  ::close(fd);
  ::unlink(path.c_str());
  if (!ok) {
    std::perror("commit_floor: write or fdatasync");
    return 1;
  }
  std::printf("pages_per_commit=%d\ncommits=%d\n", o.pages, o.commits);
  std::printf("cpu_us_per_commit=%.1f\nwall_us_per_commit=%.1f\n", cpu_us / o.commits,
              wall_us / o.commits);
  return 0;
}
