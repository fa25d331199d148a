// The WebSocket upgrade decision on 443 (iot-hub-protocol.md §4): path and subprotocol.

#include "edgehub/net/websocket_upgrade.hpp"

#include <gtest/gtest.h>

namespace edgehub::net {
namespace {

TEST(WebSocketUpgrade, TheSdksOffersAreAcceptedAndTheirTokenEchoedAsSent) {
  auto mqtt = decide_websocket_upgrade("/$iothub/websocket?iothub-no-client-cert=true", "mqtt");
  EXPECT_TRUE(mqtt.accepted());
  EXPECT_EQ(mqtt.carried, CarriedProtocol::mqtt);
  EXPECT_EQ(mqtt.subprotocol, "mqtt");
  auto amqp = decide_websocket_upgrade("/$iothub/websocket", "AMQPWSB10");
  EXPECT_EQ(amqp.carried, CarriedProtocol::amqp);
  EXPECT_EQ(amqp.label(), "amqp");
  auto mixed = decide_websocket_upgrade("/$iothub/websocket", " chat ,\tamqpwsb10 , mqtt");
  EXPECT_EQ(mixed.carried, CarriedProtocol::amqp) << "the first supported token wins";
  EXPECT_EQ(mixed.subprotocol, "amqpwsb10");
}

TEST(WebSocketUpgrade, AWrongPathOrNoSupportedSubprotocolIsRefused) {
  auto path = decide_websocket_upgrade("/mqtt", "mqtt");
  EXPECT_FALSE(path.accepted());
  EXPECT_TRUE(path.wrong_path);
  EXPECT_EQ(path.label(), "mqtt");
  auto none = decide_websocket_upgrade("/$iothub/websocket", "chat, mqttv5, ");
  EXPECT_FALSE(none.accepted());
  EXPECT_FALSE(none.wrong_path);
  EXPECT_EQ(none.label(), "unknown");
  EXPECT_EQ(none.subprotocol, "");
  EXPECT_FALSE(decide_websocket_upgrade("/$iothub/websocket", "").accepted());
  EXPECT_TRUE(decide_websocket_upgrade("/$iothub/websocketX", "mqtt").wrong_path);
}

}  // namespace
}  // namespace edgehub::net
