// Issue 12, the store under pressure, against the real daemon over MQTT/TLS:
// - the disk quota reached by several devices at once, with each `when_full` policy: with
//   "drop_oldest" every message is acknowledged and each one later dropped is counted; with
//   "refuse" the refused message is not acknowledged, its connection closes, and after a restart
//   the store holds exactly the acknowledged messages;
// - the store on a file system that really fills up (a small tmpfs mounted by the test): writes
//   fail visibly (no PUBACK, the connection closes, edgehub_messages_unack_total grows, a log
//   line), nothing acknowledged is lost or corrupted, and appends succeed again once space
//   returns.
// Nothing is forwarded (no upstream is configured), so every accepted message stays queued.

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <thread>

#include "integration/mqtt_malformed/gateway_under_test.hpp"

namespace edgehub::testing {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMessageBytes = 16 * 1024;
const char* const kRouteAll = "[gateway.routes]\nall = \"FROM /messages/* INTO $upstream\"\n";

struct PublishRun {
  int acknowledged = 0;
  bool closed = false;  ///< the gateway closed the connection instead of acknowledging
};

/// Publishes up to `count` QoS 1 messages of kMessageBytes one at a time, each waiting for its
/// PUBACK; stops at the first message that is not acknowledged.
PublishRun publish(GatewayUnderTest& gw, const std::string& device, int count) {
  PublishRun run;
  auto c = connect_mqtt(gw, sas_connect(device));
  if (!c) {
    run.closed = true;
    return run;
  }
  for (int i = 0; i < count; ++i) {
    const auto id = static_cast<std::uint16_t>(i % 65000 + 1);
    if (!c->write(telemetry(device, id, std::string(kMessageBytes, 'x'))) ||
        c->read_until(puback(id)).find(puback(id)) == std::string::npos) {
      run.closed = true;
      break;
    }
    ++run.acknowledged;
  }
  return run;
}

/// Runs publish() for every device at the same time.
std::vector<PublishRun> publish_concurrently(GatewayUnderTest& gw,
                                             const std::vector<std::string>& devices, int count) {
  std::vector<std::future<PublishRun>> runs;
  for (const auto& d : devices) {
    runs.push_back(
        std::async(std::launch::async, [&gw, d, count] { return publish(gw, d, count); }));
  }
  std::vector<PublishRun> out;
  for (auto& r : runs)
    out.push_back(r.get());
  return out;
}

int total_acknowledged(const std::vector<PublishRun>& runs) {
  int n = 0;
  for (const auto& r : runs)
    n += r.acknowledged;
  return n;
}

bool restart(GatewayUnderTest& gw) {
  gw.process().signal(SIGTERM);
  if (gw.process().wait_for(15s) != 0) return false;
  return gw.start();
}

GatewayUnderTestOptions options_with_store(const std::string& store_keys) {
  GatewayUnderTestOptions o;
  o.identities = sas_device_entry("dev1") + sas_device_entry("dev2") + sas_device_entry("dev3");
  o.pki.devices = {"dev1", "dev2", "dev3"};
  o.tail = "[gateway.store]\n" + store_keys + kRouteAll;
  return o;
}

const std::vector<std::string> kDevices{"dev1", "dev2", "dev3"};

TEST(StoreUnderPressure, DropOldestAcknowledgesEverythingAndCountsEachDrop) {
  GatewayUnderTest gw(options_with_store("max_disk_mb = 1\nwhen_full = \"drop_oldest\"\n"));
  // 3 x 120 x 16 KiB = 5.6 MiB into a 1 MiB quota.
  const auto runs = publish_concurrently(gw, kDevices, 120);
  for (const auto& r : runs)
    EXPECT_FALSE(r.closed) << "drop_oldest never refuses a message that fits\n"
                           << gw.process().stderr_text();
  const int acknowledged = total_acknowledged(runs);
  EXPECT_EQ(acknowledged, 360);
  const double dropped = gw.metric("edgehub_messages_dropped_total", {{"reason", "store_full"}});
  const double queued = gw.metric("edgehub_queue_length");
  std::printf("drop_oldest: %d acknowledged, %.0f dropped, %.0f queued\n", acknowledged, dropped,
              queued);
  EXPECT_GT(dropped, 200) << "most of 5.6 MiB cannot stay in 1 MiB";
  EXPECT_LT(queued * kMessageBytes, 1.1 * 1024 * 1024) << "the quota holds";
  EXPECT_GT(queued * kMessageBytes, 0.6 * 1024 * 1024) << "only what the newest need is dropped";
  // Every acknowledged message is either still queued or counted as dropped: none vanished.
  EXPECT_EQ(dropped + queued, acknowledged);
  // The store is consistent after a restart: the gauge is read back from the file.
  ASSERT_TRUE(restart(gw)) << gw.process().stderr_text();
  EXPECT_EQ(gw.metric("edgehub_queue_length"), queued);
}

TEST(StoreUnderPressure, RefuseUnderConcurrentLoadKeepsExactlyWhatWasAcknowledged) {
  GatewayUnderTest gw(options_with_store("max_disk_mb = 1\nwhen_full = \"refuse\"\n"));
  const auto runs = publish_concurrently(gw, kDevices, 200);
  for (const auto& r : runs)
    EXPECT_TRUE(r.closed) << "each device meets the full store";
  const int acknowledged = total_acknowledged(runs);
  std::printf("refuse: %d acknowledged before the quota was reached\n", acknowledged);
  EXPECT_GT(acknowledged, 20);
  EXPECT_GE(gw.metric("edgehub_messages_unack_total", {{"reason", "storage_failure"}}), 3);
  EXPECT_GE(gw.metric("edgehubd_store_appends_refused_total", {{"reason", "store_full"}}), 3);
  EXPECT_EQ(gw.metric("edgehub_messages_dropped_total", {{"reason", "store_full"}}), 0);
  const auto log = gw.process().stderr_text();
  EXPECT_NE(log.find("message not accepted"), std::string::npos) << log;
  // Exactly the acknowledged messages are stored, and they survive a restart.
  EXPECT_EQ(gw.metric("edgehub_queue_length"), acknowledged);
  ASSERT_TRUE(restart(gw)) << gw.process().stderr_text();
  EXPECT_EQ(gw.metric("edgehub_queue_length"), acknowledged);
  // Nothing was dropped to make room: a new message is still refused.
  EXPECT_TRUE(publish(gw, "dev1", 1).closed);
}

/// A tmpfs of `size` mounted over `path` for the life of the object.
class SmallFileSystem {
 public:
  SmallFileSystem(std::filesystem::path path, const std::string& size) : path_(std::move(path)) {
    const auto options = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      error_ = std::string("mount tmpfs: ") + std::strerror(errno) +
               " (the test needs CAP_SYS_ADMIN, as root in the CI machine)";
    }
  }
  ~SmallFileSystem() {
    if (error_.empty()) ::umount2(path_.c_str(), MNT_DETACH);
  }
  const std::string& error() const { return error_; }

  /// Writes a file until the file system refuses more; returns the bytes written.
  std::size_t fill(const std::filesystem::path& file) {
    std::ofstream out(file, std::ios::binary);
    const std::string chunk(64 * 1024, 'f');
    std::size_t written = 0;
    while (out.write(chunk.data(), static_cast<std::streamsize>(chunk.size())) && out.flush()) {
      written += chunk.size();
    }
    return written;
  }

 private:
  std::filesystem::path path_;
  std::string error_;
};

TEST(StoreOnAFullFileSystem, FailsVisiblyLosesNothingAcknowledgedAndRecovers) {
  GatewayUnderTest gw(options_with_store("max_disk_mb = 1024\n"));  // the disk, not the quota
  // Move the state directory onto a 24 MiB tmpfs (the daemon starts again with an empty one).
  gw.process().signal(SIGTERM);
  ASSERT_EQ(gw.process().wait_for(15s), 0);
  const auto state = gw.dir() / "state";
  std::filesystem::remove_all(state);
  std::filesystem::create_directory(state);
  SmallFileSystem fs(state, "24m");
  ASSERT_EQ(fs.error(), "");
  ASSERT_TRUE(gw.start()) << gw.process().stderr_text();

  auto before = publish(gw, "dev1", 20);
  ASSERT_EQ(before.acknowledged, 20) << gw.process().stderr_text();
  const auto filler = state / "filler";
  ASSERT_GT(fs.fill(filler), 0u);

  // The WAL's spare room takes a few messages more; then an append cannot be written.
  const auto full = publish(gw, "dev1", 2000);
  EXPECT_TRUE(full.closed) << "the store never hit the full file system";
  EXPECT_GE(gw.metric("edgehub_messages_unack_total", {{"reason", "storage_failure"}}), 1);
  const auto log = gw.process().stderr_text();
  EXPECT_NE(log.find("disk full"), std::string::npos) << log;
  const int stored = before.acknowledged + full.acknowledged;
  std::printf("full file system: %d acknowledged before the fill, %d after it\n",
              before.acknowledged, full.acknowledged);
  EXPECT_EQ(gw.metric("edgehub_queue_length"), stored);
  EXPECT_TRUE(gw.process().running()) << "a full disk is an error, not a crash";

  // Space returns: appends succeed again without a restart.
  std::filesystem::remove(filler);
  const auto after = publish(gw, "dev2", 10);
  EXPECT_EQ(after.acknowledged, 10) << gw.process().stderr_text();

  // A restart passes the integrity check and finds every acknowledged message.
  ASSERT_TRUE(restart(gw)) << gw.process().stderr_text();
  EXPECT_EQ(gw.metric("edgehub_queue_length"), stored + after.acknowledged);
  gw.process().signal(SIGTERM);
  EXPECT_EQ(gw.process().wait_for(15s), 0);
}

}  // namespace
}  // namespace edgehub::testing
