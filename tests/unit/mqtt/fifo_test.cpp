// mqtt::Fifo, the sessions' queue that holds no memory while empty.

#include "mqtt/fifo.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace edgehub::mqtt {
namespace {

TEST(MqttFifo, KeepsOrderAcrossCompactions) {
  Fifo<int> q;
  int next_in = 0;
  int next_out = 0;
  // Interleaved pushes and pops, so the consumed prefix is dropped many times.
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 3; ++i)
      q.push_back(next_in++);
    for (int i = 0; i < 2; ++i) {
      ASSERT_FALSE(q.empty());
      EXPECT_EQ(q.front(), next_out++);
      q.pop_front();
    }
  }
  EXPECT_EQ(q.size(), static_cast<std::size_t>(next_in - next_out));
  for (std::size_t i = 0; i < q.size(); ++i)
    EXPECT_EQ(q[i], next_out + static_cast<int>(i));
  int expected = next_out;
  for (int v : q)
    EXPECT_EQ(v, expected++);
  while (!q.empty()) {
    EXPECT_EQ(q.front(), next_out++);
    q.pop_front();
  }
  EXPECT_EQ(next_out, next_in);
}

TEST(MqttFifo, PopReleasesWhatTheElementOwns) {
  Fifo<std::shared_ptr<std::string>> q;
  auto first = std::make_shared<std::string>("first");
  std::weak_ptr<std::string> watch = first;
  q.push_back(std::move(first));
  q.push_back(std::make_shared<std::string>("second"));
  q.pop_front();
  EXPECT_TRUE(watch.expired());
  EXPECT_EQ(*q.front(), "second");
}

TEST(MqttFifo, ClearAndEmptyingLeaveItUsable) {
  Fifo<std::string> q;
  for (int i = 0; i < 1000; ++i)
    q.push_back(std::to_string(i));
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  q.push_back("again");
  EXPECT_EQ(q.front(), "again");
  q.pop_front();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.begin(), q.end());
}

}  // namespace
}  // namespace edgehub::mqtt
