#include "edgehub/amqp_core/connection.hpp"

#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/connection_driver.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/sasl.h>
#include <proton/sasl_plugin.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <map>
#include <set>
#include <vector>

#include "amqp_core/driver_io.hpp"
#include "amqp_core/inbound_frame_guard.hpp"
#include "amqp_core/pn_util.hpp"
#include "edgehub/amqp_core/cbs.hpp"
#include "edgehub/amqp_core/errors.hpp"
#include "edgehub/amqp_core/sasl.hpp"

namespace edgehub::amqp_core {

using detail::condition_text;
using detail::set_condition;
using detail::view;

namespace {

constexpr std::uint32_t kMaxFrameBytes = 64 * 1024;  // edgeHub's SASL max frame
constexpr std::uint16_t kMaxChannels = 31;
// A message's encoding adds headers, properties and annotations to what IoT Hub's size rule
// counts; the exact limit is applied by the hub's ingress.
constexpr std::size_t kEnvelopeSlack = 64 * 1024;

std::string_view link_property(pn_link_t* link, std::string_view key) {
  pn_data_t* props = pn_link_remote_properties(link);
  if (!props) return {};
  pn_data_rewind(props);
  if (!pn_data_next(props) || pn_data_type(props) != PN_MAP) return {};
  const auto count = pn_data_get_map(props);
  pn_data_enter(props);
  std::string_view found;
  for (std::size_t i = 0; i + 1 < count; i += 2) {
    if (!pn_data_next(props)) break;
    const bool match =
        (pn_data_type(props) == PN_SYMBOL && view(pn_data_get_symbol(props)) == key) ||
        (pn_data_type(props) == PN_STRING && view(pn_data_get_string(props)) == key);
    if (!pn_data_next(props)) break;
    if (match && pn_data_type(props) == PN_STRING) found = view(pn_data_get_string(props));
  }
  pn_data_exit(props);
  return found;
}

// The metric reason for a connection Proton closed (malformed input, idle timeout, ...).
// `oversized`: the frame that broke the framing announced more than our max-frame-size, which
// Proton reports as any other "malformed frame".
std::string_view transport_error_reason(pn_condition_t* c, bool oversized) {
  const char* raw = pn_condition_get_name(c);
  const std::string_view name = raw ? raw : "";
  const char* raw_description = pn_condition_get_description(c);
  const std::string_view description = raw_description ? raw_description : "";
  // Proton's name for a peer that closed the socket without CLOSE: an ordinary disconnect, kept
  // apart from malformed input.
  if (description.find("connection aborted") != std::string_view::npos) return "aborted";
  if (name == "amqp:connection:framing-error")
    return oversized ? "frame_too_large" : "framing_error";
  if (name == "amqp:decode-error") return "decode_error";
  if (name == "amqp:resource-limit-exceeded") return "idle_timeout";
  if (name == "amqp:unauthorized-access") return "sasl_error";
  if (description.find("SASL") != std::string_view::npos ||
      description.find("sasl") != std::string_view::npos) {
    return "sasl_error";
  }
  return "transport_error";
}

// The node kinds whose gateway-to-client links the handler treats as subscriptions.
bool is_subscription(Node node) {
  return node == Node::events || node == Node::inputs || node == Node::c2d ||
         node == Node::methods || node == Node::twin;
}
Node subscription_kind(Node node) {
  return node == Node::inputs ? Node::events : node;
}

}  // namespace

struct ServerConnection::Impl {
  struct Outgoing {
    std::vector<std::byte> bytes;
    std::uint64_t token = 0;
  };
  struct Link {
    std::uint64_t serial = 0;
    pn_link_t* link = nullptr;
    LinkAddress address;
    bool gateway_sends = false;
    std::string pair;             ///< com.microsoft:channel-correlation-id
    std::uint32_t in_flight = 0;  ///< receiver: received, not yet settled or answered
    std::uint32_t share = 0;      ///< telemetry receiver: in_flight + credit, of the budget
    std::deque<Outgoing> queue;   ///< sender: waiting for credit
    std::set<std::uint64_t> unsettled_tokens;  ///< sender: sent, awaiting the disposition
  };
  struct Received {
    pn_delivery_t* delivery = nullptr;
    std::uint64_t link = 0;
  };

  Impl(ConnectionOptions o, ConnectionHandler& h) : options(std::move(o)), handler(h) {
    pn_connection_driver_init(&driver, nullptr, nullptr);
    pn_transport_t* t = driver.transport;
    pn_transport_set_server(t);
    pn_transport_set_max_frame(t, kMaxFrameBytes);
    pn_transport_set_channel_max(t, kMaxChannels);
    pn_transport_set_idle_timeout(t, static_cast<pn_millis_t>(options.idle_timeout.count()));
    // Our own SASL server for this connection only (amqp-proton-notes.md): the default one has
    // no PLAIN, and the global default would also change the upstream client's SASL.
    pn_sasl(t);
    pnx_sasl_set_implementation(t, &kSasl, this);
    pn_connection_set_container(driver.connection, options.container_id.c_str());
    pn_connection_driver_bind(&driver);
  }
  ~Impl() { pn_connection_driver_destroy(&driver); }

  // --- SASL plugin -----------------------------------------------------------------------------
  static Impl* of(pn_transport_t* t) { return static_cast<Impl*>(pnx_sasl_get_context(t)); }
  static void sasl_free(pn_transport_t*) {}
  static const char* sasl_mechanisms(pn_transport_t* t) {
    return of(t)->options.client_certificate ? kMechanismsWithCertificate.data()
                                             : kMechanismsWithoutCertificate.data();
  }
  static bool sasl_init_server(pn_transport_t* t) {
    pnx_sasl_set_desired_state(t, SASL_POSTED_MECHANISMS);
    return true;
  }
  static bool sasl_init_client(pn_transport_t*) { return false; }
  static void sasl_prepare_write(pn_transport_t*) {}
  static void sasl_process_init(pn_transport_t* t, const char* mechanism, const pn_bytes_t* recv) {
    auto* self = of(t);
    self->sasl_done = true;
    const bool ok = self->sasl_decide(mechanism ? mechanism : "", recv ? view(*recv) : "");
    if (ok) {
      // Proton keeps the pointer, not a copy: sasl_user lives as long as the connection.
      pnx_sasl_set_succeeded(t, self->sasl_user.c_str(), nullptr);
    } else {
      pnx_sasl_set_failed(t);
    }
    pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
  }
  static void sasl_process_response(pn_transport_t* t, const pn_bytes_t*) {
    // No mechanism of ours sends a challenge, so a response is a protocol error.
    pnx_sasl_set_failed(t);
    pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
  }
  static bool sasl_process_mechanisms(pn_transport_t*, const char*) { return false; }
  static void sasl_process_challenge(pn_transport_t*, const pn_bytes_t*) {}
  static void sasl_process_outcome(pn_transport_t*, const pn_bytes_t*) {}
  static bool sasl_can_encrypt(pn_transport_t*) { return false; }
  static ssize_t sasl_max_encrypt_size(pn_transport_t*) { return 0; }
  static ssize_t sasl_encode(pn_transport_t*, pn_bytes_t, pn_bytes_t*) { return 0; }
  static ssize_t sasl_decode(pn_transport_t*, pn_bytes_t, pn_bytes_t*) { return 0; }
  static constexpr pnx_sasl_implementation kSasl{sasl_free,
                                                 sasl_mechanisms,
                                                 sasl_init_server,
                                                 sasl_init_client,
                                                 sasl_prepare_write,
                                                 sasl_process_init,
                                                 sasl_process_response,
                                                 sasl_process_mechanisms,
                                                 sasl_process_challenge,
                                                 sasl_process_outcome,
                                                 sasl_can_encrypt,
                                                 sasl_max_encrypt_size,
                                                 sasl_encode,
                                                 sasl_decode};

  bool sasl_decide(std::string_view mechanism, std::string_view response) {
    if (mechanism == "ANONYMOUS" || mechanism == "MSSBCBS") {
      // Both are followed by CBS put-tokens (iot-hub-protocol.md §3.1).
      sasl_user = "anonymous";
      return true;
    }
    if (mechanism == "PLAIN") {
      auto plain = parse_plain_response(std::span(response.data(), response.size()));
      if (!plain) {
        count_refusal("sasl_malformed");
        return false;
      }
      auto user = parse_plain_user(plain->user);
      if (!user || !user->policy.empty()) {
        count_refusal("sasl_bad_user");
        return false;
      }
      auto expires = handler.authenticate_token(user->id, plain->password);
      if (!expires) {
        count_refusal("sasl_unauthorized");
        return false;
      }
      plain_identity = user->id;
      sasl_user = user->id.to_string();
      authorise(user->id, *expires);
      return true;
    }
    if (mechanism == "EXTERNAL" && options.client_certificate) {
      // The identity is the link's (each attach checks the certificate), unless the client
      // names one as authorization identity.
      sasl_user = "x509";
      if (response.empty()) return true;
      core::ClientId claimed;
      if (!core::ClientId::parse(response, claimed)) {
        count_refusal("sasl_bad_user");
        return false;
      }
      auto expires = handler.authenticate_certificate(claimed);
      if (!expires) {
        count_refusal("sasl_unauthorized");
        return false;
      }
      authorise(claimed, *expires);
      return true;
    }
    count_refusal("sasl_mechanism");
    return false;
  }

  // --- identities ------------------------------------------------------------------------------
  void authorise(const core::ClientId& id, core::SystemTime expires_at) {
    identities[id] = expires_at;
    handler.on_authorised(id, expires_at);
  }

  bool authorised(const core::ClientId& id) {
    if (identities.contains(id)) return true;
    if (!options.client_certificate) return false;
    auto expires = handler.authenticate_certificate(id);
    if (!expires) return false;
    authorise(id, *expires);
    return true;
  }

  // --- events ----------------------------------------------------------------------------------
  // Handlers may call back into the connection (a twin reply sent from on_twin_request); the
  // outer loop then handles the events those calls raise, so a nested dispatch does nothing.
  void dispatch() {
    if (dispatching) return;
    dispatching = true;
    while (pn_event_t* e = pn_connection_driver_next_event(&driver))
      handle(e);
    dispatching = false;
  }

  void handle(pn_event_t* e) {
    switch (pn_event_type(e)) {
      case PN_CONNECTION_REMOTE_OPEN: {
        opened = true;
        pn_connection_t* c = pn_event_connection(e);
        if (pn_connection_state(c) & PN_LOCAL_UNINIT) pn_connection_open(c);
        break;
      }
      case PN_SESSION_REMOTE_OPEN: {
        pn_session_t* s = pn_event_session(e);
        if (pn_session_state(s) & PN_LOCAL_UNINIT) {
          // Bounds what Proton buffers of partly received messages on this session.
          pn_session_set_incoming_capacity(s, 2 * options.max_message_bytes + 2 * kEnvelopeSlack);
          pn_session_open(s);
        }
        break;
      }
      case PN_LINK_REMOTE_OPEN:
        on_link_open(pn_event_link(e));
        break;
      case PN_LINK_FLOW: {
        if (auto* rec = record(pn_event_link(e)); rec && rec->gateway_sends) pump(*rec);
        break;
      }
      case PN_DELIVERY:
        on_delivery(pn_event_delivery(e));
        break;
      case PN_LINK_REMOTE_CLOSE:
      case PN_LINK_REMOTE_DETACH: {
        pn_link_t* l = pn_event_link(e);
        if (auto* rec = record(l)) forget(rec->serial, Errc::no_link);
        if (!(pn_link_state(l) & PN_LOCAL_CLOSED)) pn_link_close(l);
        pn_link_free(l);
        break;
      }
      case PN_SESSION_REMOTE_CLOSE: {
        pn_session_t* s = pn_event_session(e);
        std::vector<std::uint64_t> gone;
        for (auto& [serial, rec] : links) {
          if (pn_link_session(rec.link) == s) gone.push_back(serial);
        }
        for (auto serial : gone)
          forget(serial, Errc::no_link);
        if (!(pn_session_state(s) & PN_LOCAL_CLOSED)) pn_session_close(s);
        pn_session_free(s);
        break;
      }
      case PN_CONNECTION_REMOTE_CLOSE: {
        pn_connection_t* c = pn_event_connection(e);
        if (auto text = condition_text(pn_connection_remote_condition(c)); !text.empty()) {
          error = text;
        }
        if (!(pn_connection_state(c) & PN_LOCAL_CLOSED)) pn_connection_close(c);
        break;
      }
      case PN_TRANSPORT_ERROR: {
        pn_condition_t* c = pn_transport_condition(driver.transport);
        if (error.empty()) error = condition_text(c);
        count_refusal(transport_error_reason(c, guard.saw_oversized_frame()));
        break;
      }
      default:
        break;
    }
  }

  // One count per connection-ending refusal: after our own refusal (a failed SASL outcome, a
  // frame the guard refused) Proton raises a transport error for the same event (the SASL
  // failure, the "connection aborted" of the read side we closed).
  void count_refusal(std::string_view reason) {
    if (refusal_counted) return;
    refusal_counted = true;
    handler.count(reason);
  }

  // Proton 0.37 stops reading on a frame it cannot decode (a performative or SASL frame of
  // invalid AMQP types) without an error or a CLOSE, so the peer would wait for nothing. In the
  // AMQP phase the connection is closed with amqp:decode-error; during SASL, which has no error
  // frame, the output is flushed (header, mechanisms) and the connection ends.
  void report_silent_input_failure() {
    if (!pn_connection_driver_read_closed(&driver) || input_failed) return;
    if (pn_condition_is_set(pn_transport_condition(driver.transport))) return;
    if (pn_connection_state(driver.connection) & PN_REMOTE_CLOSED) return;
    input_failed = true;
    count_refusal("decode_error");
    error = "amqp:decode-error: a frame could not be decoded";
    if (protocol_id == 3 && !sasl_done) return;
    // A transport condition makes Proton write CLOSE with it, as for its own framing errors.
    pn_connection_driver_errorf(&driver, "amqp:decode-error", "a frame could not be decoded");
    dispatch();
  }

  /// A frame the guard refused never reaches Proton; the connection ends as for Proton's own
  /// protocol errors (CLOSE with the condition), or, during SASL, after the output is flushed.
  void refuse_input(const detail::InboundFrameGuard::Refusal& refusal) {
    input_failed = true;
    count_refusal(refusal.reason);
    error = refusal.condition + ": " + refusal.description;
    if (protocol_id == 3 && !sasl_done) return;
    pn_connection_driver_errorf(&driver, refusal.condition.c_str(), "%s",
                                refusal.description.c_str());
    pn_connection_driver_read_close(&driver);
    dispatch();
  }

  bool output_done_after_failure() {
    return input_failed && protocol_id == 3 && !sasl_done &&
           pn_connection_driver_write_buffer(&driver).size == 0;
  }

  Link* record(pn_link_t* l) {
    const auto serial = reinterpret_cast<std::uintptr_t>(pn_link_get_context(l));
    if (serial == 0) return nullptr;
    auto it = links.find(serial);
    return it == links.end() ? nullptr : &it->second;
  }

  void on_link_open(pn_link_t* l) {
    if (!(pn_link_state(l) & PN_LOCAL_UNINIT)) return;
    const bool gateway_sends = pn_link_is_sender(l);
    pn_terminus_copy(pn_link_source(l), pn_link_remote_source(l));
    pn_terminus_copy(pn_link_target(l), pn_link_remote_target(l));
    const char* raw = pn_terminus_get_address(gateway_sends ? pn_link_remote_source(l)
                                                            : pn_link_remote_target(l));
    const std::string_view address = raw ? raw : "";
    auto refuse = [&](Errc why, std::string_view reason, std::string_view description) {
      handler.count(reason);
      // A null terminus in the attach reply is the refusal clients look for (§3.3).
      pn_terminus_set_type(gateway_sends ? pn_link_source(l) : pn_link_target(l), PN_UNSPECIFIED);
      set_condition(pn_link_condition(l), condition_name(why), description);
      pn_link_open(l);
      pn_link_close(l);
    };
    if (links.size() >= options.max_links) {
      return refuse(Errc::outbound_full, "too_many_links", "too many links on one connection");
    }
    auto parsed = parse_link_address(address);
    if (!parsed) {
      return refuse(Errc::unknown_address, "unknown_address",
                    "no node at address '" + std::string(address.substr(0, 200)) + "'");
    }
    const auto role = gateway_sends ? LinkRole::send_to_client : LinkRole::receive_from_client;
    if (!link_role_allowed(*parsed, role)) {
      return refuse(Errc::wrong_role, "wrong_role", "the address does not take this direction");
    }
    if (parsed->node != Node::cbs && !authorised(parsed->id)) {
      return refuse(Errc::unauthorized, "unauthorized_link",
                    "no valid token or certificate for " + parsed->id.to_string());
    }
    const auto serial = next_serial++;
    Link rec;
    rec.serial = serial;
    rec.link = l;
    rec.address = *parsed;
    rec.gateway_sends = gateway_sends;
    rec.pair = std::string(link_property(l, "com.microsoft:channel-correlation-id"));
    pn_link_set_context(l, reinterpret_cast<void*>(static_cast<std::uintptr_t>(serial)));
    pn_link_set_snd_settle_mode(l, pn_link_remote_snd_settle_mode(l));
    pn_link_set_rcv_settle_mode(l, pn_link_remote_rcv_settle_mode(l));
    if (!gateway_sends) pn_link_set_max_message_size(l, options.max_message_bytes);
    pn_link_open(l);
    const bool first = gateway_sends && is_subscription(parsed->node) &&
                       !has_sender(parsed->id, subscription_kind(parsed->node));
    auto& stored = links.emplace(serial, std::move(rec)).first->second;
    if (!gateway_sends) top_up(stored);
    if (first) handler.on_subscription(parsed->id, subscription_kind(parsed->node), true);
  }

  bool has_sender(const core::ClientId& id, Node kind, std::uint64_t except = 0) const {
    return std::any_of(links.begin(), links.end(), [&](const auto& entry) {
      const auto& rec = entry.second;
      return rec.serial != except && rec.gateway_sends && rec.address.id == id &&
             subscription_kind(rec.address.node) == kind;
    });
  }

  Link* find_sender(const core::ClientId& id, Node node, std::string_view pair = {}) {
    Link* any = nullptr;
    for (auto& [serial, rec] : links) {
      if (!rec.gateway_sends || rec.address.id != id) continue;
      if (subscription_kind(rec.address.node) != subscription_kind(node)) continue;
      if (pair.empty() || rec.pair == pair) return &rec;
      if (!any) any = &rec;
    }
    return any;
  }

  // Removes a link from our books: its received deliveries can no longer be settled (Proton
  // frees them with the link) and messages waiting for its client are failed.
  void forget(std::uint64_t serial, core::ErrorCode why) {
    auto it = links.find(serial);
    if (it == links.end()) return;
    Link rec = std::move(it->second);
    links.erase(it);
    outstanding -= rec.share;
    if (rec.share > 0) replenish();
    pn_link_set_context(rec.link, nullptr);
    std::erase_if(received, [serial](const auto& e) { return e.second.link == serial; });
    for (auto token : rec.unsettled_tokens)
      handler.on_outbound_settled(token, why);
    for (auto& o : rec.queue) {
      if (o.token != 0) handler.on_outbound_settled(o.token, why);
    }
    if (rec.gateway_sends && is_subscription(rec.address.node) &&
        !has_sender(rec.address.id, subscription_kind(rec.address.node))) {
      handler.on_subscription(rec.address.id, subscription_kind(rec.address.node), false);
    }
  }

  void close_link(Link& rec, core::ErrorCode why, std::string_view description) {
    pn_link_t* l = rec.link;
    set_condition(pn_link_condition(l), condition_name(why), description);
    forget(rec.serial, why);
    pn_link_close(l);
  }

  static bool uses_budget(const Link& rec) {
    return !rec.gateway_sends && rec.address.node == Node::events;
  }

  // Keeps `outstanding` = the sum of in_flight + credit over telemetry receivers.
  void account(Link& rec) {
    if (!uses_budget(rec)) return;
    const auto credit = static_cast<std::uint32_t>(std::max(0, pn_link_credit(rec.link)));
    const auto share = rec.in_flight + credit;
    outstanding = outstanding + share - rec.share;
    rec.share = share;
  }

  void top_up(Link& rec) {
    account(rec);
    const int credit = pn_link_credit(rec.link);
    int want = static_cast<int>(options.link_credit) - static_cast<int>(rec.in_flight) - credit;
    if (uses_budget(rec)) {
      // Every link keeps at least one credit, so an idle identity holding credit never starves
      // another: the connection's bound is max(connection_credit, telemetry links).
      const int left = static_cast<int>(options.connection_credit) - static_cast<int>(outstanding);
      want = std::min(want, std::max(left, rec.share == 0 ? 1 : 0));
    }
    if (want > 0) {
      pn_link_flow(rec.link, want);
      account(rec);
    }
  }

  // Shares budget freed by a settlement among the telemetry links, round-robin.
  void replenish() {
    if (links.empty()) return;
    auto it = links.upper_bound(cursor);
    for (std::size_t i = 0; i < links.size() && outstanding < options.connection_credit; ++i) {
      if (it == links.end()) it = links.begin();
      if (uses_budget(it->second)) {
        top_up(it->second);
        cursor = it->first;
      }
      ++it;
    }
  }

  void pump(Link& rec) {
    while (!rec.queue.empty() && pn_link_credit(rec.link) > 0) {
      auto out = std::move(rec.queue.front());
      rec.queue.pop_front();
      const auto tag = next_tag++;
      pn_delivery_t* d =
          pn_delivery(rec.link, pn_dtag(reinterpret_cast<const char*>(&tag), sizeof tag));
      pn_link_send(rec.link, reinterpret_cast<const char*>(out.bytes.data()), out.bytes.size());
      pn_link_advance(rec.link);
      if (out.token == 0) {
        pn_delivery_settle(d);
      } else {
        pn_delivery_set_context(d, reinterpret_cast<void*>(static_cast<std::uintptr_t>(out.token)));
        rec.unsettled_tokens.insert(out.token);
      }
    }
  }

  void on_delivery(pn_delivery_t* d) {
    pn_link_t* l = pn_delivery_link(d);
    Link* rec = record(l);
    if (rec && rec->gateway_sends) return on_disposition(*rec, d);
    if (!rec) {
      // A transfer on a link we refused or closed: drop it once complete (settling the current
      // delivery advances the link).
      if (pn_link_is_receiver(l) && !pn_delivery_partial(d)) pn_delivery_settle(d);
      return;
    }
    if (pn_delivery_aborted(d)) {
      pn_delivery_settle(d);
      return;
    }
    if (pn_delivery_partial(d)) {
      if (pn_delivery_pending(d) > options.max_message_bytes + kEnvelopeSlack) {
        handler.count("message_too_large");
        close_link(*rec, Errc::message_too_large, "message exceeds the size limit");
      }
      return;
    }
    std::vector<std::byte> bytes(pn_delivery_pending(d));
    if (!bytes.empty()) {
      const auto n = pn_link_recv(l, reinterpret_cast<char*>(bytes.data()), bytes.size());
      bytes.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    }
    pn_link_advance(l);
    if (bytes.size() > options.max_message_bytes + kEnvelopeSlack) {
      handler.count("message_too_large");
      return finish(*rec, d, Errc::message_too_large, "message exceeds the size limit");
    }
    switch (rec->address.node) {
      case Node::cbs:
        return on_put_token(*rec, d, bytes);
      case Node::events:
        return on_telemetry(*rec, d, bytes);
      case Node::twin:
        return on_twin(*rec, d, bytes);
      case Node::methods:
        return on_method_response(*rec, d, bytes);
      default:
        return finish(*rec, d, Errc::wrong_role, "");
    }
  }

  // Settles a received delivery at once and gives its credit back.
  void finish(Link& rec, pn_delivery_t* d, core::ErrorCode outcome, std::string_view description) {
    settle_delivery(d, outcome, condition_name(outcome), description);
    top_up(rec);
  }

  static void settle_delivery(pn_delivery_t* d, core::ErrorCode outcome, std::string_view condition,
                              std::string_view description) {
    if (!outcome) {
      pn_delivery_update(d, PN_ACCEPTED);
    } else {
      set_condition(pn_disposition_condition(pn_delivery_local(d)),
                    condition.empty() ? condition_name(outcome) : condition,
                    description.empty() ? outcome.message() : description);
      pn_delivery_update(d, PN_REJECTED);
    }
    pn_delivery_settle(d);
  }

  void on_put_token(Link& rec, pn_delivery_t* d, std::span<const std::byte> bytes) {
    finish(rec, d, {}, "");
    auto decoded = decode_message(bytes);
    std::optional<MessageId> request_id = decoded ? decoded->message_id : std::nullopt;
    auto reply = [&](CbsStatus status, std::string_view description) {
      auto encoded = encode_put_token_reply(request_id, status, description);
      Link* out = find_cbs_sender();
      if (!encoded || !out) return handler.count("cbs_no_reply_link");
      if (out->queue.size() >= options.max_outbound_per_link) return handler.count("outbound_full");
      out->queue.push_back({std::move(*encoded), 0});
      pump(*out);
    };
    if (!decoded) {
      handler.count("cbs_bad_request");
      return reply(CbsStatus::bad_request, decoded.error().message());
    }
    auto request = parse_put_token(*decoded);
    if (!request) {
      handler.count("cbs_bad_request");
      return reply(CbsStatus::bad_request, request.error().message());
    }
    auto id = parse_audience(request->audience);
    if (!id) {
      handler.count("cbs_bad_request");
      return reply(CbsStatus::bad_request, id.error().message());
    }
    auto expires = handler.authenticate_token(*id, request->token);
    if (!expires) {
      handler.count("cbs_unauthorized");
      return reply(CbsStatus::unauthorized, expires.error().message());
    }
    authorise(*id, *expires);
    reply(CbsStatus::ok, "OK");
  }

  Link* find_cbs_sender() {
    for (auto& [serial, rec] : links) {
      if (rec.gateway_sends && rec.address.node == Node::cbs) return &rec;
    }
    return nullptr;
  }

  void on_telemetry(Link& rec, pn_delivery_t* d, std::span<const std::byte> bytes) {
    auto decoded = decode_message(bytes);
    if (!decoded) {
      handler.count(decoded.error() == Errc::invalid_property ? "invalid_property"
                                                              : "malformed_message");
      return finish(rec, d, decoded.error(), "");
    }
    auto message = std::move(decoded->message);
    message.origin = rec.address.id;
    const auto id = next_delivery++;
    received[id] = {d, rec.serial};
    ++rec.in_flight;
    account(rec);
    handler.on_telemetry(id, std::move(message));
  }

  void on_twin(Link& rec, pn_delivery_t* d, std::span<const std::byte> bytes) {
    auto decoded = decode_message(bytes);
    if (!decoded) {
      handler.count("malformed_message");
      return finish(rec, d, decoded.error(), "");
    }
    TwinRequest request;
    request.id = rec.address.id;
    if (const auto* op = decoded->annotation("operation")) request.operation = *op;
    if (const auto* resource = decoded->annotation("resource")) request.resource = *resource;
    request.correlation_id = decoded->correlation_id;
    request.body = std::string(decoded->message.body_text());
    request.reply_link = rec.serial;
    // Twin requests come pre-settled; their credit returns with the answer.
    pn_delivery_update(d, PN_ACCEPTED);
    pn_delivery_settle(d);
    ++rec.in_flight;
    handler.on_twin_request(std::move(request));
  }

  void on_method_response(Link& rec, pn_delivery_t* d, std::span<const std::byte> bytes) {
    auto decoded = decode_message(bytes);
    if (!decoded) {
      handler.count("malformed_message");
      return finish(rec, d, decoded.error(), "");
    }
    const auto* status = decoded->message.find_app("IoThub-status");
    int code = 0;
    const bool have_status =
        status && status->value &&
        std::from_chars(status->value->data(), status->value->data() + status->value->size(), code)
                .ec == std::errc{};
    if (!decoded->correlation_id || !have_status) {
      handler.count("bad_method_response");
      return finish(rec, d, Errc::invalid_property,
                    "a method response needs correlation-id and IoThub-status");
    }
    finish(rec, d, {}, "");
    handler.on_method_response(rec.address.id, decoded->correlation_id->text, code,
                               std::string(decoded->message.body_text()));
  }

  void on_disposition(Link& rec, pn_delivery_t* d) {
    if (!pn_delivery_updated(d) && !pn_delivery_settled(d)) return;
    const auto state = pn_delivery_remote_state(d);
    if (state == 0 && !pn_delivery_settled(d)) return;
    const auto token = reinterpret_cast<std::uintptr_t>(pn_delivery_get_context(d));
    pn_delivery_settle(d);
    if (token == 0 || rec.unsettled_tokens.erase(token) == 0) return;
    handler.on_outbound_settled(token, state == PN_ACCEPTED ? core::ErrorCode{}
                                       : state == PN_REJECTED
                                           ? make_error_code(Errc::rejected)
                                           : make_error_code(Errc::not_accepted));
  }

  ConnectionOptions options;
  ConnectionHandler& handler;
  pn_connection_driver_t driver{};
  std::string sasl_user;
  std::optional<core::ClientId> plain_identity;
  std::map<core::ClientId, core::SystemTime> identities;
  std::map<std::uint64_t, Link> links;
  std::map<DeliveryId, Received> received;
  std::uint64_t next_serial = 1;
  std::uint32_t outstanding = 0;  ///< telemetry credit + in flight, all links
  std::uint64_t cursor = 0;       ///< the link replenish() served last
  std::uint64_t next_delivery = 1;
  std::uint64_t next_tag = 1;
  bool opened = false;
  bool dispatching = false;
  bool input_failed = false;
  bool refusal_counted = false;  ///< the refusal that ends this connection is counted
  bool sasl_done = false;        ///< a SASL outcome was decided
  int protocol_id = -1;          ///< byte 4 of the first protocol header: 0 AMQP, 3 SASL
  std::uint64_t bytes_in = 0;
  detail::InboundFrameGuard guard{kMaxFrameBytes};
  std::string error;
};

ServerConnection::ServerConnection(ConnectionOptions options, ConnectionHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

ServerConnection::~ServerConnection() = default;

void ServerConnection::on_input(std::span<const std::byte> bytes) {
  auto& d = impl_->driver;
  if (impl_->bytes_in <= 4 && impl_->bytes_in + bytes.size() > 4) {
    impl_->protocol_id = static_cast<int>(bytes[4 - impl_->bytes_in]);
  }
  if (impl_->protocol_id == 3 && impl_->bytes_in < 8 && impl_->bytes_in + bytes.size() > 8) {
    // Answer the SASL header (our header, sasl-mechanisms) before reading what follows it, as a
    // server reading the header alone would: a client that sends a broken first SASL frame then
    // still learns what the gateway offers.
    const auto head = static_cast<std::size_t>(8 - impl_->bytes_in);
    on_input(bytes.first(head));
    (void)pn_connection_driver_write_buffer(&d);
    bytes = bytes.subspan(head);
  }
  // The first frame after a SASL header must be a SASL frame (type byte at offset 13). Proton
  // 0.37 ignores an AMQP frame there and would leave the peer waiting for the OPEN deadline.
  const auto at = impl_->bytes_in;
  if (impl_->protocol_id == 3 && !impl_->sasl_done && !impl_->input_failed && at <= 13 &&
      at + bytes.size() > 13 && bytes[13 - at] != std::byte{1}) {
    impl_->bytes_in += bytes.size();
    impl_->input_failed = true;
    impl_->error = "amqp:connection:framing-error: a non-SASL frame during SASL negotiation";
    impl_->count_refusal("sasl_error");
    return;
  }
  impl_->bytes_in += bytes.size();
  if (impl_->input_failed) return;
  const auto verdict = impl_->guard.inspect(bytes);
  bytes = bytes.first(verdict.safe_bytes);
  detail::feed_input(d, bytes, [this] { impl_->dispatch(); });
  impl_->dispatch();
  if (verdict.refusal && !pn_connection_driver_read_closed(&d)) {
    impl_->refuse_input(*verdict.refusal);
  }
  impl_->report_silent_input_failure();
  // Proton 0.37 meets a TLS protocol header (id 2, TLS inside our TLS) by closing its output
  // without a frame or an error; it is the framing error an unknown header is, so say so.
  if (impl_->protocol_id == 2 && impl_->error.empty()) {
    impl_->error = "amqp:connection:framing-error: a TLS protocol header inside TLS";
    impl_->count_refusal("framing_error");
  }
}

void ServerConnection::on_input_closed() {
  pn_connection_driver_read_close(&impl_->driver);
  impl_->dispatch();
}

std::span<const std::byte> ServerConnection::output() {
  impl_->dispatch();
  return detail::pending_output(impl_->driver);
}

void ServerConnection::output_done(std::size_t n) {
  pn_connection_driver_write_done(&impl_->driver, n);
  impl_->dispatch();
}

void ServerConnection::on_output_closed() {
  pn_connection_driver_write_close(&impl_->driver);
  impl_->dispatch();
}

std::optional<core::SteadyTime> ServerConnection::tick(core::SteadyTime now) {
  const auto next = detail::tick_transport(impl_->driver, now);
  impl_->dispatch();
  return next;
}

std::optional<core::SystemTime> ServerConnection::expire(core::SystemTime now) {
  auto& self = *impl_;
  std::vector<core::ClientId> expired;
  std::optional<core::SystemTime> next;
  for (const auto& [id, expires_at] : self.identities) {
    if (expires_at <= now) {
      expired.push_back(id);
    } else if (!next || expires_at < *next) {
      next = expires_at;
    }
  }
  for (const auto& id : expired) {
    self.handler.count("token_expired");
    if (self.plain_identity && *self.plain_identity == id) {
      // With PLAIN one token covers the connection, which ends with it (§3.1).
      close(Errc::token_expired, "the SASL PLAIN token expired");
    }
    close_identity(id, Errc::token_expired);
  }
  self.dispatch();
  return next;
}

bool ServerConnection::finished() const {
  return pn_connection_driver_finished(&impl_->driver) || impl_->output_done_after_failure();
}

bool ServerConnection::output_closed() const {
  return pn_connection_driver_write_closed(&impl_->driver) || impl_->output_done_after_failure();
}

bool ServerConnection::opened() const {
  return impl_->opened;
}

std::string ServerConnection::error_text() const {
  return impl_->error;
}

void ServerConnection::settle(DeliveryId delivery, core::ErrorCode outcome,
                              std::string_view condition, std::string_view description) {
  auto& self = *impl_;
  auto it = self.received.find(delivery);
  if (it == self.received.end()) return;
  const auto [d, serial] = it->second;
  self.received.erase(it);
  auto link = self.links.find(serial);
  if (link == self.links.end()) return;
  Impl::settle_delivery(d, outcome, condition, description);
  if (link->second.in_flight > 0) --link->second.in_flight;
  self.account(link->second);
  // The freed credit goes to the next link round-robin, so one busy identity cannot keep the
  // connection's budget to itself.
  self.cursor = serial;
  self.replenish();
  self.dispatch();
}

core::Result<void> ServerConnection::send(const core::ClientId& id, Node node,
                                          std::vector<std::byte> encoded, std::uint64_t token) {
  auto& self = *impl_;
  auto* rec = self.find_sender(id, node);
  if (!rec) return Errc::no_link;
  if (rec->queue.size() >= self.options.max_outbound_per_link) return Errc::outbound_full;
  rec->queue.push_back({std::move(encoded), token});
  self.pump(*rec);
  self.dispatch();
  return {};
}

core::Result<void> ServerConnection::send_twin_reply(const TwinRequest& request,
                                                     std::vector<std::byte> encoded) {
  auto& self = *impl_;
  std::string pair;
  if (auto in = self.links.find(request.reply_link); in != self.links.end()) {
    pair = in->second.pair;
    if (in->second.in_flight > 0) --in->second.in_flight;
    self.top_up(in->second);
  }
  auto* rec = self.find_sender(request.id, Node::twin, pair);
  if (!rec) {
    self.dispatch();
    return Errc::no_link;
  }
  if (rec->queue.size() >= self.options.max_outbound_per_link) return Errc::outbound_full;
  rec->queue.push_back({std::move(encoded), 0});
  self.pump(*rec);
  self.dispatch();
  return {};
}

void ServerConnection::close_identity(const core::ClientId& id, core::ErrorCode reason) {
  auto& self = *impl_;
  std::vector<std::uint64_t> serials;
  for (const auto& [serial, rec] : self.links) {
    if (rec.address.id == id) serials.push_back(serial);
  }
  for (auto serial : serials) {
    if (auto it = self.links.find(serial); it != self.links.end()) {
      self.close_link(it->second, reason, reason.message());
    }
  }
  if (self.identities.erase(id) > 0) self.handler.on_deauthorised(id);
  self.dispatch();
}

void ServerConnection::close(core::ErrorCode reason, std::string_view description) {
  auto& self = *impl_;
  pn_connection_t* c = self.driver.connection;
  if (pn_connection_state(c) & PN_LOCAL_CLOSED) return;
  set_condition(pn_connection_condition(c), condition_name(reason), description);
  if (pn_connection_state(c) & PN_LOCAL_UNINIT) pn_connection_open(c);
  pn_connection_close(c);
  self.dispatch();
}

std::size_t ServerConnection::unsettled() const {
  return impl_->received.size();
}

}  // namespace edgehub::amqp_core
