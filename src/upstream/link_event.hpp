#pragma once

// What an upstream link reports about an identity's standing with IoT Hub, whichever protocol
// carries it, and the strand every upstream object lives on.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

namespace edgehub::upstream {

using Strand = boost::asio::strand<boost::asio::any_io_executor>;

enum class LinkEvent {
  connected,    ///< MQTT CONNACK 0; AMQP put-token accepted
  refused,      ///< IoT Hub does not accept this identity (CONNACK 2, 4, 5; put-token 401)
  unreachable,  ///< the connection could not be opened (network, TLS, CONNACK 1 or 3)
  lost,         ///< an open connection ended without our asking
  acked,        ///< a message was acknowledged
};

}  // namespace edgehub::upstream
