// kill -9 at random moments loses nothing that was acknowledged (design.md §6).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>

#include "edgehub/ops/metrics.hpp"
#include "edgehub/store/sqlite_store.hpp"
#include "support/store/store_test_support.hpp"

namespace edgehub::store::testing {
namespace {

constexpr int kKills = 60;
constexpr int kChains = 4;

struct Child {
  pid_t pid = -1;
  int out = -1;
};

Child spawn(const std::filesystem::path& db, std::uint64_t first_id, unsigned seed) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    const std::string first = std::to_string(first_id);
    const std::string s = std::to_string(seed);
    ::execl(STORE_CRASH_CHILD, STORE_CRASH_CHILD, db.c_str(), first.c_str(), s.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(fds[1]);
  return Child{pid, fds[0]};
}

/// Reads whole lines ("ID\n") from the child; a partial tail stays in `pending`.
void read_ids(int fd, std::string& pending, std::vector<std::uint64_t>& ids, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return;
  char buf[4096];
  const auto n = ::read(fd, buf, sizeof buf);
  if (n <= 0) return;
  pending.append(buf, static_cast<std::size_t>(n));
  std::size_t start = 0;
  for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
    ids.push_back(std::stoull(pending.substr(start, nl - start)));
    start = nl + 1;
  }
  pending.erase(0, start);
}

std::uint64_t id_of(const StoredEntry& e) {
  const auto* p = e.message.find_app("id");
  return p && p->value ? std::stoull(*p->value) : 0;
}

TEST(StoreCrash, AcknowledgedMessagesSurviveSigkill) {
  TempDir dir;
  const auto db = dir.path() / kDatabaseFileName;
  std::mt19937 rng(20261129);
  std::uniform_int_distribution<int> run_ms(5, 120);
  std::set<std::uint64_t> must_exist;  // acknowledged and not yet consumed by this test
  std::uint64_t next_id = 1;
  std::uint64_t total_acked = 0;

  for (int round = 0; round < kKills; ++round) {
    auto child = spawn(db, next_id, static_cast<unsigned>(rng()));
    ASSERT_GT(child.pid, 0);
    std::vector<std::uint64_t> acked;
    std::string pending;
    // Let it run for a random while, counted from its first acknowledgement so the kill lands
    // in steady appending rather than always in start-up (some rounds kill it almost at once).
    const int wait = run_ms(rng);
    const auto first_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (acked.empty() && std::chrono::steady_clock::now() < first_deadline) {
      read_ids(child.out, pending, acked, 100);
      int status = 0;
      if (::waitpid(child.pid, &status, WNOHANG) == child.pid) FAIL() << "child exited early";
    }
    ASSERT_FALSE(acked.empty()) << "child never acknowledged anything";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait);
    while (std::chrono::steady_clock::now() < deadline)
      read_ids(child.out, pending, acked, 1);
    ::kill(child.pid, SIGKILL);
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
    // Whatever the child wrote before dying was acknowledged: drain the pipe to EOF.
    for (;;) {
      const auto before = acked.size();
      pollfd p{child.out, POLLIN, 0};
      if (::poll(&p, 1, 0) <= 0 || (p.revents & POLLIN) == 0) break;
      read_ids(child.out, pending, acked, 0);
      if (acked.size() == before && pending.empty()) break;
    }
    ::close(child.out);
    total_acked += acked.size();
    must_exist.insert(acked.begin(), acked.end());

    // Reopen: quick_check runs; the store must open cleanly every time.
    boost::asio::io_context ioc;
    ops::Registry registry;
    Options options;
    options.path = db;
    options.maintenance_interval = std::chrono::milliseconds(0);
    std::string diagnostic;
    auto store = open_sqlite_store(options, registry, core::SystemClock::instance(),
                                   ioc.get_executor(), diagnostic);
    ASSERT_TRUE(store) << "round " << round << ": " << diagnostic;

    auto peek_all = [&](const QueueId& q) {
      auto r = wait_for<std::vector<StoredEntry>>(
          ioc, [&](auto h) { (*store)->async_peek(q, 1u << 24, std::move(h)); });
      EXPECT_TRUE(r) << r.error().message();  // also: every body decodes
      return r ? std::move(*r) : std::vector<StoredEntry>{};
    };
    std::set<std::uint64_t> present;
    std::uint64_t max_id = 0;
    for (int c = 0; c < kChains; ++c) {
      const auto entries = peek_all(QueueId{"chain" + std::to_string(c), 1});
      for (std::size_t i = 1; i < entries.size(); ++i) {
        ASSERT_LT(id_of(entries[i - 1]), id_of(entries[i])) << "chain " << c << " out of order";
        ASSERT_LT(entries[i - 1].seq, entries[i].seq);
      }
      for (const auto& e : entries) {
        ASSERT_EQ(e.message.body_text().substr(0, 3), "id:");
        present.insert(id_of(e));
        max_id = std::max(max_id, id_of(e));
      }
    }
    const auto all = peek_all(QueueId{"all", 0});
    std::map<std::string, std::uint64_t> last_per_chain;
    std::set<std::uint64_t> in_all;
    for (const auto& e : all) {
      const auto id = id_of(e);
      ASSERT_TRUE(in_all.insert(id).second) << "duplicate " << id;
      auto& last = last_per_chain[e.message.origin.module];
      ASSERT_LT(last, id) << "fan-out queue out of order for " << e.message.origin.module;
      last = id;
    }
    ASSERT_EQ(in_all, present) << "fan-out queues disagree";
    for (const auto id : must_exist)
      ASSERT_TRUE(present.count(id)) << "acknowledged id " << id << " lost";

    next_id =
        std::max(max_id, acked.empty() ? 0 : *std::max_element(acked.begin(), acked.end())) + 1;
    // Every fifth round, consume everything (ack), so the file also goes through deletes and
    // vacuum between kills and does not grow without bound.
    if (round % 5 == 4) {
      for (int c = 0; c < kChains; ++c) {
        auto r = wait_for<std::uint64_t>(ioc, [&](auto h) {
          (*store)->async_ack(QueueId{"chain" + std::to_string(c), 1}, ~SeqNo{0} >> 1,
                              std::move(h));
        });
        ASSERT_TRUE(r);
      }
      auto r = wait_for<std::uint64_t>(ioc, [&](auto h) {
        (*store)->async_ack(QueueId{"all", 0}, ~SeqNo{0} >> 1, std::move(h));
      });
      ASSERT_TRUE(r);
      must_exist.clear();
    }
  }
  EXPECT_GT(total_acked, static_cast<std::uint64_t>(kKills));
  std::string diagnostic;
  EXPECT_TRUE(verify_store_file(db, diagnostic)) << diagnostic;
}

}  // namespace
}  // namespace edgehub::store::testing
