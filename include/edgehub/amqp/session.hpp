#pragma once

// One IoT Hub AMQP connection over a net::Transport (5671, or the "AMQPWSB10" WebSocket
// subprotocol on 443): the protocol engine (amqp_core::ServerConnection) driven by coroutines,
// and the hub pipeline behind it. docs/amqp.md describes what a client can do.
//
//   amqp::serve(std::move(transport), context);   // returns at once; the session runs on the
//                                                 // transport's executor until it closes
//
// Life cycle (style P3): the session coroutine owns the transport, the engine and, for every
// identity authorised on the connection (CBS put-token, SASL PLAIN or the TLS client
// certificate), one DeviceChannel registration; they all die with it. Outbound traffic from
// other sessions arrives through the hub's DeviceChannel calls, posted onto this executor.

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

namespace edgehub::amqp {

/// Metrics of the AMQP head (docs/metrics.md), labelled by protocol "amqp" or "amqpws".
struct SessionStats {
  explicit SessionStats(ops::Registry& registry);
  ops::CounterFamily& connections;  ///< edgehubd_amqp_connections_total{protocol,result}
  ops::CounterFamily& refused;      ///< edgehubd_amqp_refused_total{protocol,reason}
  ops::CounterFamily& identities;   ///< edgehubd_amqp_identity_auth_total{protocol,result}
  ops::CounterFamily& bytes_in;     ///< edgehubd_bytes_received_total{protocol}
  ops::CounterFamily& bytes_out;    ///< edgehubd_bytes_sent_total{protocol}
  ops::GaugeFamily& open;           ///< edgehubd_amqp_connections{protocol}
};

/// What every session shares; owned by the daemon and outliving every session.
struct SessionContext {
  const config::LimitsConfig* limits = nullptr;
  const identity::Authenticator* authenticator = nullptr;
  hub::Ingress* ingress = nullptr;
  hub::DeviceChannels* channels = nullptr;
  hub::TwinStore* twins = nullptr;
  hub::MethodRouter* methods = nullptr;
  SessionStats* stats = nullptr;
  const core::Clock* clock = nullptr;
};

/// Starts the session on the transport's executor.
void serve(std::unique_ptr<net::Transport> transport, SessionContext& context);

}  // namespace edgehub::amqp
