// edgehubctl simulate: a load and demo client. Connects N simulated devices, taken from the
// identities file (SAS devices, in file order), to the gateway's MQTT or AMQP listener and sends
// telemetry at R messages per second in total, printing once a second what was sent and
// acknowledged and how long the acknowledgements took.

#include <algorithm>
// clang-format off
#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange, not including it
// clang-format on
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>

#include "app/ctl/commands.hpp"
#include "app/ctl/simulated_amqp.hpp"
#include "app/ctl/simulated_device.hpp"
#include "edgehub/config/load.hpp"
#include "edgehub/identity/keys.hpp"
#include "edgehub/identity/registry.hpp"
#include "edgehub/identity/sas_token.hpp"

namespace edgehub::app::ctl {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

void print_simulate_usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: edgehubctl simulate [--devices N] [--rate R] [--duration SECONDS]\n"
      "                           [--protocol mqtt|amqp] [--config PATH] [--host HOST]\n"
      "                           [--port PORT] [--window W]\n\n"
      "Connects N simulated devices (the first N enabled SAS devices of the identities\n"
      "file; add more with `edgehubctl identity add`) to the gateway's MQTT or AMQP listener over\n"
      "TLS, verified against trust_bundle_cert and the configured hostname, and sends\n"
      "QoS 1 telemetry ({\"device\",\"seq\",\"temp\"}) at R messages per second in total.\n"
      "Prints sent and acknowledged messages and acknowledgement latency every second,\n"
      "and a summary at the end (Ctrl-C, or after --duration).\n\n"
      "  --devices N        simulated devices (default 1)\n"
      "  --rate R           messages per second over all devices (default 10)\n"
      "  --duration S       stop after S seconds (default: run until interrupted)\n"
      "  --protocol P       mqtt (default: MQTT 3.1.1, QoS 1) or amqp (AMQP 1.0, SASL PLAIN)\n"
      "  --config PATH      configuration file (default %s)\n"
      "  --host HOST        connect here instead of the protocol's listen address\n"
      "  --port PORT        connect to this port instead of the protocol's listen port\n"
      "  --window W         unacknowledged messages per device at most (default 32)\n\n"
      "%s",
      kDefaultConfig, kExitCodesHelp);
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "edgehubctl simulate: %s\n\n", message.c_str());
  print_simulate_usage(stderr);
  return kExitUsage;
}

struct Options {
  std::size_t devices = 1;
  double rate = 10;
  std::optional<double> duration;
  std::string protocol = "mqtt";
  std::string config = kDefaultConfig;
  std::optional<std::string> host;
  std::optional<std::uint16_t> port;
  std::size_t window = 32;
};

template <typename T>
bool parse_number(const std::string& text, T& out) {
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

std::optional<int> parse(Args args, Options& o) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& flag = args[i];
    if (flag == "--help" || flag == "-h") {
      print_simulate_usage(stdout);
      return kExitOk;
    }
    if (i + 1 >= args.size()) return usage_error(flag + " needs a value or is unknown");
    const auto& value = args[++i];
    bool ok = true;
    if (flag == "--devices") {
      ok = parse_number(value, o.devices) && o.devices > 0;
    } else if (flag == "--rate") {
      ok = parse_number(value, o.rate) && o.rate > 0;
    } else if (flag == "--duration") {
      double d = 0;
      ok = parse_number(value, d) && d > 0;
      o.duration = d;
    } else if (flag == "--protocol") {
      ok = value == "mqtt" || value == "amqp";
      o.protocol = value;
    } else if (flag == "--config") {
      o.config = value;
    } else if (flag == "--host") {
      o.host = value;
    } else if (flag == "--port") {
      std::uint16_t p = 0;
      ok = parse_number(value, p) && p > 0;
      o.port = p;
    } else if (flag == "--window") {
      ok = parse_number(value, o.window) && o.window > 0 && o.window < 65535;
    } else {
      return usage_error("unknown flag " + flag);
    }
    if (!ok) return usage_error("bad value for " + flag + ": " + value);
  }
  return std::nullopt;
}

double percentile(std::vector<double>& values, double q) {
  if (values.empty()) return 0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(values.size() - 1));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return values[k];
}

/// The first `n` enabled SAS devices of the identities file, with a token each.
std::optional<std::vector<SimulatedDeviceSettings>> devices_from(const config::GatewayConfig& cfg,
                                                                 std::size_t n,
                                                                 std::string& error) {
  if (!cfg.identities) {
    error = "the configuration names no identities file ([gateway] identities)";
    return std::nullopt;
  }
  std::vector<identity::RegistryIssue> issues;
  auto snapshot = identity::load_identities(*cfg.identities, cfg.device_id, issues);
  if (!snapshot) {
    error = issues.empty() ? "cannot read " + cfg.identities->string() : issues[0].to_string();
    return std::nullopt;
  }
  std::vector<SimulatedDeviceSettings> out;
  const auto expiry = std::chrono::system_clock::now() + 24h;
  for (const auto& id : snapshot->identities()) {
    if (out.size() == n) break;
    if (!id.id.module.empty() || id.auth != identity::AuthType::sas || !id.enabled ||
        id.keys.empty()) {
      continue;
    }
    const auto key = identity::encode_base64(id.keys[0]);
    auto token =
        identity::make_sas_token(cfg.iothub_hostname + "/devices/" + id.id.device, key, expiry);
    if (!token) continue;
    SimulatedDeviceSettings s;
    s.device_id = id.id.device;
    s.password = std::move(*token);
    s.iothub_hostname = cfg.iothub_hostname;
    out.push_back(std::move(s));
  }
  if (out.size() < n) {
    error = cfg.identities->string() + " has " + std::to_string(out.size()) +
            " enabled SAS device(s), fewer than --devices " + std::to_string(n) +
            "; add more with `edgehubctl identity add DEVICE`";
    return std::nullopt;
  }
  return out;
}

/// A wildcard listen address is reached on loopback from this machine.
std::string loopback_for(const std::string& listen_host) {
  if (listen_host.empty() || listen_host == "0.0.0.0") return "127.0.0.1";
  if (listen_host == "::") return "::1";
  return listen_host;
}

void print_report(SimulationStats& stats, std::size_t devices, double elapsed,
                  std::uint64_t acknowledged_before, double seconds) {
  const double rate = static_cast<double>(stats.acknowledged - acknowledged_before) / seconds;
  std::printf(
      "%6.0fs  devices %llu/%zu  sent %llu  acknowledged %llu  %6.0f msg/s  latency p50 %.1f ms "
      "p99 %.1f ms%s\n",
      elapsed, static_cast<unsigned long long>(stats.connected), devices,
      static_cast<unsigned long long>(stats.sent),
      static_cast<unsigned long long>(stats.acknowledged), rate,
      percentile(stats.latencies_ms, 0.5), percentile(stats.latencies_ms, 0.99),
      stats.held_back ? "  (window full: some sends held back)" : "");
  std::fflush(stdout);
  stats.latencies_ms.clear();
}

/// What a run needs besides the devices: where to connect and how to verify the server.
struct Target {
  std::string host;
  std::uint16_t port = 0;
  std::string tls_hostname;
  std::string trust_bundle;
};

/// MQTT: the devices' coroutines on one io_context. Returns the seconds spent sending.
std::optional<double> simulate_mqtt(std::vector<SimulatedDeviceSettings> devices,
                                    const Target& target, const Options& o,
                                    SimulationStats& stats) {
  asio::io_context io(1);
  asio::ssl::context tls(asio::ssl::context::tls_client);
  tls.set_options(asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  tls.load_verify_file(target.trust_bundle, ec);
  if (ec) {
    std::fprintf(stderr, "edgehubctl simulate: %s: %s\n", target.trust_bundle.c_str(),
                 ec.message().c_str());
    return std::nullopt;
  }
  tls.set_verify_mode(asio::ssl::verify_peer);
  tls.set_verify_callback(asio::ssl::host_name_verification(target.tls_hostname));

  std::vector<std::unique_ptr<SimulatedDevice>> sims;
  for (auto& d : devices)
    sims.push_back(std::make_unique<SimulatedDevice>(io, tls, std::move(d), stats));
  std::size_t running = sims.size();
  for (auto& s : sims) {
    asio::co_spawn(io, s->run(), [&running](std::exception_ptr) { --running; });
  }

  bool stopping = false;
  const auto start = std::chrono::steady_clock::now();
  auto stopped_at = start;
  auto stop_all = [&] {
    if (stopping) return;
    stopping = true;
    stopped_at = std::chrono::steady_clock::now();
    for (auto& s : sims)
      s->stop();
  };
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& e, int) {
    if (!e) stop_all();
  });

  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io);
        auto next = start;
        std::uint64_t acknowledged_before = 0;
        boost::system::error_code e;
        while (running > 0 && !stopping) {
          next += 1s;
          timer.expires_at(next);
          co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, e));
          const double elapsed =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          print_report(stats, sims.size(), elapsed, acknowledged_before, 1.0);
          acknowledged_before = stats.acknowledged;
          if (o.duration && elapsed >= *o.duration) stop_all();
          if (stats.connected + stats.connect_failures == sims.size() && stats.connected == 0) {
            break;  // nothing connected: nothing to wait for
          }
        }
        signals.cancel();
        co_return;
      },
      asio::detached);
  io.run();
  // The rate is over the sending period; the drain of the last acknowledgements is not in it.
  if (!stopping) stopped_at = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(stopped_at - start).count();
}

double simulate_amqp(const std::vector<SimulatedDeviceSettings>& devices, const Target& target,
                     const Options& o, SimulationStats& stats) {
  AmqpSimulationOptions options;
  options.host = target.host;
  options.port = target.port;
  options.tls_hostname = target.tls_hostname;
  options.trust_bundle = target.trust_bundle;
  options.duration_seconds = o.duration;
  std::uint64_t acknowledged_before = 0;
  options.report = [&](double elapsed) {
    print_report(stats, devices.size(), elapsed, acknowledged_before, 1.0);
    acknowledged_before = stats.acknowledged;
  };
  return run_amqp_simulation(devices, options, stats);
}

}  // namespace

int run_simulate(Args args) {
  Options o;
  if (auto code = parse(args, o)) return *code;

  std::vector<config::ConfigIssue> issues;
  auto cfg = config::load_config(o.config, issues);
  for (const auto& issue : issues)
    std::fprintf(stderr, "%s\n", issue.to_string().c_str());
  if (!cfg) {
    std::fprintf(stderr, "edgehubctl simulate: configuration %s is unusable\n", o.config.c_str());
    return kExitConfig;
  }
  const bool amqp = o.protocol == "amqp";
  const auto& listen = amqp ? cfg->listen.amqp : cfg->listen.mqtt;
  if (!listen && (!o.port || !o.host)) {
    std::fprintf(stderr,
                 "edgehubctl simulate: the %s listener is disabled; give --host and --port\n",
                 amqp ? "AMQP" : "MQTT");
    return kExitConfig;
  }
  if (!cfg->trust_bundle_cert) {
    std::fprintf(stderr,
                 "edgehubctl simulate: trust_bundle_cert is needed to verify the "
                 "gateway's certificate\n");
    return kExitConfig;
  }
  std::string error;
  auto devices = devices_from(*cfg, o.devices, error);
  if (!devices) {
    std::fprintf(stderr, "edgehubctl simulate: %s\n", error.c_str());
    return kExitConfig;
  }

  Target target;
  target.host = o.host ? *o.host : loopback_for(listen->host);
  target.port = o.port ? *o.port : listen->port;
  target.tls_hostname = cfg->hostname;
  target.trust_bundle = cfg->trust_bundle_cert->string();
  const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(static_cast<double>(o.devices) / o.rate));
  for (auto& d : *devices) {
    d.host = target.host;
    d.port = target.port;
    d.interval = interval;
    d.window = o.window;
  }
  std::printf("simulating %zu device(s) -> %s:%u (%s over TLS, %s), %.1f msg/s in total\n",
              o.devices, target.host.c_str(), target.port, amqp ? "AMQP" : "MQTT",
              cfg->hostname.c_str(), o.rate);

  SimulationStats stats;
  const auto sending = amqp ? std::optional<double>(simulate_amqp(*devices, target, o, stats))
                            : simulate_mqtt(std::move(*devices), target, o, stats);
  if (!sending) return kExitConfig;
  std::printf(
      "\nsummary: %llu of %zu device(s) connected, %llu sent, %llu acknowledged in %.1f s "
      "(%.0f msg/s); %llu connection(s) lost\n",
      static_cast<unsigned long long>(stats.connected), o.devices,
      static_cast<unsigned long long>(stats.sent),
      static_cast<unsigned long long>(stats.acknowledged), *sending,
      static_cast<double>(stats.acknowledged) / std::max(*sending, 0.001),
      static_cast<unsigned long long>(stats.disconnects));
  if (!stats.last_error.empty()) std::printf("last error: %s\n", stats.last_error.c_str());
  if (stats.connected == 0) return kExitUnavailable;
  const bool clean =
      stats.connect_failures == 0 && stats.disconnects == 0 && stats.acknowledged == stats.sent;
  return clean ? kExitOk : kExitFailure;
}

}  // namespace edgehub::app::ctl
