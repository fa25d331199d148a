// edgehubctl queue list | peek | purge against a store the test fills through the store API.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <string>

#include "edgehub/ops/metrics.hpp"
#include "edgehub/store/sqlite_store.hpp"
#include "support/store/store_test_support.hpp"

namespace edgehub::store::testing {
namespace {

struct Run {
  int code = -1;
  std::string out;
};

Run ctl(const std::string& args) {
  Run r;
  const std::string cmd = std::string(EDGEHUBCTL_PATH) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    r.out.append(buf, n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class QueueCommand : public ::testing::Test {
 protected:
  QueueCommand() {
    options_.path = dir_.path() / kDatabaseFileName;
    options_.maintenance_interval = std::chrono::milliseconds(0);
  }

  void open() {
    std::string diagnostic;
    auto s = open_sqlite_store(options_, registry_, clock_, ioc_.get_executor(), diagnostic);
    ASSERT_TRUE(s) << diagnostic;
    store_ = std::move(*s);
  }

  void add(const std::string& body, const std::string& endpoint, std::uint32_t priority) {
    AppendBatch batch;
    auto m = make_message(body, "sensor-1");
    m.set_app("temp", "21");
    m.set_app("flag", std::nullopt);
    batch.push_back(to_queue(std::move(m), endpoint, priority));
    auto r = wait_for<AppendResult>(
        ioc_, [&](auto h) { store_->async_append(std::move(batch), std::move(h)); });
    ASSERT_TRUE(r) << r.error().message();
  }

  std::string state_dir() const { return "--state-dir " + dir_.path().string(); }

  TempDir dir_;
  boost::asio::io_context ioc_;
  core::SystemClock clock_;
  ops::Registry registry_;
  Options options_;
  std::unique_ptr<MessageStore> store_;
};

TEST_F(QueueCommand, ListAndPeekWorkWhileTheStoreIsOpen) {
  open();
  add("hello", "iothub", kDefaultPriority);
  add("second", "iothub", kDefaultPriority);
  add("alert", "iothub", 0);
  add("to module", "gw/filter/input1", 3);

  auto list = ctl("queue list " + state_dir());
  EXPECT_EQ(list.code, 0) << list.out;
  EXPECT_NE(list.out.find("iothub@2000000000"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("iothub@0"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("gw/filter/input1@3"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("4 bodies"), std::string::npos) << list.out;

  auto peek = ctl("queue peek iothub " + state_dir());
  EXPECT_EQ(peek.code, 0) << peek.out;
  const auto first = peek.out.find("\"hello\"");
  const auto second = peek.out.find("\"second\"");
  ASSERT_NE(first, std::string::npos) << peek.out;
  ASSERT_NE(second, std::string::npos) << peek.out;
  EXPECT_LT(first, second);  // oldest first
  EXPECT_NE(peek.out.find("from sensor-1"), std::string::npos) << peek.out;
  EXPECT_NE(peek.out.find("temp = 21"), std::string::npos) << peek.out;
  EXPECT_NE(peek.out.find("flag (null)"), std::string::npos) << peek.out;

  auto limited = ctl("queue peek iothub --max 1 " + state_dir());
  EXPECT_EQ(limited.code, 0);
  EXPECT_EQ(limited.out.find("\"second\""), std::string::npos) << limited.out;

  auto purge = ctl("queue purge iothub@0 " + state_dir());
  EXPECT_EQ(purge.code, 1) << purge.out;
  EXPECT_NE(purge.out.find("stop it first"), std::string::npos) << purge.out;
}

TEST_F(QueueCommand, PurgeWithTheDaemonStopped) {
  open();
  add("a", "iothub", 0);
  add("b", "iothub", 0);
  add("c", "iothub", kDefaultPriority);
  store_.reset();
  auto purge = ctl("queue purge iothub@0 " + state_dir());
  EXPECT_EQ(purge.code, 0) << purge.out;
  EXPECT_NE(purge.out.find("purged 2 entries from iothub@0"), std::string::npos) << purge.out;
  auto peek = ctl("queue peek iothub@0 " + state_dir());
  EXPECT_NE(peek.out.find("is empty"), std::string::npos) << peek.out;
  peek = ctl("queue peek iothub " + state_dir());
  EXPECT_NE(peek.out.find("\"c\""), std::string::npos) << peek.out;
}

TEST_F(QueueCommand, UsageAndMissingStoreErrors) {
  EXPECT_EQ(ctl("queue").code, 64);
  EXPECT_EQ(ctl("queue frobnicate").code, 64);
  EXPECT_EQ(ctl("queue peek").code, 64);
  EXPECT_EQ(ctl("queue peek iothub@x " + state_dir()).code, 64);
  EXPECT_EQ(ctl("queue peek iothub --max 0 " + state_dir()).code, 64);
  EXPECT_EQ(ctl("queue list --bogus").code, 64);
  EXPECT_EQ(ctl("queue --help").code, 0);
  auto missing = ctl("queue list " + state_dir());
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.out.find("no store"), std::string::npos) << missing.out;
}

TEST_F(QueueCommand, CorruptStoreIsReportedNotCrashedOn) {
  write_file(options_.path, std::vector<char>(8192, 'g'));
  auto list = ctl("queue list " + state_dir());
  EXPECT_EQ(list.code, 1) << list.out;
  auto purge = ctl("queue purge iothub " + state_dir());
  EXPECT_EQ(purge.code, 1) << purge.out;
  EXPECT_NE(purge.out.find("move"), std::string::npos) << purge.out;
  EXPECT_EQ(read_file(options_.path), std::vector<char>(8192, 'g'));
}

}  // namespace
}  // namespace edgehub::store::testing
