// The victim of store_crash_test: appends batches to the store forever from several concurrent
// chains and writes "ID\n" to stdout (a pipe) for every message whose append has completed,
// i.e. committed. The parent kills it with SIGKILL at random moments.
//
// usage: store_crash_child DB_PATH FIRST_ID SEED

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "edgehub/core/clock.hpp"
#include "edgehub/ops/metrics.hpp"
#include "edgehub/store/sqlite_store.hpp"

namespace {

using namespace edgehub;

constexpr int kChains = 4;

void write_all(const std::string& text) {
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const auto n = ::write(STDOUT_FILENO, p, left);
    if (n <= 0) std::_Exit(4);  // the parent went away
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

struct Appender {
  store::MessageStore& store;
  std::uint64_t& next_id;
  std::mt19937& rng;

  void start(int chain) {
    std::uniform_int_distribution<int> size(1, 8);
    std::uniform_int_distribution<int> pad(0, 600);
    const int n = size(rng);
    store::AppendBatch batch;
    std::string ids;
    for (int i = 0; i < n; ++i) {
      const auto id = next_id++;
      store::AppendItem item;
      item.message.origin = core::ClientId{"crash", "chain" + std::to_string(chain)};
      item.message.set_body("id:" + std::to_string(id) + ":" + std::string(pad(rng), 'x'));
      item.message.set_app("id", std::to_string(id));
      item.targets.push_back(
          store::Target{store::QueueId{"chain" + std::to_string(chain), 1}, std::nullopt});
      item.targets.push_back(store::Target{store::QueueId{"all", 0}, std::nullopt});
      batch.push_back(std::move(item));
      ids += std::to_string(id) + "\n";
    }
    store.async_append(std::move(batch), [this, chain, ids](core::Result<store::AppendResult> r) {
      if (!r) {
        std::fprintf(stderr, "append failed: %s\n", r.error().message().c_str());
        std::_Exit(5);
      }
      write_all(ids);  // acknowledged: the transaction holding them has committed
      start(chain);
    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: store_crash_child DB_PATH FIRST_ID SEED\n");
    return 2;
  }
  boost::asio::io_context ioc;
  ops::Registry registry;
  store::Options options;
  options.path = argv[1];
  options.sync = config::StoreSync::full;
  // Frequent background sweeps and vacuum steps so kills also land inside them.
  options.maintenance_interval = std::chrono::milliseconds(5);
  std::string diagnostic;
  auto opened = store::open_sqlite_store(options, registry, core::SystemClock::instance(),
                                         ioc.get_executor(), diagnostic);
  if (!opened) {
    std::fprintf(stderr, "open failed: %s\n", diagnostic.c_str());
    return 3;
  }
  std::uint64_t next_id = std::strtoull(argv[2], nullptr, 10);
  std::mt19937 rng(static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10)));
  Appender appender{**opened, next_id, rng};
  for (int chain = 0; chain < kChains; ++chain)
    appender.start(chain);
  ioc.run();
  return 0;
}
