#include "app/ctl/simulated_device.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>
#include <random>

#include "edgehub/mqtt_proto/codec.hpp"
#include "edgehub/mqtt_proto/packets.hpp"

namespace edgehub::app::ctl {

namespace asio = boost::asio;
namespace proto = mqtt_proto;

namespace {

constexpr std::size_t kMaxIncomingPacket = 64 * 1024;
constexpr std::uint16_t kKeepAliveSeconds = 60;

std::vector<std::byte> bytes_of(const std::string& s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

}  // namespace

SimulatedDevice::SimulatedDevice(asio::io_context& io, asio::ssl::context& tls,
                                 SimulatedDeviceSettings settings, SimulationStats& stats)
    : io_(io), settings_(std::move(settings)), stats_(stats), stream_(io, tls) {}

asio::awaitable<bool> SimulatedDevice::connect() {
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(io_);
  const auto endpoints =
      co_await resolver.async_resolve(settings_.host, std::to_string(settings_.port),
                                      asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) {
    co_await asio::async_connect(stream_.next_layer(), endpoints,
                                 asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!ec) {
    co_await stream_.async_handshake(asio::ssl::stream_base::client,
                                     asio::redirect_error(asio::use_awaitable, ec));
  }
  if (ec) {
    stats_.last_error = settings_.device_id + ": " + ec.message();
    co_return false;
  }
  proto::Connect c;
  c.client_id = settings_.device_id;
  c.keep_alive = kKeepAliveSeconds;
  c.username = settings_.iothub_hostname + "/" + settings_.device_id + "/?api-version=2021-04-12";
  c.password = bytes_of(settings_.password);
  auto encoded = proto::encode(proto::Packet(std::move(c)));
  if (!encoded) co_return false;
  co_await asio::async_write(stream_, asio::buffer(*encoded),
                             asio::redirect_error(asio::use_awaitable, ec));
  proto::Decoder decoder(kMaxIncomingPacket);
  std::array<std::byte, 512> buffer;
  while (!ec) {
    const auto n = co_await stream_.async_read_some(asio::buffer(buffer),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    decoder.feed(std::span(buffer.data(), n));
    auto packet = decoder.next();
    if (!packet) break;
    if (!*packet) continue;
    const auto* connack = std::get_if<proto::Connack>(&**packet);
    if (connack && connack->return_code == proto::ConnectReturnCode::accepted) co_return true;
    stats_.last_error = settings_.device_id + ": the gateway refused the CONNECT (CONNACK " +
                        std::to_string(connack ? static_cast<int>(connack->return_code) : -1) + ")";
    co_return false;
  }
  stats_.last_error = settings_.device_id + ": " + (ec ? ec.message() : std::string("no CONNACK"));
  co_return false;
}

std::string simulated_telemetry(const std::string& device_id, std::uint64_t sequence) {
  static thread_local std::mt19937 random(std::random_device{}());
  std::uniform_real_distribution<double> temperature(18.0, 36.0);
  char reading[32];
  std::snprintf(reading, sizeof reading, "%.1f", temperature(random));
  // Built as a string: a device id may be 128 characters, longer than any fixed buffer's room.
  return R"({"device":")" + device_id + R"(","seq":)" + std::to_string(sequence) + R"(,"temp":)" +
         reading + "}";
}

std::vector<std::byte> SimulatedDevice::next_message() {
  const auto body = simulated_telemetry(settings_.device_id, sequence_++);
  proto::Publish p;
  p.qos = proto::QoS::at_least_once;
  p.packet_id = next_packet_id_;
  next_packet_id_ = next_packet_id_ == 65535 ? 1 : next_packet_id_ + 1;
  p.topic = "devices/" + settings_.device_id + "/messages/events/";
  const auto* start = reinterpret_cast<const std::byte*>(body.data());
  p.payload.assign(start, start + body.size());
  sent_at_[p.packet_id] = Clock::now();
  auto encoded = proto::encode(proto::Packet(std::move(p)));
  return encoded ? std::move(*encoded) : std::vector<std::byte>{};
}

asio::awaitable<void> SimulatedDevice::read_acknowledgements() {
  proto::Decoder decoder(kMaxIncomingPacket);
  std::array<std::byte, 4096> buffer;
  boost::system::error_code ec;
  while (connected_) {
    const auto n = co_await stream_.async_read_some(asio::buffer(buffer),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    decoder.feed(std::span(buffer.data(), n));
    for (;;) {
      auto packet = decoder.next();
      if (!packet) {
        ec = packet.error();
        break;
      }
      if (!*packet) break;
      if (const auto* ack = std::get_if<proto::Puback>(&**packet)) {
        const auto latency = Clock::now() - sent_at_[ack->packet_id];
        stats_.latencies_ms.push_back(std::chrono::duration<double, std::milli>(latency).count());
        ++stats_.acknowledged;
        if (in_flight_ > 0) --in_flight_;
      }
    }
    if (ec) break;
  }
  if (connected_ && !stopping_) {
    ++stats_.disconnects;
    stats_.last_error = settings_.device_id + ": connection lost: " + ec.message();
  }
  connected_ = false;
}

asio::awaitable<void> SimulatedDevice::run() {
  if (!co_await connect()) {
    ++stats_.connect_failures;
    co_return;
  }
  connected_ = true;
  ++stats_.connected;
  asio::co_spawn(io_, read_acknowledgements(), asio::detached);
  asio::steady_timer timer(io_);
  auto next = Clock::now();
  boost::system::error_code ec;
  while (connected_ && !stopping_) {
    next += settings_.interval;
    timer.expires_at(next);
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!connected_ || stopping_) break;
    if (in_flight_ >= settings_.window) {
      ++stats_.held_back;
      continue;
    }
    const auto message = next_message();
    ++in_flight_;
    ++stats_.sent;
    co_await asio::async_write(stream_, asio::buffer(message),
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
  }
  // Let what is in flight be acknowledged before closing, for at most a few seconds.
  const auto grace_ends = Clock::now() + std::chrono::seconds(5);
  while (connected_ && in_flight_ > 0 && Clock::now() < grace_ends) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (connected_) {
    connected_ = false;
    const auto disconnect = proto::encode(proto::Packet(proto::Disconnect{}));
    if (disconnect) {
      co_await asio::async_write(stream_, asio::buffer(*disconnect),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    stream_.next_layer().close(ec);
  }
}

}  // namespace edgehub::app::ctl
