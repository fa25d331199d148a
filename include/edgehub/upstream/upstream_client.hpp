#pragma once

// The MQTT upstream to IoT Hub (design.md §2, edgehub-reference.md §2.6, §5): one MQTT
// connection per identity (edgehubd's own client, upstream::MqttLink), opened lazily when that
// identity has something to send or a downstream connection that subscribed to C2D, methods or
// desired properties, and closed when idle or when the downstream connection ends. docs/upstream.md
// describes the protocol details.
//
//   UpstreamClient client(options, deps, executor);
//   forwarders.add_endpoint("iothub", client.make_sink(), priorities);   // $upstream
//   client.start();   // watches DeviceChannels for subscriptions to relay
//   ...
//   client.stop();    // before the executor's io_context is destroyed; does not block
//
// Threading: every member may be called from any thread. All state lives on one strand of the
// given executor, where the connections' coroutines run too, so nothing ever blocks an I/O
// thread or the forwarder's strand.
//
// Outcomes of send() (the EndpointSink contract): success on PUBACK; hub::Errc::not_authorized
// when IoT Hub refuses the identity (CONNACK 2, 4, 5) — not retryable; hub::Errc::disconnected
// when the connection failed or was lost; hub::Errc::queue_full when the identity's bounded
// queue is full; hub::Errc::invalid_request when no credentials can be made for the identity.

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "edgehub/core/clock.hpp"
#include "edgehub/hub/device_channels.hpp"
#include "edgehub/hub/forwarder.hpp"
#include "edgehub/hub/method_router.hpp"
#include "edgehub/hub/twin_store.hpp"
#include "edgehub/ops/metrics.hpp"
#include "edgehub/upstream/options.hpp"

namespace edgehub::upstream {

/// What the client relays cloud-to-device traffic into; all must outlive the client. `methods`
/// and `twins` may be null (then method requests are answered 501 and patches dropped).
struct UpstreamDeps {
  hub::DeviceChannels& channels;
  hub::MethodRouter* methods = nullptr;
  hub::TwinStore* twins = nullptr;
  ops::Registry& registry;
  const core::Clock& clock;
  /// The parent device of a device (its `parent` in the identities: the child gateway it sits
  /// behind), "" for none; builds the auth chains of nested identities. May be empty.
  std::function<std::string(const std::string& device)> parent_of = {};
  /// The SAS token a downstream identity last authenticated with, for authentication_mode =
  /// "cloud" (identity::Authenticator::last_token). May be empty.
  std::function<std::optional<std::string>(const core::ClientId&)> device_token = {};
};

/// The upstream forwarding policy (edgehub-reference.md §4.3, §5.2): batches of at most 10
/// messages and 256 KiB in flight, back-off 1 s -> 60 s with 1 s of jitter, 30 s ack timeout.
hub::ForwarderOptions upstream_forwarder_options();

class UpstreamClient final : public hub::CloudTwins {
 public:
  UpstreamClient(UpstreamOptions options, UpstreamDeps deps, boost::asio::any_io_executor executor);
  ~UpstreamClient() override;
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  /// Starts watching downstream connections and the connectivity probe.
  void start();
  /// Disconnects every upstream connection and fails what is pending with Errc::shutting_down.
  /// Closes the connections without waiting. Idempotent.
  void stop();

  /// The `$upstream` sink ("iothub" endpoint) for a hub::Forwarder. Any number may exist; each
  /// must be destroyed before the client.
  std::unique_ptr<hub::EndpointSink> make_sink();

  /// Publishes `message` for its origin identity (QoS 1). `done` once, from any thread.
  void send(core::Message message, hub::DoneCallback done);

  /// Non-zero; changes whenever the upstream goes offline.
  std::uint64_t generation() const noexcept;

  // Implements hub::CloudTwins, over the identity's twin link pair (AMQP) or its connection's
  // $iothub/twin/ topics (MQTT), 10 s deadline; an error at once while offline (the twin store
  // then answers from its cache, or keeps the patch for its next round).
  void fetch_twin(const core::ClientId& id,
                  std::function<void(core::Result<std::string>)> done) override;
  void update_reported(const core::ClientId& id, std::string patch_json,
                       std::function<void(core::Result<int>)> done) override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace edgehub::upstream
