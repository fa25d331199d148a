#include "edgehub/ops/logging.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace edgehub::ops {
namespace {

TEST(Logging, ParsesLevelsAndTargets) {
  EXPECT_EQ(parse_log_level("DEBUG"), spdlog::level::debug);
  EXPECT_EQ(parse_log_level("warning"), spdlog::level::warn);
  EXPECT_EQ(parse_log_level("error"), spdlog::level::err);
  EXPECT_EQ(parse_log_level("loud"), std::nullopt);
  EXPECT_EQ(parse_log_target("journal"), LogTarget::journal);
  EXPECT_EQ(parse_log_target("stderr"), LogTarget::stderr_text);
  EXPECT_EQ(parse_log_target("syslog"), std::nullopt);
}

// Sinks run inside the logging call, so a sink sees the fields of exactly the record it formats.
class FieldCapturingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> seen;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const auto* f = detail::current_fields();
    seen.push_back(std::string(msg.payload.data(), msg.payload.size()) + "|" +
                   (f ? std::string(f->device_id) + "/" + std::string(f->module_id) + "@" +
                            std::string(f->remote_addr)
                      : std::string("none")));
  }
  void flush_() override {}
};

TEST(Logging, FieldsReachTheSinkOnlyForTheirRecord) {
  auto sink = std::make_shared<FieldCapturingSink>();
  auto logger = std::make_shared<spdlog::logger>("test", sink);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  log(spdlog::level::info,
      LogFields{.device_id = "dev1", .module_id = "m", .remote_addr = "1.2.3.4"}, "connected {}",
      1);
  spdlog::info("plain");
  spdlog::set_default_logger(previous);
  ASSERT_EQ(sink->seen.size(), 2u);
  EXPECT_EQ(sink->seen[0], "connected 1|dev1/m@1.2.3.4");
  EXPECT_EQ(sink->seen[1], "plain|none");
}

}  // namespace
}  // namespace edgehub::ops
