#include "edgehub/amqp_core/client_connection.hpp"

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

#include <charconv>
#include <deque>
#include <map>
#include <set>
#include <tuple>

#include "amqp_core/driver_io.hpp"
#include "amqp_core/pn_util.hpp"
#include "edgehub/amqp_core/cbs.hpp"
#include "edgehub/amqp_core/errors.hpp"
#include "edgehub/core/uuid.hpp"

namespace edgehub::amqp_core {

using detail::condition_text;
using detail::view;

namespace {

constexpr std::uint32_t kMaxFrameBytes = 64 * 1024;
constexpr std::string_view kApiVersion = "2021-04-12";

// Device and module ids may hold characters a path cannot carry as they are ('%', '?', '#',
// '/', space); IoT Hub URL-decodes ids in link addresses.
std::string encode_id(std::string_view id) {
  std::string out;
  for (char c : id) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '%' || c == '?' || c == '#' || c == '/' || u <= 0x20 || u >= 0x7f) {
      constexpr std::string_view kDigits = "0123456789ABCDEF";
      out += '%';
      out += kDigits[u >> 4];
      out += kDigits[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

bool paired(Node node) {
  return node == Node::methods || node == Node::twin;
}

std::string_view node_name(Node node) {
  switch (node) {
    case Node::cbs:
      return "cbs";
    case Node::events:
      return "events";
    case Node::inputs:
      return "inputs";
    case Node::c2d:
      return "c2d";
    case Node::methods:
      return "methods";
    case Node::twin:
      return "twin";
  }
  return "link";
}

void put_symbol_string(pn_data_t* data, std::string_view key, std::string_view value) {
  pn_data_put_symbol(data, detail::bytes_of(key));
  pn_data_put_string(data, detail::bytes_of(value));
}

}  // namespace

std::string client_link_address(const core::ClientId& id, Node node) {
  std::string path = "/devices/" + encode_id(id.device);
  if (id.is_module()) path += "/modules/" + encode_id(id.module);
  switch (node) {
    case Node::events:
      return path + "/messages/events";
    case Node::c2d:
      return path + "/messages/devicebound";
    case Node::methods:
      return path + "/methods/devicebound";
    case Node::twin:
      return path + "/twin";
    case Node::inputs:
      return path + "/inputs";
    case Node::cbs:
      return "$cbs";
  }
  return path;
}

struct ClientConnection::Impl {
  // One link of ours; `sender`: the gateway sends on it.
  struct Key {
    core::ClientId id;
    Node node = Node::cbs;
    bool sender = false;
    friend auto operator<=>(const Key&, const Key&) = default;
  };
  struct Outgoing {
    std::vector<std::byte> bytes;
    std::uint64_t token = 0;
  };
  struct Link {
    pn_link_t* link = nullptr;
    std::deque<Outgoing> queue;
    std::set<std::uint64_t> unsettled;
    std::uint32_t in_flight = 0;  ///< receiver: received, not yet settled by the gateway
  };
  struct Received {
    pn_delivery_t* delivery = nullptr;
    Key key;
  };

  Impl(ClientOptions o, ClientHandler& h) : options(std::move(o)), handler(h) {
    pn_connection_driver_init(&driver, nullptr, nullptr);
    pn_transport_t* t = driver.transport;
    pn_transport_set_max_frame(t, kMaxFrameBytes);
    pn_transport_set_idle_timeout(t, static_cast<pn_millis_t>(options.idle_timeout.count()));
    // IoT Hub takes ANONYMOUS (or MSSBCBS) and then a put-token per identity (§11.3). Proton's
    // built-in client SASL offers ANONYMOUS; our server-side plugin is per connection and never
    // installed here (amqp-proton-notes.md).
    pn_sasl_allowed_mechs(pn_sasl(t), "ANONYMOUS");
    pn_connection_t* c = driver.connection;
    pn_connection_set_container(c, options.container_id.c_str());
    pn_connection_set_hostname(c, options.hostname.c_str());
    pn_connection_driver_bind(&driver);
    pn_connection_open(c);
    session = pn_session(c);
    pn_session_set_incoming_capacity(session, 4 * options.max_message_bytes);
    pn_session_open(session);
  }
  ~Impl() { pn_connection_driver_destroy(&driver); }

  void dispatch() {
    if (dispatching) return;
    dispatching = true;
    while (pn_event_t* e = pn_connection_driver_next_event(&driver))
      handle(e);
    dispatching = false;
  }

  void handle(pn_event_t* e) {
    switch (pn_event_type(e)) {
      case PN_CONNECTION_REMOTE_OPEN:
        opened = true;
        handler.on_opened();
        break;
      case PN_LINK_FLOW:
        if (auto it = by_link.find(pn_event_link(e)); it != by_link.end() && it->second.sender) {
          pump(it->second);
        }
        break;
      case PN_DELIVERY:
        on_delivery(pn_event_delivery(e));
        break;
      case PN_LINK_REMOTE_CLOSE:
      case PN_LINK_REMOTE_DETACH: {
        pn_link_t* l = pn_event_link(e);
        if (auto it = by_link.find(l); it != by_link.end()) {
          const Key key = it->second;
          forget(key);
          handler.on_link_closed(key.id, key.node, condition_text(pn_link_remote_condition(l)));
        }
        if (!(pn_link_state(l) & PN_LOCAL_CLOSED)) pn_link_close(l);
        pn_link_free(l);
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
      case PN_TRANSPORT_ERROR:
        if (error.empty()) error = condition_text(pn_transport_condition(driver.transport));
        break;
      default:
        break;
    }
  }

  // --- links ----------------------------------------------------------------------------------
  Link& attach(const Key& key) {
    if (auto it = links.find(key); it != links.end()) return it->second;
    const std::string address = client_link_address(key.id, key.node);
    const std::string name = std::string(node_name(key.node)) + (key.sender ? "-snd-" : "-rcv-") +
                             std::to_string(++serial) + "-" + key.id.to_string();
    pn_link_t* l =
        key.sender ? pn_sender(session, name.c_str()) : pn_receiver(session, name.c_str());
    pn_terminus_set_address(pn_link_target(l), key.sender ? address.c_str() : name.c_str());
    pn_terminus_set_address(pn_link_source(l), key.sender ? name.c_str() : address.c_str());
    if (key.node != Node::cbs) {
      pn_data_t* props = pn_link_properties(l);
      pn_data_put_map(props);
      pn_data_enter(props);
      if (!options.client_version.empty()) {
        put_symbol_string(props, "com.microsoft:client-version", options.client_version);
      }
      if (paired(key.node)) {
        put_symbol_string(props, "com.microsoft:api-version", kApiVersion);
        put_symbol_string(props, "com.microsoft:channel-correlation-id", pair_id(key));
      }
      pn_data_exit(props);
    }
    if (key.node == Node::twin && key.sender) pn_link_set_snd_settle_mode(l, PN_SND_SETTLED);
    if (!key.sender) pn_link_set_max_message_size(l, options.max_message_bytes);
    pn_link_open(l);
    if (!key.sender) pn_link_flow(l, static_cast<int>(options.receive_credit));
    by_link.emplace(l, key);
    auto& rec = links[key];
    rec.link = l;
    return rec;
  }

  // The two links of a method or twin channel share one correlation id (iot-hub-protocol.md §3.3).
  std::string pair_id(const Key& key) {
    auto [it, added] = pairs.try_emplace({key.id, key.node});
    if (added) it->second = std::string(node_name(key.node)) + ":" + core::random_uuid();
    return it->second;
  }

  void detach(const Key& key) {
    auto it = links.find(key);
    if (it == links.end()) return;
    pn_link_t* l = it->second.link;
    forget(key);
    pn_link_close(l);
  }

  // Drops our record of a link: what waited or was unsettled on it is reported as not accepted,
  // what we received and did not settle yet is released.
  void forget(const Key& key) {
    auto it = links.find(key);
    if (it == links.end()) return;
    Link rec = std::move(it->second);
    links.erase(it);
    by_link.erase(rec.link);
    if (paired(key.node) && !links.contains({key.id, key.node, !key.sender})) {
      pairs.erase({key.id, key.node});
    }
    for (auto r = received.begin(); r != received.end();) {
      if (r->second.key == key) {
        pn_delivery_update(r->second.delivery, PN_RELEASED);
        pn_delivery_settle(r->second.delivery);
        r = received.erase(r);
      } else {
        ++r;
      }
    }
    const auto lost = make_error_code(Errc::not_accepted);
    for (auto token : rec.unsettled)
      handler.on_sent(token, lost, "");
    for (auto& o : rec.queue) {
      if (o.token != 0) handler.on_sent(o.token, lost, "");
    }
  }

  void pump(const Key& key) {
    auto it = links.find(key);
    if (it == links.end()) return;
    auto& rec = it->second;
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
        rec.unsettled.insert(out.token);
      }
    }
  }

  core::Result<void> enqueue(const Key& key, std::vector<std::byte> bytes, std::uint64_t token) {
    auto& rec = attach(key);
    if (rec.queue.size() >= options.max_outbound_per_link) return Errc::outbound_full;
    rec.queue.push_back({std::move(bytes), token});
    pump(key);
    return {};
  }

  // --- deliveries -----------------------------------------------------------------------------
  void on_delivery(pn_delivery_t* d) {
    pn_link_t* l = pn_delivery_link(d);
    auto it = by_link.find(l);
    if (it == by_link.end()) {
      if (pn_link_is_receiver(l) && !pn_delivery_partial(d)) pn_delivery_settle(d);
      return;
    }
    const Key key = it->second;
    if (key.sender) return on_disposition(key, d);
    if (pn_delivery_aborted(d)) {
      pn_delivery_settle(d);
      return;
    }
    if (pn_delivery_partial(d)) return;
    std::vector<std::byte> bytes(pn_delivery_pending(d));
    if (!bytes.empty()) {
      const auto n = pn_link_recv(l, reinterpret_cast<char*>(bytes.data()), bytes.size());
      bytes.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    }
    pn_link_advance(l);
    auto decoded = decode_message(bytes);
    if (key.node == Node::cbs) {
      pn_delivery_update(d, PN_ACCEPTED);
      pn_delivery_settle(d);
      pn_link_flow(l, 1);
      if (decoded) on_token_reply(*decoded);
      return;
    }
    if (!decoded) {
      pn_condition_t* c = pn_disposition_condition(pn_delivery_local(d));
      detail::set_condition(c, condition_name(decoded.error()), decoded.error().message());
      pn_delivery_update(d, PN_REJECTED);
      pn_delivery_settle(d);
      pn_link_flow(l, 1);
      return;
    }
    const auto id = next_delivery++;
    received[id] = {d, key};
    ++links[key].in_flight;
    handler.on_received(key.id, key.node, id, std::move(*decoded));
  }

  void on_token_reply(const DecodedMessage& reply) {
    std::uint64_t request = 0;
    if (!reply.correlation_id) return;
    const auto& text = reply.correlation_id->text;
    if (!text.starts_with("cbs-") ||
        std::from_chars(text.data() + 4, text.data() + text.size(), request).ec != std::errc{}) {
      return;
    }
    int status = 0;
    if (const auto* code = reply.message.find_app("status-code"); code && code->value) {
      std::from_chars(code->value->data(), code->value->data() + code->value->size(), status);
    }
    std::string description;
    if (const auto* d = reply.message.find_app("status-description"); d && d->value) {
      description = *d->value;
    }
    handler.on_token_reply(request, status, std::move(description));
  }

  void on_disposition(const Key& key, pn_delivery_t* d) {
    if (!pn_delivery_updated(d) && !pn_delivery_settled(d)) return;
    const auto state = pn_delivery_remote_state(d);
    if (state == 0 && !pn_delivery_settled(d)) return;
    const auto token = reinterpret_cast<std::uintptr_t>(pn_delivery_get_context(d));
    std::string condition;
    if (state == PN_REJECTED) {
      if (pn_condition_t* c = pn_disposition_condition(pn_delivery_remote(d)); c) {
        if (const char* name = pn_condition_get_name(c)) condition = name;
      }
    }
    pn_delivery_settle(d);
    auto it = links.find(key);
    if (token == 0 || it == links.end() || it->second.unsettled.erase(token) == 0) return;
    if (state == PN_ACCEPTED) {
      handler.on_sent(token, {}, "");
    } else {
      handler.on_sent(token, make_error_code(Errc::not_accepted), std::move(condition));
    }
  }

  ClientOptions options;
  ClientHandler& handler;
  pn_connection_driver_t driver{};
  pn_session_t* session = nullptr;
  bool dispatching = false;
  bool opened = false;
  std::string error;
  std::uint64_t serial = 0;
  std::uint64_t next_tag = 1;
  std::uint64_t next_request = 1;
  ClientDeliveryId next_delivery = 1;
  std::map<Key, Link> links;
  std::map<pn_link_t*, Key> by_link;
  std::map<std::pair<core::ClientId, Node>, std::string> pairs;
  std::map<ClientDeliveryId, Received> received;
};

ClientConnection::ClientConnection(ClientOptions options, ClientHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

ClientConnection::~ClientConnection() = default;

void ClientConnection::on_input(std::span<const std::byte> bytes) {
  detail::feed_input(impl_->driver, bytes, [this] { impl_->dispatch(); });
  impl_->dispatch();
}

void ClientConnection::on_input_closed() {
  pn_connection_driver_read_close(&impl_->driver);
  impl_->dispatch();
}

std::span<const std::byte> ClientConnection::output() {
  impl_->dispatch();
  return detail::pending_output(impl_->driver);
}

void ClientConnection::output_done(std::size_t n) {
  pn_connection_driver_write_done(&impl_->driver, n);
  impl_->dispatch();
}

void ClientConnection::on_output_closed() {
  pn_connection_driver_write_close(&impl_->driver);
  impl_->dispatch();
}

std::optional<core::SteadyTime> ClientConnection::tick(core::SteadyTime now) {
  const auto next = detail::tick_transport(impl_->driver, now);
  impl_->dispatch();
  return next;
}

bool ClientConnection::opened() const {
  return impl_->opened;
}

bool ClientConnection::finished() const {
  return pn_connection_driver_finished(&impl_->driver);
}

std::string ClientConnection::error_text() const {
  return impl_->error;
}

std::uint64_t ClientConnection::put_token(std::string_view audience, std::string_view token,
                                          std::string_view auth_chain) {
  auto& self = *impl_;
  const auto request = self.next_request++;
  self.attach({{}, Node::cbs, false});
  detail::MessagePtr m(pn_message());
  const std::string id = "cbs-" + std::to_string(request);
  pn_data_put_string(pn_message_id(m.get()), detail::bytes_of(id));
  pn_message_set_address(m.get(), "$cbs");
  pn_message_set_reply_to(m.get(), "cbs");
  pn_data_t* props = pn_message_properties(m.get());
  pn_data_put_map(props);
  pn_data_enter(props);
  for (auto [key, value] : {std::pair{std::string_view("operation"), std::string_view("put-token")},
                            std::pair{std::string_view("type"), kIotHubTokenType},
                            std::pair{std::string_view("name"), audience}}) {
    pn_data_put_string(props, detail::bytes_of(key));
    pn_data_put_string(props, detail::bytes_of(value));
  }
  if (!auth_chain.empty()) {
    pn_data_put_string(props, detail::bytes_of("auth-chain"));
    pn_data_put_string(props, detail::bytes_of(auth_chain));
  }
  pn_data_exit(props);
  pn_data_put_string(pn_message_body(m.get()), detail::bytes_of(token));
  std::vector<std::byte> bytes(512 + token.size() + audience.size() + auth_chain.size());
  for (;;) {
    size_t size = bytes.size();
    const int rc = pn_message_encode(m.get(), reinterpret_cast<char*>(bytes.data()), &size);
    if (rc == 0) {
      bytes.resize(size);
      break;
    }
    bytes.resize(bytes.size() * 2);
  }
  // The reply arrives on the receiver; the request goes pre-settled, as the SDKs send it.
  (void)self.enqueue({{}, Node::cbs, true}, std::move(bytes), 0);
  self.dispatch();
  return request;
}

core::Result<void> ClientConnection::send(const core::ClientId& id, Node node,
                                          std::vector<std::byte> encoded, std::uint64_t token) {
  if (node != Node::events && node != Node::methods && node != Node::twin) {
    return Errc::unknown_address;
  }
  auto& self = *impl_;
  // A method response or twin request needs its partner link: the answer comes on it.
  if (paired(node)) self.attach({id, node, false});
  auto r = self.enqueue({id, node, true}, std::move(encoded), token);
  self.dispatch();
  return r;
}

void ClientConnection::receive(const core::ClientId& id, Node node) {
  auto& self = *impl_;
  self.attach({id, node, false});
  if (paired(node)) self.attach({id, node, true});
  self.dispatch();
}

void ClientConnection::stop_receiving(const core::ClientId& id, Node node) {
  auto& self = *impl_;
  self.detach({id, node, false});
  if (paired(node)) self.detach({id, node, true});
  self.dispatch();
}

void ClientConnection::close_identity(const core::ClientId& id) {
  auto& self = *impl_;
  std::vector<Impl::Key> keys;
  for (const auto& [key, rec] : self.links) {
    if (key.id == id) keys.push_back(key);
  }
  for (const auto& key : keys)
    self.detach(key);
  self.dispatch();
}

void ClientConnection::settle(ClientDeliveryId delivery, Disposition disposition) {
  auto& self = *impl_;
  auto it = self.received.find(delivery);
  if (it == self.received.end()) return;
  auto [d, key] = it->second;
  self.received.erase(it);
  switch (disposition) {
    case Disposition::accepted:
      pn_delivery_update(d, PN_ACCEPTED);
      break;
    case Disposition::rejected:
      pn_delivery_update(d, PN_REJECTED);
      break;
    case Disposition::released:
      pn_delivery_update(d, PN_RELEASED);
      break;
  }
  pn_delivery_settle(d);
  if (auto l = self.links.find(key); l != self.links.end()) {
    if (l->second.in_flight > 0) --l->second.in_flight;
    pn_link_flow(l->second.link, 1);
  }
  self.dispatch();
}

void ClientConnection::close() {
  pn_connection_close(impl_->driver.connection);
  impl_->dispatch();
}

std::size_t ClientConnection::link_count() const {
  return impl_->links.size();
}

std::size_t ClientConnection::unsettled() const {
  std::size_t n = 0;
  for (const auto& [key, rec] : impl_->links)
    n += rec.unsettled.size() + rec.queue.size();
  return n;
}

}  // namespace edgehub::amqp_core
