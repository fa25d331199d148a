// loadgen: the benchmark load generator for edgehubd and the mosquitto baseline (bench/run.sh).
// One thread, many connections (event_loop.hpp; AMQP devices run on Proton's own thread),
// pre-encoded packets. Every mode prints its
// results as key=value lines on stdout; the scenario scripts read them.
//
//   storm    open --connections N (TLS + CONNECT + CONNACK, --concurrency at a time)
//   idle     the same, then hold them --settle seconds and report the server's RSS growth
//   publish  QoS 1 telemetry from --connections devices at --rate msg/s (0 = open loop) for
//            --duration s or --count messages; with --receive HOST:PORT also subscribes there
//            and reports loss, duplicates, order and end-to-end latency
//   publish-amqp  the same telemetry from devices speaking AMQP (amqp_fleet.hpp), always with
//            the receiver
//   receive  only the subscriber: waits for --devices x --per-device messages (a drain)
//
// With --sut-pid the CPU time and RSS of that process are sampled around the measured phase.

#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "amqp_fleet.hpp"
#include "edgehub/identity/sas_token.hpp"
#include "event_loop.hpp"
#include "process_probe.hpp"
#include "telemetry_body.hpp"

namespace eb = edgehub::bench;
namespace mqtt = edgehub::bench::mqtt;
using eb::Clock;
using eb::Connection;
using eb::monotonic_us;

namespace {

constexpr std::uint16_t kKeepAliveSeconds = 600;
constexpr const char* kTopicFilter = "devices/+/messages/events/#";

struct Options {
  std::map<std::string, std::string> values;

  std::string get(const std::string& key, const std::string& fallback = "") const {
    const auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  }
  long long number(const std::string& key, long long fallback) const {
    const auto it = values.find(key);
    return it == values.end() ? fallback : std::stoll(it->second);
  }
  double real(const std::string& key, double fallback) const {
    const auto it = values.find(key);
    return it == values.end() ? fallback : std::stod(it->second);
  }
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double self_cpu_us() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

void report(const char* key, double value) {
  std::printf("%s=%.3f\n", key, value);
}
void report(const char* key, std::uint64_t value) {
  std::printf("%s=%" PRIu64 "\n", key, value);
}

std::string device_id(const Options& o, std::uint32_t index) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%05u", index);
  return o.get("device-prefix", "dev-") + digits;
}

eb::Endpoint endpoint_from(const Options& o, const std::string& host_port, bool tls) {
  eb::Endpoint e;
  const auto colon = host_port.rfind(':');
  e.host = host_port.substr(0, colon);
  e.port = static_cast<std::uint16_t>(std::stoi(host_port.substr(colon + 1)));
  e.tls = tls;
  if (tls) {
    e.ca_file = o.get("ca");
    e.sni = o.get("sni");
  }
  return e;
}

/// A device's SAS token (--key, --hub), valid for two hours.
std::string sas_token(const Options& o, const std::string& id) {
  const auto hub = o.get("hub", "hub.azure-devices.net");
  auto token =
      edgehub::identity::make_sas_token(hub + "/devices/" + id, o.get("key"),
                                        std::chrono::system_clock::now() + std::chrono::hours(2));
  if (!token) throw std::runtime_error("cannot mint a SAS token (is --key base64?)");
  return *token;
}

/// CONNECT for device `index`: with --key a SAS token as IoT Hub devices send it (edgehubd),
/// without it an anonymous client whose client id is the device id (mosquitto).
mqtt::Buffer device_connect(const Options& o, std::uint32_t index) {
  const auto id = device_id(o, index);
  mqtt::Buffer packet;
  const auto key = o.get("key");
  if (key.empty()) {
    mqtt::append_connect(packet, id, "", "", kKeepAliveSeconds);
    return packet;
  }
  const auto hub = o.get("hub", "hub.azure-devices.net");
  mqtt::append_connect(packet, id, hub + "/" + id + "/?api-version=2021-04-12", sas_token(o, id),
                       kKeepAliveSeconds);
  return packet;
}

/// Runs the loops until `done()` or the deadline; false on timeout.
template <typename Done>
bool run_until(std::vector<eb::EventLoop*> loops, Done done, double timeout_s,
               const std::function<void()>& tick = {}) {
  const int outer = epoll_create1(EPOLL_CLOEXEC);
  for (std::size_t i = 0; i < loops.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(outer, EPOLL_CTL_ADD, loops[i]->fd(), &ev);
  }
  const auto start = Clock::now();
  bool ok = true;
  while (!done()) {
    if (seconds_since(start) > timeout_s) {
      ok = false;
      break;
    }
    if (tick) tick();
    epoll_event ready[4];
    const int n = epoll_wait(outer, ready, 4, 1);
    for (int i = 0; i < n; ++i)
      loops[ready[i].data.u64]->poll(std::chrono::milliseconds(0));
  }
  close(outer);
  return ok;
}

// --- storm and idle -------------------------------------------------------------------------

int run_connections(const Options& o, bool idle) {
  const auto count = static_cast<std::uint32_t>(o.number("connections", 100));
  const auto concurrency = static_cast<std::uint32_t>(o.number("concurrency", 50));
  const auto first = static_cast<std::uint32_t>(o.number("first-device", 0));
  const int pid = static_cast<int>(o.number("sut-pid", 0));
  std::uint32_t started = 0;
  std::uint32_t ok = 0;
  std::uint32_t failed = 0;
  std::uint32_t pending = 0;
  std::uint64_t lost_after_ready = 0;
  std::string last_error;
  eb::EventLoop loop(endpoint_from(o, o.get("target", "127.0.0.1:8883"), true),
                     {.on_ready = [&](Connection&) { ++ok, --pending; },
                      .on_packet = {},
                      .on_closed =
                          [&](Connection& c) {
                            last_error = c.error;
                            if (c.was_ready) {
                              --ok;
                              ++lost_after_ready;
                            } else {
                              --pending;
                            }
                            ++failed;
                          }});
  // Packets are built (and SAS tokens minted) before the clock starts: the client's own cost.
  for (std::uint32_t i = 0; i < count; ++i)
    loop.add(first + i, device_connect(o, first + i));

  const auto before = eb::sample_process(pid);
  const double self_before = self_cpu_us();
  const auto t0 = Clock::now();
  auto& conns = loop.connections();
  auto settled = [&] { return ok + failed >= count; };
  auto top_up = [&] {
    while (started < count && pending < concurrency) {
      loop.start(*conns[started++]);
      ++pending;
    }
  };
  const bool finished = run_until({&loop}, settled, o.real("timeout", 120), top_up);
  const double elapsed = seconds_since(t0);
  // Work the server defers past the CONNACK (session bookkeeping on other threads) belongs to
  // the connection's cost too: sample after a short quiet tail.
  const auto tail_until = Clock::now() + std::chrono::milliseconds(o.number("tail-ms", 500));
  run_until(
      {&loop}, [&] { return Clock::now() >= tail_until; }, 1e9);
  const auto after = eb::sample_process(pid);
  const double self_after = self_cpu_us();

  report("connections_ok", std::uint64_t{ok});
  report("connections_failed", std::uint64_t{failed});
  report("connections_dropped_after_connack", lost_after_ready);
  report("setup_elapsed_s", elapsed);
  report("setup_per_s", ok / elapsed);
  report("loadgen_cpu_us_per_conn", (self_after - self_before) / std::max(1u, ok));
  if (pid > 0) {
    report("sut_cpu_us", after.cpu_us - before.cpu_us);
    report("sut_cpu_us_per_conn", (after.cpu_us - before.cpu_us) / std::max(1u, ok));
    report("sut_rss_before_kib", before.rss_kib);
  }
  if (!last_error.empty()) std::printf("last_error=%s\n", last_error.c_str());
  if (idle) {
    const auto settle_until = Clock::now() + std::chrono::duration<double>(o.real("settle", 3));
    run_until(
        {&loop}, [&] { return Clock::now() >= settle_until; }, 1e9);
    const auto held = eb::sample_process(pid);
    report("connections_held", std::uint64_t{ok});
    if (pid > 0) {
      report("sut_rss_held_kib", held.rss_kib);
      report("sut_rss_kib_per_conn",
             (static_cast<double>(held.rss_kib) - static_cast<double>(before.rss_kib)) /
                 std::max(1u, ok));
    }
  }
  for (auto& c : conns) {
    if (c->state == Connection::State::ready) {
      mqtt::append_disconnect(c->out);
      loop.flush(*c);
    }
  }
  std::fflush(stdout);
  return finished && failed == 0 ? 0 : 1;
}

// --- the receiver ---------------------------------------------------------------------------

/// Tracks what reached broker B: per device which sequence numbers, in which order, how late.
class Tally {
 public:
  explicit Tally(std::string prefix) : prefix_(std::move(prefix)) { latencies_.reserve(1 << 20); }

  void on_message(std::span<const std::uint8_t> payload, std::uint64_t now_us) {
    const std::string_view body(reinterpret_cast<const char*>(payload.data()), payload.size());
    const auto seq = field(body, "\"seq\":\"");
    const auto ts = field(body, "\"ts\":\"");
    const auto dev = field(body, ("\"dev\":\"" + prefix_).c_str());
    if (!seq || !ts || !dev) {
      ++foreign_;
      return;
    }
    if (*dev >= devices_.size()) devices_.resize(*dev + 1);
    auto& d = devices_[*dev];
    if (*seq >= d.seen.size()) d.seen.resize(std::max<std::size_t>(*seq + 1, d.seen.size() * 2));
    if (d.seen[*seq]) {
      ++duplicates_;
      return;
    }
    d.seen[*seq] = 1;
    if (d.any && *seq < d.last) ++out_of_order_;
    d.any = true;
    d.last = *seq;
    ++unique_;
    latencies_.push_back(now_us > *ts ? now_us - *ts : 0);
    if (first_us_ == 0) first_us_ = now_us;
    last_us_ = now_us;
  }

  /// Messages from the expected set (seq below sent[device], even ones only if `even_only`)
  /// that never arrived.
  std::uint64_t lost(const std::vector<std::uint64_t>& sent, bool even_only) const {
    std::uint64_t lost = 0;
    for (std::size_t d = 0; d < sent.size(); ++d) {
      for (std::uint64_t s = 0; s < sent[d]; ++s) {
        if (even_only && s % 2 == 1) continue;
        if (d >= devices_.size() || s >= devices_[d].seen.size() || !devices_[d].seen[s]) {
          // The first few by name on stderr: where a loss is tells what caused it.
          if (++lost <= 10)
            std::fprintf(stderr, "loadgen: lost device %zu seq %" PRIu64 "\n", d, s);
        }
      }
    }
    return lost;
  }
  std::uint64_t unique() const { return unique_; }
  std::uint64_t duplicates() const { return duplicates_; }
  std::uint64_t out_of_order() const { return out_of_order_; }
  std::uint64_t foreign() const { return foreign_; }
  double span_s() const { return static_cast<double>(last_us_ - first_us_) / 1e6; }
  std::uint64_t first_us() const { return first_us_; }

  void restart_latencies() { latencies_.clear(); }

  void report_latency() {
    if (latencies_.empty()) return;
    std::sort(latencies_.begin(), latencies_.end());
    auto at = [&](double q) {
      return static_cast<double>(
                 latencies_[static_cast<std::size_t>(q * (latencies_.size() - 1))]) /
             1000.0;
    };
    report("latency_p50_ms", at(0.5));
    report("latency_p99_ms", at(0.99));
    report("latency_max_ms", at(1.0));
  }

 private:
  struct Device {
    std::vector<std::uint8_t> seen;
    std::uint64_t last = 0;
    bool any = false;
  };

  static std::optional<std::uint64_t> field(std::string_view body, const char* key) {
    const auto at = body.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    std::uint64_t v = 0;
    bool digits = false;
    for (auto i = at + std::strlen(key); i < body.size() && body[i] >= '0' && body[i] <= '9'; ++i) {
      v = v * 10 + static_cast<std::uint64_t>(body[i] - '0');
      digits = true;
    }
    return digits ? std::optional(v) : std::nullopt;
  }

  std::string prefix_;
  std::vector<Device> devices_;
  std::vector<std::uint64_t> latencies_;
  std::uint64_t unique_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t out_of_order_ = 0;
  std::uint64_t foreign_ = 0;
  std::uint64_t first_us_ = 0;
  std::uint64_t last_us_ = 0;
};

/// A subscriber on broker B (plain MQTT), acknowledging QoS 1 deliveries.
struct Receiver {
  Receiver(const Options& o, Tally& tally)
      : loop(endpoint_from(o, o.get("receive"), false),
             {.on_ready =
                  [this](Connection& c) {
                    mqtt::append_subscribe(c.out, 1, kTopicFilter, 1);
                    loop.flush(c);
                  },
              .on_packet =
                  [this, &tally](Connection& c, const mqtt::Frame& f) {
                    if (f.type == mqtt::kSuback) subscribed = true;
                    if (f.type != mqtt::kPublish) return;
                    const auto topic_len = mqtt::get_u16(f.body, 0);
                    std::size_t at = 2 + topic_len;
                    const auto qos = (f.flags >> 1) & 3;
                    if (qos > 0) {
                      mqtt::append_puback(c.out, mqtt::get_u16(f.body, at));
                      at += 2;
                    }
                    tally.on_message(f.body.subspan(at), monotonic_us());
                  },
              .on_closed = [this](Connection& c) { error = c.error; }}) {
    mqtt::Buffer connect;
    // --clean 0: a session B keeps (and, with its persistence, restores after a restart), so
    // that nothing published while the receiver is away is missed.
    mqtt::append_connect(connect, o.get("receiver-id", "bench-receiver"), "", "", kKeepAliveSeconds,
                         o.get("clean", "1") == "1");
    loop.add(0, std::move(connect));
  }

  /// Connects (retrying while B is not up yet) and subscribes.
  bool subscribe(double timeout_s) {
    const auto start = Clock::now();
    auto& c = *loop.connections()[0];
    while (seconds_since(start) < timeout_s) {
      c.state = Connection::State::idle;
      c.out.clear();
      c.out_done = 0;
      c.in.clear();
      loop.start(c);
      run_until(
          {&loop}, [&] { return subscribed || c.state == Connection::State::closed; }, timeout_s);
      if (subscribed) return true;
      usleep(2000);
    }
    return false;
  }

  eb::EventLoop loop;
  bool subscribed = false;
  std::string error;
};

// --- publish --------------------------------------------------------------------------------

/// One device's PUBLISH, encoded once; each send copies it and stamps id, seq, time and temp.
struct PublishTemplate {
  eb::TelemetryBody body;
  mqtt::Buffer packet;
  std::size_t id_at = 0;

  explicit PublishTemplate(const std::string& device) : body(device) {
    const auto topic =
        "devices/" + device + "/messages/events/%24.ct=application%2Fjson&%24.ce=utf-8";
    const auto* b = reinterpret_cast<const std::uint8_t*>(body.text.data());
    id_at = mqtt::append_publish(packet, topic, std::span(b, body.text.size()), 1);
  }

  void append_to(mqtt::Buffer& out, std::uint16_t id, std::uint64_t seq, std::uint64_t ts) const {
    const auto base = out.size();
    out.insert(out.end(), packet.begin(), packet.end());
    auto* p = out.data() + base;
    p[id_at] = static_cast<std::uint8_t>(id >> 8);
    p[id_at + 1] = static_cast<std::uint8_t>(id & 0xff);
    body.stamp(p + id_at + 2, seq, ts);
  }
};

int run_publish(const Options& o) {
  const auto count = static_cast<std::uint32_t>(o.number("connections", 10));
  const auto first = static_cast<std::uint32_t>(o.number("first-device", 0));
  const double rate = o.real("rate", 0);
  const double duration = o.real("duration", 10);
  // Sent but not measured: the upstream connections open lazily, on the first message.
  const double warmup = o.real("warmup", 0);
  const auto total = static_cast<std::uint64_t>(o.number("count", 0));  // 0: by duration
  const auto window = static_cast<std::uint32_t>(o.number("window", 32));
  const bool even_only = o.get("expect", "all") == "even";
  const int pid = static_cast<int>(o.number("sut-pid", 0));

  Tally tally(o.get("device-prefix", "dev-"));
  std::unique_ptr<Receiver> receiver;
  if (!o.get("receive").empty()) {
    receiver = std::make_unique<Receiver>(o, tally);
    if (!receiver->subscribe(o.real("timeout", 30))) {
      std::fprintf(stderr, "loadgen: cannot subscribe on %s: %s\n", o.get("receive").c_str(),
                   receiver->error.c_str());
      return 2;
    }
  }

  struct DeviceState {
    std::uint32_t in_flight = 0;
    std::uint64_t next_seq = 0;
    std::uint64_t acked = 0;
    std::uint16_t next_id = 1;
  };
  std::vector<DeviceState> devices(count);
  std::vector<PublishTemplate> templates;
  templates.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i)
    templates.emplace_back(device_id(o, first + i));
  std::uint64_t acked = 0;
  std::uint64_t dropped_connections = 0;
  std::string last_error;
  eb::EventLoop loop(endpoint_from(o, o.get("target", "127.0.0.1:8883"), o.get("tls", "1") == "1"),
                     {.on_ready = {},
                      .on_packet =
                          [&](Connection& c, const mqtt::Frame& f) {
                            if (f.type != mqtt::kPuback) return;
                            auto& d = devices[c.index - first];
                            if (d.in_flight > 0) --d.in_flight;
                            ++d.acked;
                            ++acked;
                          },
                      .on_closed =
                          [&](Connection& c) {
                            ++dropped_connections;
                            last_error = c.error;
                          }});
  for (std::uint32_t i = 0; i < count; ++i)
    loop.add(first + i, device_connect(o, first + i));
  auto& conns = loop.connections();
  for (auto& c : conns) {
    c->out.reserve(window * (templates[0].packet.size() + 8));
    loop.start(*c);
  }
  auto all_ready = [&] {
    return std::all_of(conns.begin(), conns.end(), [](const auto& c) {
      return c->state == Connection::State::ready || c->state == Connection::State::closed;
    });
  };
  run_until({&loop}, all_ready, o.real("timeout", 30));
  for (auto& c : conns) {
    if (c->state != Connection::State::ready) {
      std::fprintf(stderr, "loadgen: %s did not connect: %s\n", device_id(o, c->index).c_str(),
                   c->error.c_str());
      return 2;
    }
  }

  std::vector<eb::EventLoop*> loops{&loop};
  if (receiver) loops.push_back(&receiver->loop);
  auto before = eb::sample_process(pid);
  double self_before = self_cpu_us();
  auto t0 = Clock::now();
  std::uint64_t sent = 0;
  std::uint64_t sent_before = 0;  // in the warm-up
  bool warming = warmup > 0;
  std::uint64_t held_back = 0;
  std::size_t next_conn = 0;
  bool sending = true;
  auto send_one = [&](std::uint32_t i) {
    auto& d = devices[i];
    auto& c = *conns[i];
    templates[i].append_to(c.out, d.next_id, d.next_seq++, monotonic_us());
    d.next_id = d.next_id == 65535 ? 1 : static_cast<std::uint16_t>(d.next_id + 1);
    ++d.in_flight;
    ++sent;
  };
  auto tick = [&] {
    if (!sending) return;
    if (warming && seconds_since(t0) >= warmup) {
      warming = false;
      before = eb::sample_process(pid);
      self_before = self_cpu_us();
      sent_before = sent;
      tally.restart_latencies();
    }
    const double elapsed = seconds_since(t0) - (warming ? 0 : warmup);
    if ((total > 0 && sent >= total) || (total == 0 && !warming && elapsed >= duration)) {
      sending = false;
      return;
    }
    std::uint64_t due =
        rate > 0 ? (warming ? 0 : sent_before) + static_cast<std::uint64_t>(rate * elapsed) + 1
                 : UINT64_MAX;
    if (total > 0) due = std::min(due, total);
    std::uint32_t stalled = 0;
    while (sent < due && stalled < count) {
      const auto i = static_cast<std::uint32_t>(next_conn);
      next_conn = (next_conn + 1) % count;
      if (devices[i].in_flight >= window || conns[i]->state != Connection::State::ready) {
        ++stalled;
        continue;
      }
      stalled = 0;
      send_one(i);
    }
    if (sent < due && rate > 0) ++held_back;
    for (auto& c : conns) {
      if (c->has_output()) loop.flush(*c);
    }
  };
  run_until(
      loops, [&] { return !sending; }, warmup + duration + 3600, tick);
  const double send_elapsed = seconds_since(t0) - warmup;
  const bool all_acked = run_until(
      loops, [&] { return acked >= sent; }, o.real("ack-timeout", 60));
  const double ack_elapsed = seconds_since(t0) - warmup;
  std::vector<std::uint64_t> sent_per_device(count);
  for (std::uint32_t i = 0; i < count; ++i)
    sent_per_device[i] = devices[i].next_seq;
  std::uint64_t expected = 0;
  for (auto s : sent_per_device)
    expected += even_only ? (s + 1) / 2 : s;
  if (const auto file = o.get("sent-file"); !file.empty()) {
    // For a receiver in another process (the drain): how many each device sent.
    if (FILE* f = std::fopen(file.c_str(), "w")) {
      for (auto s : sent_per_device)
        std::fprintf(f, "%" PRIu64 "\n", s);
      std::fclose(f);
    }
  }
  if (receiver) {
    run_until(
        loops, [&] { return tally.unique() >= expected; }, o.real("drain-timeout", 30));
  }
  const double elapsed = seconds_since(t0) - warmup;
  const auto after = eb::sample_process(pid);
  const double self_after = self_cpu_us();
  const std::uint64_t measured = std::max<std::uint64_t>(1, sent - sent_before);

  report("sent", sent);
  report("sent_measured", measured);
  report("acked", acked);
  report("send_elapsed_s", send_elapsed);
  report("send_rate", static_cast<double>(measured) / send_elapsed);
  report("ack_rate", static_cast<double>(acked - sent_before) / ack_elapsed);
  report("held_back_ticks", held_back);
  report("dropped_connections", dropped_connections);
  report("elapsed_s", elapsed);
  report("loadgen_cpu_us_per_msg", (self_after - self_before) / measured);
  if (pid > 0) {
    report("sut_cpu_us", after.cpu_us - before.cpu_us);
    report("sut_cpu_us_per_msg", (after.cpu_us - before.cpu_us) / measured);
    report("sut_rss_before_kib", before.rss_kib);
    report("sut_rss_after_kib", after.rss_kib);
  }
  if (receiver) {
    const auto lost = tally.lost(sent_per_device, even_only);
    report("expected", expected);
    report("received", tally.unique());
    report("lost", lost);
    report("duplicates", tally.duplicates());
    report("out_of_order", tally.out_of_order());
    report("foreign", tally.foreign());
    if (pid > 0) {
      // Forwarded during the measured phase: the expected share of what was sent in it.
      const double forwarded = even_only ? measured / 2.0 : static_cast<double>(measured);
      report("sut_cpu_us_per_forwarded", (after.cpu_us - before.cpu_us) / forwarded);
    }
    tally.report_latency();
  }
  if (!last_error.empty()) std::printf("last_error=%s\n", last_error.c_str());
  for (auto& c : conns) {
    if (c->state == Connection::State::ready) {
      mqtt::append_disconnect(c->out);
      loop.flush(*c);
    }
  }
  std::fflush(stdout);
  return all_acked && dropped_connections == 0 ? 0 : 1;
}

// --- publish over AMQP ---------------------------------------------------------------------

int run_publish_amqp(const Options& o) {
  const auto count = static_cast<std::uint32_t>(o.number("connections", 10));
  const auto first = static_cast<std::uint32_t>(o.number("first-device", 0));
  const double warmup = o.real("warmup", 1);
  const int pid = static_cast<int>(o.number("sut-pid", 0));
  if (o.get("key").empty() || o.get("receive").empty()) {
    std::fprintf(stderr, "loadgen: publish-amqp needs --key and --receive\n");
    return 2;
  }
  Tally tally(o.get("device-prefix", "dev-"));
  Receiver receiver(o, tally);
  if (!receiver.subscribe(o.real("timeout", 30))) {
    std::fprintf(stderr, "loadgen: cannot subscribe on %s: %s\n", o.get("receive").c_str(),
                 receiver.error.c_str());
    return 2;
  }
  std::vector<eb::AmqpDevice> devices;
  for (std::uint32_t i = 0; i < count; ++i) {
    const auto id = device_id(o, first + i);
    devices.push_back({id, sas_token(o, id)});
  }
  const auto hub = o.get("hub", "hub.azure-devices.net");
  eb::AmqpFleet fleet(std::move(devices),
                      {.url = "amqps://" + o.get("target", "127.0.0.1:5671"),
                       .ca_file = o.get("ca"),
                       .virtual_host = o.get("sni"),
                       .hub_name = hub.substr(0, hub.find('.')),
                       .rate = o.real("rate", 1000),
                       .duration = warmup + o.real("duration", 10),
                       .window = static_cast<std::uint32_t>(o.number("window", 32))});
  fleet.start();
  run_until(
      {&receiver.loop}, [&] { return fleet.ready(); }, o.real("timeout", 30));
  if (!fleet.ready() || !fleet.error().empty()) {
    std::fprintf(stderr, "loadgen: AMQP devices did not connect: %s\n", fleet.error().c_str());
    return 2;
  }
  auto total = [](const std::vector<std::uint64_t>& v) {
    std::uint64_t n = 0;
    for (auto x : v)
      n += x;
    return n;
  };
  fleet.go();
  const auto t0 = Clock::now();
  // Sent but not measured: the upstream connections open lazily, on the first message.
  run_until(
      {&receiver.loop}, [&] { return seconds_since(t0) >= warmup; }, warmup + 1);
  const auto before = eb::sample_process(pid);
  const double self_before = self_cpu_us();
  const auto sent_before = total(fleet.sent_per_device());
  tally.restart_latencies();
  run_until(
      {&receiver.loop}, [&] { return fleet.done(); },
      o.real("duration", 10) + o.real("ack-timeout", 60));
  const auto sent = fleet.sent_per_device();
  const auto expected = total(sent);
  run_until(
      {&receiver.loop}, [&] { return tally.unique() >= expected; }, o.real("drain-timeout", 30));
  const auto after = eb::sample_process(pid);
  const double self_after = self_cpu_us();
  const std::uint64_t measured = std::max<std::uint64_t>(1, expected - sent_before);

  report("sent", expected);
  report("sent_measured", measured);
  report("acked", fleet.accepted());
  report("not_accepted", fleet.not_accepted());
  report("loadgen_cpu_us_per_msg", (self_after - self_before) / measured);
  if (pid > 0) {
    report("sut_cpu_us", after.cpu_us - before.cpu_us);
    report("sut_cpu_us_per_msg", (after.cpu_us - before.cpu_us) / measured);
  }
  report("expected", expected);
  report("received", tally.unique());
  report("lost", tally.lost(sent, false));
  report("duplicates", tally.duplicates());
  report("out_of_order", tally.out_of_order());
  report("foreign", tally.foreign());
  tally.report_latency();
  if (!fleet.error().empty()) std::printf("last_error=%s\n", fleet.error().c_str());
  std::fflush(stdout);
  return fleet.error().empty() && fleet.accepted() == expected ? 0 : 1;
}

// --- receive (drain) ------------------------------------------------------------------------

int run_receive(const Options& o) {
  // What each device sent: --sent-file (one count a line, from publish --sent-file), or
  // --devices x --per-device.
  std::vector<std::uint64_t> sent(static_cast<std::size_t>(o.number("devices", 10)),
                                  static_cast<std::uint64_t>(o.number("per-device", 1000)));
  if (const auto file = o.get("sent-file"); !file.empty()) {
    sent.clear();
    std::ifstream in(file);
    for (std::uint64_t n = 0; in >> n;)
      sent.push_back(n);
  }
  std::uint64_t expected = 0;
  for (auto n : sent)
    expected += n;
  const int pid = static_cast<int>(o.number("sut-pid", 0));
  Tally tally(o.get("device-prefix", "dev-"));
  Receiver receiver(o, tally);
  const auto started_us = monotonic_us();
  if (!receiver.subscribe(o.real("connect-timeout", 30))) {
    std::fprintf(stderr, "loadgen: cannot subscribe on %s: %s\n", o.get("receive").c_str(),
                 receiver.error.c_str());
    return 2;
  }
  std::printf("subscribed=1\n");
  std::fflush(stdout);
  if (o.get("subscribe-only", "0") == "1") {
    auto& c = *receiver.loop.connections()[0];
    mqtt::append_disconnect(c.out);
    receiver.loop.flush(c);
    return 0;
  }
  const auto before = eb::sample_process(pid);
  const bool complete = run_until(
      {&receiver.loop}, [&] { return tally.unique() >= expected; }, o.real("timeout", 120));
  // Late duplicates (a resend of something already delivered) arrive just after the rest.
  const auto linger_until = Clock::now() + std::chrono::milliseconds(o.number("linger-ms", 500));
  run_until(
      {&receiver.loop}, [&] { return Clock::now() >= linger_until; }, 1e9);
  const auto after = eb::sample_process(pid);
  report("expected", expected);
  report("received", tally.unique());
  report("lost", tally.lost(sent, false));
  report("duplicates", tally.duplicates());
  report("out_of_order", tally.out_of_order());
  report("foreign", tally.foreign());
  report("drain_span_s", tally.span_s());
  if (tally.first_us() > 0) {
    report("first_arrival_s", static_cast<double>(tally.first_us() - started_us) / 1e6);
  }
  report("drain_rate", static_cast<double>(tally.unique()) / std::max(1e-6, tally.span_s()));
  if (pid > 0) {
    report("sut_cpu_us", after.cpu_us - before.cpu_us);
    report("sut_cpu_us_per_msg",
           (after.cpu_us - before.cpu_us) / std::max<std::uint64_t>(1, tally.unique()));
  }
  std::fflush(stdout);
  return complete ? 0 : 1;
}

int usage() {
  std::fprintf(
      stderr,
      "usage: loadgen storm|idle|publish|publish-amqp|receive [--option value]...\n"
      "  common:  --target HOST:PORT --ca FILE --sni NAME --key BASE64 (SAS; none: "
      "anonymous)\n"
      "           --hub NAME --device-prefix P --first-device N --sut-pid PID --timeout S\n"
      "  storm:   --connections N --concurrency C --tail-ms MS (CPU sampled this long after)\n"
      "  idle:    --connections N --concurrency C --settle S\n"
      "  publish: --connections N --rate R|0 --duration S|--count N --window W\n"
      "           --tls 1|0 --receive HOST:PORT --expect all|even --drain-timeout S\n"
      "           --sent-file F (per-device counts for receive)\n"
      "  publish-amqp: devices over AMQP (SASL PLAIN, SAS token): --target HOST:AMQP_PORT --key\n"
      "           --rate R --duration S --warmup S --window W --receive HOST:PORT\n"
      "  receive: --receive HOST:PORT --devices N --per-device N | --sent-file F\n"
      "           --clean 1|0\n"
      "           --subscribe-only 1|0 --receiver-id ID --linger-ms MS\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string mode = argv[1];
  Options o;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) return usage();
    o.values[a.substr(2)] = argv[++i];
  }
  try {
    if (mode == "storm") return run_connections(o, false);
    if (mode == "idle") return run_connections(o, true);
    if (mode == "publish") return run_publish(o);
    if (mode == "receive") return run_receive(o);
    if (mode == "publish-amqp") return run_publish_amqp(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loadgen: %s\n", e.what());
    return 2;
  }
  return usage();
}
