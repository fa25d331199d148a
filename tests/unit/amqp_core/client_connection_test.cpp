// ClientConnection (the gateway's upstream AMQP client) against ServerConnection (the gateway's
// IoT Hub-like server), bytes moved between the two in memory: put-token multiplexing, refusals,
// telemetry dispositions, C2D, method and twin links, without sockets.

#include "edgehub/amqp_core/client_connection.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "edgehub/amqp_core/connection.hpp"
#include "edgehub/amqp_core/errors.hpp"

namespace edgehub::amqp_core {
namespace {

using namespace std::chrono_literals;

const core::SystemTime kNow = core::SystemTime(std::chrono::seconds(1'800'000'000));
const core::ClientId kD1{"d1", ""};
const core::ClientId kModule{"d2", "m1"};

struct Server : ConnectionHandler {
  std::map<std::string, std::string> tokens;  // identity -> the one token that authenticates it
  std::vector<std::string> authorised;
  std::vector<std::pair<DeliveryId, core::Message>> telemetry;
  std::vector<TwinRequest> twin;
  std::vector<std::pair<std::string, bool>> subscriptions;
  std::map<std::uint64_t, core::ErrorCode> settled;
  std::vector<std::tuple<std::string, std::string, int, std::string>> method_responses;

  core::Result<core::SystemTime> authenticate_token(const core::ClientId& id,
                                                    std::string_view token) override {
    auto it = tokens.find(id.to_string());
    if (it == tokens.end() || it->second != token) return Errc::unauthorized;
    return kNow + 1h;
  }
  core::Result<core::SystemTime> authenticate_certificate(const core::ClientId&) override {
    return Errc::unauthorized;
  }
  void on_authorised(const core::ClientId& id, core::SystemTime) override {
    authorised.push_back(id.to_string());
  }
  void on_deauthorised(const core::ClientId&) override {}
  void on_subscription(const core::ClientId& id, Node node, bool active) override {
    subscriptions.emplace_back(id.to_string() + ":" + std::to_string(static_cast<int>(node)),
                               active);
  }
  void on_telemetry(DeliveryId d, core::Message m) override { telemetry.emplace_back(d, m); }
  void on_twin_request(TwinRequest r) override { twin.push_back(std::move(r)); }
  void on_method_response(const core::ClientId& id, std::string rid, int status,
                          std::string payload) override {
    method_responses.emplace_back(id.to_string(), rid, status, payload);
  }
  void on_outbound_settled(std::uint64_t token, core::ErrorCode outcome) override {
    settled[token] = outcome;
  }
  void count(std::string_view) override {}
};

struct Client : ClientHandler {
  bool opened = false;
  std::map<std::uint64_t, std::pair<int, std::string>> token_replies;
  std::map<std::uint64_t, std::pair<core::ErrorCode, std::string>> sent;
  struct Received {
    core::ClientId id;
    Node node;
    ClientDeliveryId delivery;
    DecodedMessage message;
  };
  std::vector<Received> received;
  std::vector<std::tuple<std::string, Node, std::string>> closed_links;

  void on_opened() override { opened = true; }
  void on_token_reply(std::uint64_t request, int status, std::string description) override {
    token_replies[request] = {status, std::move(description)};
  }
  void on_sent(std::uint64_t token, core::ErrorCode outcome, std::string condition) override {
    sent[token] = {outcome, std::move(condition)};
  }
  void on_received(const core::ClientId& id, Node node, ClientDeliveryId delivery,
                   DecodedMessage message) override {
    received.push_back({id, node, delivery, std::move(message)});
  }
  void on_link_closed(const core::ClientId& id, Node node, std::string condition) override {
    closed_links.emplace_back(id.to_string(), node, std::move(condition));
  }
};

struct Pair : testing::Test {
  Server server_handler;
  Client client_handler;
  ServerConnection server{ConnectionOptions{}, server_handler};
  ClientConnection client{ClientOptions{.container_id = "gw",
                                        .hostname = "hub.azure-devices.net",
                                        .client_version = "edgehubd/test"},
                          client_handler};

  void SetUp() override {
    server_handler.tokens = {{"d1", "token-d1"}, {"d2/m1", "token-m1"}};
    pump();
    ASSERT_TRUE(client_handler.opened);
  }

  // Moves bytes both ways until neither side has anything to say.
  void pump() {
    for (int round = 0; round < 100; ++round) {
      bool moved = false;
      for (auto out = client.output(); !out.empty(); out = client.output()) {
        server.on_input(out);
        client.output_done(out.size());
        moved = true;
      }
      for (auto out = server.output(); !out.empty(); out = server.output()) {
        client.on_input(out);
        server.output_done(out.size());
        moved = true;
      }
      if (!moved) return;
    }
    FAIL() << "the two sides never went quiet";
  }

  std::uint64_t authorise(const core::ClientId& id, std::string_view token) {
    const std::string audience = id.is_module() ? "hub.azure-devices.net%2Fdevices%2F" + id.device +
                                                      "%2Fmodules%2F" + id.module
                                                : "hub.azure-devices.net%2Fdevices%2F" + id.device;
    const auto request = client.put_token(audience, token);
    pump();
    return request;
  }

  static std::vector<std::byte> encode(std::string body, std::string message_id = "m-1") {
    core::Message m;
    m.set_body(body);
    m.sys_prop(core::SystemProperty::message_id) = std::move(message_id);
    m.set_app("colour", "red");
    auto encoded = encode_message(m);
    EXPECT_TRUE(encoded);
    return encoded ? *encoded : std::vector<std::byte>{};
  }
};

TEST_F(Pair, OneConnectionCarriesAPutTokenPerIdentityAndTheirTelemetry) {
  const auto r1 = authorise(kD1, "token-d1");
  const auto r2 = authorise(kModule, "token-m1");
  EXPECT_EQ(client_handler.token_replies[r1].first, 200);
  EXPECT_EQ(client_handler.token_replies[r2].first, 200);
  EXPECT_EQ(server_handler.authorised, (std::vector<std::string>{"d1", "d2/m1"}));

  ASSERT_TRUE(client.send(kD1, Node::events, encode("{\"t\":1}"), 7));
  ASSERT_TRUE(client.send(kModule, Node::events, encode("{\"t\":2}", "m-2"), 8));
  pump();
  ASSERT_EQ(server_handler.telemetry.size(), 2U);
  const auto& [delivery, message] = server_handler.telemetry[0];
  EXPECT_EQ(message.origin, kD1);
  EXPECT_EQ(message.body_text(), "{\"t\":1}");
  EXPECT_EQ(message.sys_prop(core::SystemProperty::message_id), "m-1");
  ASSERT_NE(message.find_app("colour"), nullptr);
  EXPECT_EQ(server_handler.telemetry[1].second.origin, kModule);
  EXPECT_EQ(client.unsettled(), 2U);

  server.settle(delivery, {});
  server.settle(server_handler.telemetry[1].first, make_error_code(Errc::message_too_large));
  pump();
  ASSERT_EQ(client_handler.sent.size(), 2U);
  EXPECT_FALSE(client_handler.sent[7].first);
  EXPECT_EQ(client_handler.sent[8].first, Errc::not_accepted);
  EXPECT_EQ(client_handler.sent[8].second, "amqp:link:message-size-exceeded");
  EXPECT_EQ(client.unsettled(), 0U);
}

TEST_F(Pair, AWrongTokenIsAnsweredWith401AndThatIdentitysLinkIsRefused) {
  const auto request = authorise(kD1, "not-the-token");
  EXPECT_EQ(client_handler.token_replies[request].first, 401);
  ASSERT_TRUE(client.send(kD1, Node::events, encode("x"), 3));
  pump();
  EXPECT_TRUE(server_handler.telemetry.empty());
  ASSERT_EQ(client_handler.sent.count(3), 1U);
  EXPECT_EQ(client_handler.sent[3].first, Errc::not_accepted);
  ASSERT_EQ(client_handler.closed_links.size(), 1U);
  EXPECT_EQ(std::get<1>(client_handler.closed_links[0]), Node::events);
  EXPECT_TRUE(std::get<2>(client_handler.closed_links[0]).starts_with("amqp:unauthorized-access"));
  // The connection stays up for other identities.
  EXPECT_EQ(client_handler.token_replies[authorise(kModule, "token-m1")].first, 200);
}

TEST_F(Pair, ARenewalIsANewPutTokenOnTheSameConnection) {
  EXPECT_EQ(client_handler.token_replies[authorise(kD1, "token-d1")].first, 200);
  server_handler.tokens["d1"] = "token-d1-renewed";
  EXPECT_EQ(client_handler.token_replies[authorise(kD1, "token-d1-renewed")].first, 200);
  EXPECT_EQ(server_handler.authorised, (std::vector<std::string>{"d1", "d1"}));
}

TEST_F(Pair, CloudToDeviceMessagesArriveOnTheReceiverAndTheirSettlementReachesTheServer) {
  authorise(kD1, "token-d1");
  client.receive(kD1, Node::c2d);
  pump();
  ASSERT_FALSE(server_handler.subscriptions.empty());
  EXPECT_TRUE(server_handler.subscriptions.back().second);
  ASSERT_TRUE(server.send(kD1, Node::c2d, encode("hello", "c2d-1"), 41));
  ASSERT_TRUE(server.send(kD1, Node::c2d, encode("again", "c2d-2"), 42));
  ASSERT_TRUE(server.send(kD1, Node::c2d, encode("refused", "c2d-3"), 43));
  pump();
  ASSERT_EQ(client_handler.received.size(), 3U);
  EXPECT_EQ(client_handler.received[0].node, Node::c2d);
  EXPECT_EQ(client_handler.received[0].message.message.body_text(), "hello");
  EXPECT_EQ(client_handler.received[0].message.message.sys_prop(core::SystemProperty::message_id),
            "c2d-1");
  client.settle(client_handler.received[0].delivery, Disposition::accepted);
  client.settle(client_handler.received[1].delivery, Disposition::released);
  client.settle(client_handler.received[2].delivery, Disposition::rejected);
  pump();
  EXPECT_FALSE(server_handler.settled.at(41));
  EXPECT_EQ(server_handler.settled.at(42), Errc::not_accepted);  // the device may get it again
  EXPECT_EQ(server_handler.settled.at(43), Errc::rejected);      // for good
}

TEST_F(Pair, MethodRequestsAreAnsweredOnThePairedLinkWithTheRequestsCorrelationId) {
  authorise(kModule, "token-m1");
  client.receive(kModule, Node::methods);
  pump();
  core::Message request;
  request.set_body("{\"x\":1}");
  OutboundExtras extras;
  extras.typed_properties.emplace_back("IoThub-methodname", std::string("reboot"));
  extras.correlation_id = MessageId{MessageId::Type::uuid, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"};
  ASSERT_TRUE(server.send(kModule, Node::methods, *encode_message(request, extras), 0));
  pump();
  ASSERT_EQ(client_handler.received.size(), 1U);
  const auto& got = client_handler.received[0];
  EXPECT_EQ(got.node, Node::methods);
  ASSERT_TRUE(got.message.correlation_id);
  ASSERT_NE(got.message.message.find_app("IoThub-methodname"), nullptr);

  core::Message response;
  response.set_body("{\"done\":true}");
  OutboundExtras reply;
  reply.typed_properties.emplace_back("IoThub-status", std::int32_t{200});
  reply.correlation_id = got.message.correlation_id;
  ASSERT_TRUE(client.send(kModule, Node::methods, *encode_message(response, reply), 0));
  pump();
  ASSERT_EQ(server_handler.method_responses.size(), 1U);
  const auto& [who, rid, status, payload] = server_handler.method_responses[0];
  EXPECT_EQ(who, "d2/m1");
  EXPECT_EQ(rid, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(payload, "{\"done\":true}");
}

TEST_F(Pair, TwinRequestsGoOutOnTheTwinPairWithTheirOperation) {
  authorise(kD1, "token-d1");
  core::Message put;
  put.set_body(" ");
  OutboundExtras extras;
  extras.include_system_annotations = false;
  extras.annotations.emplace_back("operation", std::string("PUT"));
  extras.annotations.emplace_back("resource",
                                  std::string("/notifications/twin/properties/desired"));
  extras.correlation_id = MessageId{MessageId::Type::string, "req-1"};
  client.receive(kD1, Node::twin);
  ASSERT_TRUE(client.send(kD1, Node::twin, *encode_message(put, extras), 0));
  pump();
  ASSERT_EQ(server_handler.twin.size(), 1U);
  EXPECT_EQ(server_handler.twin[0].id, kD1);
  EXPECT_EQ(server_handler.twin[0].operation, "PUT");
  EXPECT_EQ(server_handler.twin[0].resource, "/notifications/twin/properties/desired");
}

TEST_F(Pair, ClosingAnIdentityReportsWhatWasUnsettledAsNotAccepted) {
  authorise(kD1, "token-d1");
  ASSERT_TRUE(client.send(kD1, Node::events, encode("x"), 5));
  pump();
  ASSERT_EQ(server_handler.telemetry.size(), 1U);
  client.close_identity(kD1);
  pump();
  ASSERT_EQ(client_handler.sent.count(5), 1U);
  EXPECT_EQ(client_handler.sent[5].first, Errc::not_accepted);
  EXPECT_EQ(client.link_count(), 2U);  // only the $cbs pair is left
}

TEST(ClientLinkAddress, NamesEveryNodeAndEncodesWhatAPathCannotCarry) {
  EXPECT_EQ(client_link_address(kD1, Node::events), "/devices/d1/messages/events");
  EXPECT_EQ(client_link_address(kD1, Node::c2d), "/devices/d1/messages/devicebound");
  EXPECT_EQ(client_link_address(kModule, Node::methods),
            "/devices/d2/modules/m1/methods/devicebound");
  EXPECT_EQ(client_link_address(kModule, Node::twin), "/devices/d2/modules/m1/twin");
  EXPECT_EQ(client_link_address({"a%b?c", ""}, Node::events), "/devices/a%25b%3Fc/messages/events");
}

}  // namespace
}  // namespace edgehub::amqp_core
