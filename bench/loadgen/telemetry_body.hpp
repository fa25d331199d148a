#pragma once

// The benchmark's telemetry body, the same over MQTT and AMQP: 256 bytes of JSON,
// {"temp":75.0|25.0,"seq":"<10 digits>","ts":"<16 digits>","dev":"<id>","pad":"xxx…"}.
// Encoded once per device; each send stamps the sequence number, the send time and the
// temperature in place (fixed-width fields, strings so that leading zeros stay valid JSON).

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace edgehub::bench {

inline constexpr std::size_t kBodySize = 256;

/// The send timestamp's clock (CLOCK_MONOTONIC, µs): sender and receiver run on one machine.
inline std::uint64_t monotonic_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

struct TelemetryBody {
  std::string text;
  std::size_t temp_at = 0, seq_at = 0, ts_at = 0;

  explicit TelemetryBody(const std::string& device) {
    text = R"({"temp":75.0,"seq":"0000000000","ts":"0000000000000000","dev":")" + device +
           R"(","pad":")";
    text.append(kBodySize - text.size() - 2, 'x');
    text += "\"}";
    temp_at = text.find("75.0");
    seq_at = text.find("0000000000");
    ts_at = text.find("0000000000000000");
  }

  static void digits(std::uint8_t* at, std::uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10)
      at[i] = static_cast<std::uint8_t>('0' + v % 10);
  }

  /// Stamps a copy of `text` at `body`. Even sequence numbers are hot (75.0, pass
  /// `$body.temp > 50`), odd ones cold (25.0): exactly half pass.
  void stamp(std::uint8_t* body, std::uint64_t seq, std::uint64_t ts) const {
    body[temp_at] = seq % 2 == 0 ? '7' : '2';
    digits(body + seq_at, seq, 10);
    digits(body + ts_at, ts, 16);
  }
};

}  // namespace edgehub::bench
