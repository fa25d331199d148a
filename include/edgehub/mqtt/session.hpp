#pragma once

// One IoT Hub MQTT session over a net::Transport (8883, or the "mqtt" WebSocket subprotocol on
// 443): the protocol core (mqtt_proto::ServerConnection) driven by coroutines, IoT Hub's naming
// and authorisation rules (this module), and the hub pipeline behind it.
//
//   mqtt::serve(std::move(transport), context);   // returns at once; the session runs on the
//                                                 // transport's executor until it closes
//
// Life cycle (style P3): the session's read coroutine owns the transport and everything per
// connection; its DeviceChannel registration and timer die with it. Outbound traffic from other
// sessions arrives through the hub's DeviceChannel calls, posted onto this executor.
//
// Memory per idle connection (design.md §9) is the reason for the shape: one coroutine (the read
// loop) and one timer per connection, no writer parked on an idle connection (packets are written
// at once when the socket takes them, by a short-lived coroutine when it does not), no queue that
// allocates while empty. Writes are coalesced: what becomes ready in one turn of the executor (the
// PUBACKs of one group commit, the answers to one read's packets) goes out in one write.

#include <chrono>
#include <memory>
#include <string>

#include "edgehub/config/gateway_config.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/hub/device_channels.hpp"
#include "edgehub/hub/ingress.hpp"
#include "edgehub/hub/method_router.hpp"
#include "edgehub/hub/twin_store.hpp"
#include "edgehub/identity/authenticator.hpp"
#include "edgehub/net/transport.hpp"
#include "edgehub/ops/metrics.hpp"
#include "edgehub/store/message_store.hpp"

namespace edgehub::mqtt {

/// Counters of the MQTT head (docs/metrics.md), labelled by transport ("tls" or "websocket").
struct SessionStats {
  explicit SessionStats(ops::Registry& registry);
  ops::CounterFamily& connects;         ///< edgehubd_mqtt_connects_total{transport,result}
  ops::CounterFamily& protocol_errors;  ///< edgehubd_mqtt_protocol_errors_total{reason}
  ops::CounterFamily& refused;          ///< edgehubd_mqtt_refused_total{reason}
  ops::CounterFamily& bytes_in;         ///< edgehubd_bytes_received_total{protocol}
  ops::CounterFamily& bytes_out;        ///< edgehubd_bytes_sent_total{protocol}
  ops::GaugeFamily& sessions;           ///< edgehubd_mqtt_sessions{transport}
  // The children every connection or packet uses, looked up once: with() takes the family's
  // mutex and builds the label strings.
  ops::Counter& mqtt_bytes_in;
  ops::Counter& mqtt_bytes_out;
  ops::Gauge& sessions_tls;
  ops::Gauge& sessions_websocket;
  ops::Counter& connects_ok_tls;
  ops::Counter& connects_ok_websocket;
};

/// What every session shares; owned by the daemon and outliving every session.
struct SessionContext {
  const config::LimitsConfig* limits = nullptr;
  std::string iothub_hostname;   ///< user names and token audiences name the hub ...
  std::string gateway_hostname;  ///< ... or, for X.509 devices, the gateway itself
  const identity::Authenticator* authenticator = nullptr;
  hub::Ingress* ingress = nullptr;
  hub::DeviceChannels* channels = nullptr;
  hub::TwinStore* twins = nullptr;
  hub::MethodRouter* methods = nullptr;
  /// Where clean-session-0 subscriptions are kept (state namespace "mqtt.session").
  store::MessageStore* store = nullptr;
  SessionStats* stats = nullptr;
  const core::Clock* clock = nullptr;
};

/// Starts the session on the transport's executor.
void serve(std::unique_ptr<net::Transport> transport, SessionContext& context);

}  // namespace edgehub::mqtt
