// ServerConnection against an in-process Proton C client driver: bytes move between the two in
// memory, so SASL, CBS, attach refusals, flow and dispositions are tested without sockets.

#include "edgehub/amqp_core/connection.hpp"

#include <gtest/gtest.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/connection_driver.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "edgehub/amqp_core/cbs.hpp"
#include "edgehub/amqp_core/errors.hpp"
#include "test_messages.hpp"

namespace edgehub::amqp_core {
namespace {

using namespace std::chrono_literals;
using testing::b;

const core::SystemTime kNow = core::SystemTime(std::chrono::seconds(1'800'000'000));

struct FakeHandler : ConnectionHandler {
  std::map<std::string, std::string> tokens;  // identity -> the one token that authenticates it
  bool certificate_ok = false;
  std::vector<std::pair<DeliveryId, core::Message>> telemetry;
  std::vector<TwinRequest> twin;
  std::vector<std::string> counted;
  std::vector<std::pair<std::string, bool>> subscriptions;
  std::vector<std::string> authorised, deauthorised;
  std::map<std::uint64_t, core::ErrorCode> settled;
  std::vector<std::tuple<std::string, std::string, int, std::string>> method_responses;

  core::Result<core::SystemTime> authenticate_token(const core::ClientId& id,
                                                    std::string_view token) override {
    auto it = tokens.find(id.to_string());
    if (it == tokens.end() || it->second != token) return Errc::unauthorized;
    return kNow + 1h;
  }
  core::Result<core::SystemTime> authenticate_certificate(const core::ClientId&) override {
    if (!certificate_ok) return Errc::unauthorized;
    return kNow + 24h;
  }
  void on_authorised(const core::ClientId& id, core::SystemTime) override {
    authorised.push_back(id.to_string());
  }
  void on_deauthorised(const core::ClientId& id) override {
    deauthorised.push_back(id.to_string());
  }
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
  void count(std::string_view reason) override { counted.emplace_back(reason); }
  bool was_counted(std::string_view reason) const {
    return std::find(counted.begin(), counted.end(), reason) != counted.end();
  }
};

// A minimal AMQP client over a Proton C driver.
struct Client {
  pn_connection_driver_t d{};
  pn_session_t* session = nullptr;
  std::vector<std::vector<std::byte>> received;  // messages on receiver links, in order
  std::vector<pn_link_t*> received_on;
  std::string transport_error;

  explicit Client(const char* plain_user = nullptr, const char* password = nullptr,
                  const char* mech = nullptr) {
    pn_connection_driver_init(&d, nullptr, nullptr);
    if (plain_user || mech) {
      pn_sasl_t* sasl = pn_sasl(d.transport);
      pn_sasl_set_allow_insecure_mechs(sasl, true);
      pn_sasl_allowed_mechs(sasl, mech ? mech : "PLAIN");
      if (plain_user) {
        pn_connection_set_user(d.connection, plain_user);
        pn_connection_set_password(d.connection, password);
      }
    }
    pn_connection_driver_bind(&d);
    pn_connection_set_container(d.connection, "test-client");
    pn_connection_open(d.connection);
    session = pn_session(d.connection);
    pn_session_open(session);
  }
  ~Client() { pn_connection_driver_destroy(&d); }

  pn_link_t* sender(const char* name, const char* target, const char* pair = nullptr) {
    pn_link_t* l = pn_sender(session, name);
    pn_terminus_set_address(pn_link_target(l), target);
    if (pair) add_pair(l, pair);
    pn_link_open(l);
    return l;
  }
  pn_link_t* receiver(const char* name, const char* source, const char* pair = nullptr) {
    pn_link_t* l = pn_receiver(session, name);
    pn_terminus_set_address(pn_link_source(l), source);
    if (pair) add_pair(l, pair);
    pn_link_open(l);
    pn_link_flow(l, 10);
    return l;
  }
  static void add_pair(pn_link_t* l, const char* pair) {
    pn_data_t* p = pn_link_properties(l);
    pn_data_put_map(p);
    pn_data_enter(p);
    pn_data_put_symbol(p, b("com.microsoft:channel-correlation-id"));
    pn_data_put_string(p, b(pair));
    pn_data_exit(p);
  }
  pn_delivery_t* send(pn_link_t* l, const std::vector<std::byte>& bytes, bool settled = false) {
    static std::uint64_t tag = 0;
    ++tag;
    pn_delivery_t* dl = pn_delivery(l, pn_dtag(reinterpret_cast<const char*>(&tag), sizeof tag));
    pn_link_send(l, reinterpret_cast<const char*>(bytes.data()), bytes.size());
    pn_link_advance(l);
    if (settled) pn_delivery_settle(dl);
    return dl;
  }

  void handle_events() {
    while (pn_event_t* e = pn_connection_driver_next_event(&d)) {
      switch (pn_event_type(e)) {
        case PN_DELIVERY: {
          pn_delivery_t* dl = pn_event_delivery(e);
          pn_link_t* l = pn_delivery_link(dl);
          if (pn_link_is_receiver(l) && pn_delivery_readable(dl) && !pn_delivery_partial(dl)) {
            std::vector<std::byte> buf(pn_delivery_pending(dl));
            pn_link_recv(l, reinterpret_cast<char*>(buf.data()), buf.size());
            pn_link_advance(l);
            received.push_back(std::move(buf));
            received_on.push_back(l);
            pn_delivery_update(dl, PN_ACCEPTED);
            pn_delivery_settle(dl);
          }
          break;
        }
        case PN_TRANSPORT_ERROR: {
          pn_condition_t* c = pn_transport_condition(d.transport);
          transport_error = pn_condition_get_name(c) ? pn_condition_get_name(c) : "?";
          break;
        }
        default:
          break;
      }
    }
  }
};

// Moves bytes both ways until neither side has more; `chunk` > 0 hands the client's bytes to the
// server in pieces of that size, as a socket may.
void pump(Client& c, ServerConnection& s, std::size_t chunk = 0) {
  for (int round = 0; round < 200; ++round) {
    bool moved = false;
    pn_bytes_t out = pn_connection_driver_write_buffer(&c.d);
    if (out.size > 0) {
      const std::span all(reinterpret_cast<const std::byte*>(out.start), out.size);
      const std::size_t step = chunk == 0 ? all.size() : chunk;
      for (std::size_t at = 0; at < all.size(); at += step) {
        s.on_input(all.subspan(at, std::min(step, all.size() - at)));
      }
      pn_connection_driver_write_done(&c.d, out.size);
      moved = true;
    }
    auto so = s.output();
    while (!so.empty()) {
      pn_rwbytes_t in = pn_connection_driver_read_buffer(&c.d);
      if (in.size == 0) break;
      const auto n = std::min(in.size, so.size());
      std::memcpy(in.start, so.data(), n);
      pn_connection_driver_read_done(&c.d, n);
      s.output_done(n);
      so = s.output();
      moved = true;
    }
    c.handle_events();
    if (!moved) break;
  }
}

std::string link_error(pn_link_t* l) {
  pn_condition_t* c = pn_link_remote_condition(l);
  return pn_condition_is_set(c) ? pn_condition_get_name(c) : "";
}

const char* kToken = "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1&sig=s&se=1";

std::vector<std::byte> put_token(const char* audience, const char* token) {
  return testing::encode([&](pn_message_t* m) {
    pn_data_put_string(pn_message_id(m), b("req-1"));
    pn_message_set_reply_to(m, "cbs");
    testing::put_string_map(pn_message_properties(m), {{"operation", "put-token"},
                                                       {"type", "servicebus.windows.net:sastoken"},
                                                       {"name", audience}});
    pn_data_put_string(pn_message_body(m), b(token));
  });
}

int cbs_status(const std::vector<std::byte>& reply) {
  auto d = decode_message(reply);
  if (!d) return -1;
  const auto* s = d->message.find_app("status-code");
  return s && s->value ? std::stoi(*s->value) : -1;
}

struct AmqpConnection : ::testing::Test {
  FakeHandler handler;
  ConnectionOptions options;
  std::unique_ptr<ServerConnection> server;
  void SetUp() override {
    handler.tokens["dev1"] = kToken;
    handler.tokens["dev1/mod1"] = "module-token";
    options.link_credit = 4;
    server = std::make_unique<ServerConnection>(options, handler);
  }
  // $cbs links and a put-token; returns the CBS status.
  int cbs(Client& c, const char* audience, const char* token) {
    auto* out = c.sender("cbs-out", "$cbs");
    auto* in = c.receiver("cbs-in", "$cbs");
    pump(c, *server);
    c.send(out, put_token(audience, token));
    pump(c, *server);
    for (std::size_t i = 0; i < c.received.size(); ++i) {
      if (c.received_on[i] == in) return cbs_status(c.received[i]);
    }
    return -1;
  }
};

TEST_F(AmqpConnection, NoSaslClientAuthenticatesWithCbsAndSendsTelemetry) {
  Client c;
  EXPECT_EQ(cbs(c, "myhub.azure-devices.net%2Fdevices%2Fdev1", kToken), 200);
  EXPECT_TRUE(server->opened());
  EXPECT_EQ(handler.authorised, std::vector<std::string>{"dev1"});
  auto* events = c.sender("events", "/devices/dev1/messages/events");
  pump(c, *server);
  EXPECT_TRUE(pn_link_state(events) & PN_REMOTE_ACTIVE);
  auto* delivery = c.send(events, testing::encode([](pn_message_t* m) {
                            pn_data_put_string(pn_message_id(m), b("m1"));
                            testing::set_data_body(m, "hello");
                          }));
  pump(c, *server);
  ASSERT_EQ(handler.telemetry.size(), 1u);
  EXPECT_EQ(handler.telemetry[0].second.origin.device, "dev1");
  EXPECT_EQ(handler.telemetry[0].second.body_text(), "hello");
  // Not acknowledged before the store says so.
  EXPECT_EQ(pn_delivery_remote_state(delivery), 0u);
  EXPECT_EQ(server->unsettled(), 1u);
  server->settle(handler.telemetry[0].first, {});
  pump(c, *server);
  EXPECT_EQ(pn_delivery_remote_state(delivery), static_cast<std::uint64_t>(PN_ACCEPTED));
  EXPECT_EQ(server->unsettled(), 0u);
}

TEST_F(AmqpConnection, LinkWithoutAuthorisationIsRefused) {
  Client c;
  auto* events = c.sender("events", "/devices/dev1/messages/events");
  pump(c, *server);
  EXPECT_TRUE(pn_link_state(events) & PN_REMOTE_CLOSED);
  EXPECT_EQ(link_error(events), "amqp:unauthorized-access");
  EXPECT_TRUE(handler.was_counted("unauthorized_link"));
}

TEST_F(AmqpConnection, TokenForOneIdentityDoesNotOpenAnother) {
  Client c;
  EXPECT_EQ(cbs(c, "myhub.azure-devices.net%2Fdevices%2Fdev1", kToken), 200);
  auto* other = c.sender("events", "/devices/dev2/messages/events");
  pump(c, *server);
  EXPECT_EQ(link_error(other), "amqp:unauthorized-access");
}

TEST_F(AmqpConnection, UnknownAddressIsNotFound) {
  Client c;
  auto* l = c.sender("x", "/devices/dev1/files");
  pump(c, *server);
  EXPECT_EQ(link_error(l), "amqp:not-found");
  EXPECT_TRUE(handler.was_counted("unknown_address"));
}

TEST_F(AmqpConnection, WrongTokenGets401AndBadAudience400) {
  Client c;
  EXPECT_EQ(cbs(c, "myhub.azure-devices.net%2Fdevices%2Fdev1", "wrong"), 401);
  EXPECT_TRUE(handler.was_counted("cbs_unauthorized"));
  server = std::make_unique<ServerConnection>(options, handler);  // one connection per client
  Client c2;
  EXPECT_EQ(cbs(c2, "myhub.azure-devices.net", kToken), 400);
  EXPECT_TRUE(handler.authorised.empty());
}

TEST_F(AmqpConnection, SaslPlainAuthenticatesTheConnectionIdentity) {
  Client c("dev1@sas.myhub", kToken);
  auto* events = c.sender("events", "/devices/dev1/messages/events");
  pump(c, *server);
  EXPECT_TRUE(pn_link_state(events) & PN_REMOTE_ACTIVE);
  EXPECT_EQ(handler.authorised, std::vector<std::string>{"dev1"});
}

TEST_F(AmqpConnection, SaslPlainWithBadTokenFailsTheConnection) {
  Client c("dev1@sas.myhub", "wrong");
  pump(c, *server);
  EXPECT_EQ(c.transport_error, "amqp:unauthorized-access");
  EXPECT_TRUE(server->output_closed());
  EXPECT_TRUE(handler.was_counted("sasl_unauthorized"));
  EXPECT_TRUE(handler.authorised.empty());
}

// Proton raises its own transport error after a failed SASL outcome: one refusal, one count.
TEST_F(AmqpConnection, ARefusedSaslPlainIsCountedOnce) {
  Client c("dev1@sas.myhub", "wrong");
  pump(c, *server);
  server->on_input_closed();
  EXPECT_EQ(handler.counted, std::vector<std::string>{"sasl_unauthorized"});
}

TEST_F(AmqpConnection, SaslAnonymousThenCbs) {
  Client c(nullptr, nullptr, "ANONYMOUS");
  EXPECT_EQ(cbs(c, "myhub.azure-devices.net%2Fdevices%2Fdev1", kToken), 200);
}

TEST_F(AmqpConnection, ClientCertificateAuthorisesLinksDirectly) {
  options.client_certificate = true;
  handler.certificate_ok = true;
  server = std::make_unique<ServerConnection>(options, handler);
  Client c;
  auto* events = c.sender("events", "/devices/cam1/messages/events");
  pump(c, *server);
  EXPECT_TRUE(pn_link_state(events) & PN_REMOTE_ACTIVE);
  EXPECT_EQ(handler.authorised, std::vector<std::string>{"cam1"});
}

TEST_F(AmqpConnection, ExpiredTokenClosesThatIdentitysLinks) {
  Client c;
  EXPECT_EQ(cbs(c, "myhub.azure-devices.net%2Fdevices%2Fdev1", kToken), 200);
  auto* events = c.sender("events", "/devices/dev1/messages/events");
  pump(c, *server);
  EXPECT_EQ(server->expire(kNow), kNow + 1h);  // not yet
  EXPECT_TRUE(pn_link_state(events) & PN_REMOTE_ACTIVE);
  EXPECT_FALSE(server->expire(kNow + 2h));
  pump(c, *server);
  EXPECT_TRUE(pn_link_state(events) & PN_REMOTE_CLOSED);
  EXPECT_EQ(link_error(events), "amqp:unauthorized-access");
  EXPECT_EQ(handler.deauthorised, std::vector<std::string>{"dev1"});
  // A new attach for dev1 needs a new token.
  auto* again = c.sender("events2", "/devices/dev1/messages/events");
  pump(c, *server);
  EXPECT_EQ(link_error(again), "amqp:unauthorized-access");
}

TEST_F(AmqpConnection, RejectedDispositionCarriesTheCondition) {
  Client c;
  cbs(c, "myhub.azure-devices.net%2Fdevices%2Fdev1", kToken);
  auto* events = c.sender("events", "/devices/dev1/messages/events");
  pump(c, *server);
  auto* delivery =
      c.send(events, testing::encode([](pn_message_t* m) { testing::set_data_body(m, "x"); }));
  pump(c, *server);
  ASSERT_EQ(handler.telemetry.size(), 1u);
  server->settle(handler.telemetry[0].first, Errc::throttled,
                 "com.microsoft:device-container-throttled", "store full");
  pump(c, *server);
  ASSERT_EQ(pn_delivery_remote_state(delivery), static_cast<std::uint64_t>(PN_REJECTED));
  pn_condition_t* cond = pn_disposition_condition(pn_delivery_remote(delivery));
  EXPECT_STREQ(pn_condition_get_name(cond), "com.microsoft:device-container-throttled");
}

TEST_F(AmqpConnection, CreditBoundsUnsettledTelemetry) {
  Client c;
  cbs(c, "myhub.azure-devices.net%2Fdevices%2Fdev1", kToken);
  auto* events = c.sender("events", "/devices/dev1/messages/events");
  pump(c, *server);
  EXPECT_EQ(pn_link_credit(events), 4);
  for (int i = 0; i < 6; ++i)
    c.send(events, testing::encode([](pn_message_t* m) { testing::set_data_body(m, "x"); }));
  pump(c, *server);
  EXPECT_EQ(handler.telemetry.size(), 4u);  // the rest waits for credit
  server->settle(handler.telemetry[0].first, {});
  server->settle(handler.telemetry[1].first, {});
  pump(c, *server);
  EXPECT_EQ(handler.telemetry.size(), 6u);
}

TEST_F(AmqpConnection, ConnectionCreditIsSharedAmongIdentities) {
  options.link_credit = 4;
  options.connection_credit = 5;
  server = std::make_unique<ServerConnection>(options, handler);
  handler.tokens["dev2"] = "token-2";
  Client c;
  EXPECT_EQ(cbs(c, "myhub.azure-devices.net%2Fdevices%2Fdev1", kToken), 200);
  auto* cbs_out = pn_link_head(c.d.connection, 0);
  while (cbs_out && pn_link_is_receiver(cbs_out))
    cbs_out = pn_link_next(cbs_out, 0);
  c.send(cbs_out, put_token("myhub.azure-devices.net%2Fdevices%2Fdev2", "token-2"));
  pump(c, *server);  // Proton writes attaches before transfers: the token must be in first
  auto* one = c.sender("one", "/devices/dev1/messages/events");
  auto* two = c.sender("two", "/devices/dev2/messages/events");
  pump(c, *server);
  EXPECT_EQ(pn_link_credit(one), 4);
  EXPECT_EQ(handler.authorised, (std::vector<std::string>{"dev1", "dev2"}));
  EXPECT_EQ(pn_link_credit(two), 1);  // what is left of the connection's 5
  for (int i = 0; i < 4; ++i)
    c.send(one, testing::encode([](pn_message_t* m) { testing::set_data_body(m, "x"); }));
  pump(c, *server);
  ASSERT_EQ(handler.telemetry.size(), 4u);
  for (auto& [id, message] : handler.telemetry)
    server->settle(id, {});
  pump(c, *server);
  // Freed credit goes round-robin: dev2's link is topped up to its own window first.
  EXPECT_EQ(pn_link_credit(two), 4);
  EXPECT_EQ(pn_link_credit(one), 1);
}

TEST_F(AmqpConnection, ModuleOutputAndInput) {
  Client c;
  EXPECT_EQ(cbs(c, "myhub.azure-devices.net%2Fdevices%2Fdev1%2Fmodules%2Fmod1", "module-token"),
            200);
  auto* out = c.sender("out", "/devices/dev1/modules/mod1/messages/events");
  auto* in = c.receiver("in", "/devices/dev1/modules/mod1/messages/events");
  pump(c, *server);
  ASSERT_EQ(handler.subscriptions.size(), 1u);
  EXPECT_TRUE(handler.subscriptions[0].second);
  c.send(out, testing::encode([](pn_message_t* m) {
           testing::put_string_map(pn_message_properties(m), {{"iothub-outputname", "alerts"}});
           testing::set_data_body(m, "o");
         }));
  pump(c, *server);
  ASSERT_EQ(handler.telemetry.size(), 1u);
  EXPECT_EQ(handler.telemetry[0].second.origin.module, "mod1");
  EXPECT_EQ(handler.telemetry[0].second.sys_prop(core::SystemProperty::output_name), "alerts");

  core::Message input;
  input.set_body("i");
  OutboundExtras extras;
  extras.annotations.emplace_back("x-opt-input-name", std::string("in1"));
  ASSERT_TRUE(server->send({"dev1", "mod1"}, Node::events, *encode_message(input, extras), 42));
  pump(c, *server);
  ASSERT_EQ(c.received_on.back(), in);
  EXPECT_EQ(*decode_message(c.received.back())->annotation("x-opt-input-name"), "in1");
  ASSERT_TRUE(handler.settled.contains(42));
  EXPECT_FALSE(handler.settled[42]);  // accepted
  EXPECT_EQ(server->send({"dev1", "mod1"}, Node::c2d, {}, 0).error(), Errc::no_link);
}

TEST_F(AmqpConnection, TwinRequestAndReplyOnThePairedLink) {
  Client c;
  cbs(c, "myhub.azure-devices.net%2Fdevices%2Fdev1", kToken);
  auto* req = c.sender("twin-out", "/devices/dev1/twin", "twin:abc");
  auto* resp = c.receiver("twin-in", "/devices/dev1/twin", "twin:abc");
  pump(c, *server);
  c.send(req, testing::encode([](pn_message_t* m) {
           pn_data_put_string(pn_message_correlation_id(m), b("c-1"));
           testing::put_string_map(pn_message_annotations(m), {{"operation", "GET"}}, true);
           testing::set_data_body(m, " ");
         }),
         true);
  pump(c, *server);
  ASSERT_EQ(handler.twin.size(), 1u);
  EXPECT_EQ(handler.twin[0].operation, "GET");
  EXPECT_EQ(handler.twin[0].correlation_id->text, "c-1");
  core::Message reply;
  reply.set_body("{}");
  OutboundExtras extras;
  extras.correlation_id = handler.twin[0].correlation_id;
  extras.annotations.emplace_back("status", std::int32_t{200});
  ASSERT_TRUE(server->send_twin_reply(handler.twin[0], *encode_message(reply, extras)));
  pump(c, *server);
  ASSERT_FALSE(c.received.empty());
  EXPECT_EQ(c.received_on.back(), resp);
  auto d = decode_message(c.received.back());
  EXPECT_EQ(d->correlation_id->text, "c-1");
  EXPECT_EQ(*d->annotation("status"), "200");
}

TEST_F(AmqpConnection, MethodResponseNeedsCorrelationIdAndStatus) {
  Client c;
  cbs(c, "myhub.azure-devices.net%2Fdevices%2Fdev1", kToken);
  auto* out = c.sender("m-out", "/devices/dev1/methods/devicebound", "methods:1");
  c.receiver("m-in", "/devices/dev1/methods/devicebound", "methods:1");
  pump(c, *server);
  auto* good = c.send(out, testing::encode([](pn_message_t* m) {
                        pn_data_put_string(pn_message_correlation_id(m), b("rid-1"));
                        auto* p = pn_message_properties(m);
                        pn_data_put_map(p);
                        pn_data_enter(p);
                        pn_data_put_string(p, b("IoThub-status"));
                        pn_data_put_int(p, 201);
                        pn_data_exit(p);
                        testing::set_data_body(m, "{\"ok\":true}");
                      }));
  auto* bad =
      c.send(out, testing::encode([](pn_message_t* m) { testing::set_data_body(m, "{}"); }));
  pump(c, *server);
  ASSERT_EQ(handler.method_responses.size(), 1u);
  EXPECT_EQ(std::get<1>(handler.method_responses[0]), "rid-1");
  EXPECT_EQ(std::get<2>(handler.method_responses[0]), 201);
  EXPECT_EQ(pn_delivery_remote_state(good), static_cast<std::uint64_t>(PN_ACCEPTED));
  EXPECT_EQ(pn_delivery_remote_state(bad), static_cast<std::uint64_t>(PN_REJECTED));
}

TEST_F(AmqpConnection, GarbageClosesTheConnectionWithAnError) {
  const std::string junk = "GET / HTTP/1.1\r\n\r\n";
  server->on_input(std::span(reinterpret_cast<const std::byte*>(junk.data()), junk.size()));
  EXPECT_FALSE(server->output().empty() && !server->output_closed());
  EXPECT_FALSE(server->error_text().empty());
  EXPECT_TRUE(handler.was_counted("framing_error")) << ::testing::PrintToString(handler.counted);
}

TEST_F(AmqpConnection, AnAmqpFrameWhereSaslIsNegotiatedEndsTheConnection) {
  // SASL header, then an OPEN frame (type 0) instead of sasl-init.
  const std::string bytes("AMQP\x03\x01\x00\x00\x00\x00\x00\x0c\x02\x00\x00\x00\x00\x53\x10\x45",
                          20);
  server->on_input(std::span(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
  std::string out;
  for (auto o = server->output(); !o.empty(); o = server->output()) {
    out.append(reinterpret_cast<const char*>(o.data()), o.size());
    server->output_done(o.size());
  }
  EXPECT_NE(out.find("ANONYMOUS"), std::string::npos);  // the mechanisms still go out
  EXPECT_TRUE(server->output_closed());
  EXPECT_TRUE(handler.was_counted("sasl_error"));
}

TEST_F(AmqpConnection, ASocketClosedWithoutCloseIsAnAbortNotAProtocolError) {
  Client c;
  pump(c, *server);
  EXPECT_TRUE(server->opened());
  server->on_input_closed();
  EXPECT_TRUE(handler.was_counted("aborted")) << ::testing::PrintToString(handler.counted);
  EXPECT_FALSE(handler.was_counted("framing_error"));
}

TEST_F(AmqpConnection, IdleTimeoutClosesASilentPeer) {
  options.idle_timeout = 2000ms;
  server = std::make_unique<ServerConnection>(options, handler);
  Client c;
  pump(c, *server);
  const auto start = core::SteadyTime(std::chrono::hours(1));
  server->tick(start);
  server->tick(start + 5s);
  EXPECT_NE(server->error_text().find("amqp:resource-limit-exceeded"), std::string::npos)
      << server->error_text();
}

// A certificate-authorised client with an open telemetry link (channel 0, handle 0).
struct AttachedSender {
  Client client;
  pn_link_t* events = nullptr;
  explicit AttachedSender(ServerConnection& server) {
    events = client.sender("events", "/devices/cam1/messages/events");
    pump(client, server);
  }
};

std::string drain_output(ServerConnection& s) {
  std::string out;
  for (auto o = s.output(); !o.empty(); o = s.output()) {
    out.append(reinterpret_cast<const char*>(o.data()), o.size());
    s.output_done(o.size());
  }
  return out;
}

// One AMQP frame on channel 0: a transfer performative with the given list fields, then `payload`.
std::string transfer_frame(const std::string& fields, std::uint8_t count,
                           const std::string& payload) {
  std::string body = std::string("\x00\x53\x14\xc0", 4);
  body += static_cast<char>(fields.size() + 1);
  body += static_cast<char>(count);
  body += fields + payload;
  const auto size = static_cast<std::uint32_t>(8 + body.size());
  std::string frame;
  for (int shift : {24, 16, 8, 0})
    frame += static_cast<char>((size >> shift) & 0xff);
  frame += std::string("\x02\x00\x00\x00", 4);
  return frame + body;
}

class AmqpInboundGuard : public AmqpConnection {
 protected:
  void SetUp() override {
    AmqpConnection::SetUp();
    options.client_certificate = true;
    handler.certificate_ok = true;
    server = std::make_unique<ServerConnection>(options, handler);
  }
  void inject(const std::string& bytes) {
    server->on_input(std::span(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
  }
};

// Proton 0.37 (Debian, assertions on) aborts the process on this frame (fuzz_amqp_connection
// found it): the first transfer of a multi-frame delivery without a delivery-id.
TEST_F(AmqpInboundGuard, AMultiFrameDeliveryWithoutADeliveryIdEndsOnlyThatConnection) {
  AttachedSender s(*server);
  ASSERT_TRUE(pn_link_state(s.events) & PN_REMOTE_ACTIVE);
  // handle 0, delivery-id null, tag "t", format 0, settled false, more true
  inject(transfer_frame(std::string("\x43\x40\xa0\x01t\x43\x42\x41", 8), 6, "part"));
  const auto out = drain_output(*server);
  EXPECT_NE(server->error_text().find("amqp:invalid-field"), std::string::npos)
      << server->error_text();
  EXPECT_NE(out.find("amqp:invalid-field"), std::string::npos);  // in the CLOSE frame
  EXPECT_TRUE(server->output_closed());
  EXPECT_TRUE(handler.was_counted("invalid_field"));
  EXPECT_TRUE(handler.telemetry.empty());
}

TEST_F(AmqpInboundGuard, AContinuationWithoutADeliveryIdIsAccepted) {
  AttachedSender s(*server);
  // delivery-id 0 with more, then the last frame without a delivery-id (AMQP 1.0 2.7.5).
  const auto encoded =
      testing::encode([](pn_message_t* m) { testing::set_data_body(m, "two frames"); });
  const std::string message(reinterpret_cast<const char*>(encoded.data()), encoded.size());
  inject(transfer_frame(std::string("\x43\x43\xa0\x01t\x43\x42\x41", 8), 6, message.substr(0, 5)));
  inject(transfer_frame(std::string("\x43\x40\x40\x40\x40\x42", 6), 6, message.substr(5)));
  pump(s.client, *server);
  EXPECT_EQ(server->error_text(), "");
  ASSERT_EQ(handler.telemetry.size(), 1u);
  EXPECT_EQ(handler.telemetry[0].second.body_text(), "two frames");
}

TEST_F(AmqpInboundGuard, ATransferFieldOfTheWrongTypeIsADecodeError) {
  AttachedSender s(*server);
  // `more` as a string
  inject(transfer_frame(std::string("\x43\x43\xa0\x01t\x43\x42\xa1\x01y", 10), 6, "x"));
  drain_output(*server);
  EXPECT_NE(server->error_text().find("amqp:decode-error"), std::string::npos)
      << server->error_text();
  EXPECT_TRUE(handler.was_counted("decode_error"));
}

// A refused frame closes the read side, which Proton reports as "connection aborted": that is
// the same refusal, counted once, and the CLOSE still names it.
TEST_F(AmqpInboundGuard, ARefusedFrameIsCountedOnce) {
  AttachedSender s(*server);
  handler.counted.clear();
  inject(transfer_frame(std::string("\x43\x43\xa0\x01t\x43\x42\xa1\x01y", 10), 6, "x"));
  drain_output(*server);
  server->on_input_closed();
  EXPECT_EQ(handler.counted, std::vector<std::string>{"decode_error"});
}

// Proton 0.37 ignores these silently and the peer would wait for an answer until a timeout.
TEST_F(AmqpInboundGuard, APerformativeBeforeOpenOrASecondOpenIsAnIllegalState) {
  const std::string header("AMQP\x00\x01\x00\x00", 8);
  // BEGIN (remote-channel null, next-outgoing-id 0, windows 1) and OPEN ("c") frames.
  const std::string begin(
      "\x00\x00\x00\x14\x02\x00\x00\x00\x00\x53\x11\xc0\x07\x04\x40\x43\x52\x01\x52\x01", 20);
  const std::string open("\x00\x00\x00\x11\x02\x00\x00\x00\x00\x53\x10\xc0\x04\x01\xa1\x01\x63",
                         17);
  for (const auto& [what, bytes] :
       {std::pair{"BEGIN before OPEN", header + begin}, {"OPEN twice", header + open + open}}) {
    SCOPED_TRACE(what);
    SetUp();
    handler.counted.clear();
    inject(bytes);
    const auto out = drain_output(*server);
    EXPECT_NE(out.find("amqp:illegal-state"), std::string::npos);  // in the CLOSE frame
    EXPECT_TRUE(server->output_closed());
    EXPECT_EQ(handler.counted, std::vector<std::string>{"illegal_state"});
  }
}

TEST_F(AmqpInboundGuard, AFrameOverMaxFrameSizeIsFrameTooLarge) {
  const std::string bytes("AMQP\x00\x01\x00\x00\x00\x01\x11\x70\x02\x00\x00\x00", 16);
  inject(bytes);
  const auto out = drain_output(*server);
  EXPECT_NE(out.find("amqp:connection:framing-error"), std::string::npos);
  EXPECT_EQ(handler.counted, std::vector<std::string>{"frame_too_large"});
}

// Proton's description of a channel above channel-max mentions "channel_max": a framing error,
// not an oversized frame.
TEST_F(AmqpInboundGuard, ABeginAboveChannelMaxIsAFramingError) {
  const std::string header("AMQP\x00\x01\x00\x00", 8);
  const std::string open("\x00\x00\x00\x11\x02\x00\x00\x00\x00\x53\x10\xc0\x04\x01\xa1\x01\x63",
                         17);
  const std::string begin_on_200(
      "\x00\x00\x00\x14\x02\x00\x00\xc8\x00\x53\x11\xc0\x07\x04\x40\x43\x52\x01\x52\x01", 20);
  inject(header + open + begin_on_200);
  const auto out = drain_output(*server);
  EXPECT_NE(out.find("amqp:connection:framing-error"), std::string::npos);
  EXPECT_EQ(handler.counted, std::vector<std::string>{"framing_error"});
}

// Proton closes its output without a word on a TLS protocol header inside TLS.
TEST_F(AmqpInboundGuard, ATlsProtocolHeaderIsAFramingError) {
  inject(std::string("AMQP\x02\x01\x00\x00", 8));
  drain_output(*server);
  EXPECT_TRUE(server->output_closed());
  EXPECT_NE(server->error_text().find("amqp:connection:framing-error"), std::string::npos);
  EXPECT_EQ(handler.counted, std::vector<std::string>{"framing_error"});
}

TEST_F(AmqpInboundGuard, AMessageLargerThanAFrameArrivesWhateverTheReadSize) {
  for (std::size_t chunk : {std::size_t{0}, std::size_t{7}, std::size_t{4096}}) {
    SetUp();
    AttachedSender s(*server);
    const std::string text(200 * 1024, 'z');  // over three 64 KiB frames
    s.client.send(s.events,
                  testing::encode([&](pn_message_t* m) { testing::set_data_body(m, text); }));
    pump(s.client, *server, chunk);
    EXPECT_EQ(server->error_text(), "") << "chunk " << chunk;
    ASSERT_EQ(handler.telemetry.size(), 1u) << "chunk " << chunk;
    EXPECT_EQ(handler.telemetry[0].second.body_text().size(), text.size());
    handler.telemetry.clear();
  }
}

}  // namespace
}  // namespace edgehub::amqp_core
