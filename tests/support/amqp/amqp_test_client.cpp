#include "support/amqp/amqp_test_client.hpp"

#include <chrono>
#include <cstring>
#include <deque>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/delivery.hpp>
#include <proton/error_condition.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/receiver_options.hpp>
#include <proton/sender.hpp>
#include <proton/sender_options.hpp>
#include <proton/source.hpp>
#include <proton/source_options.hpp>
#include <proton/target.hpp>
#include <proton/target_options.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>
#include <proton/types.hpp>

namespace edgehub::testing {

namespace {

std::string text_of(const proton::message_id& id) {
  if (id.type() == proton::STRING) return proton::get<std::string>(id);
  return proton::to_string(id);
}

std::string link_name(int id) {
  return "test-link-" + std::to_string(id);
}

int link_id(const std::string& name) {
  return name.rfind("test-link-", 0) == 0 ? std::stoi(name.substr(10)) : -1;
}

int delivery_id(const proton::binary& tag) {
  return std::stoi(std::string(tag.begin(), tag.end()));
}

// A copy that shares nothing with Proton's objects: a condition taken as is keeps its
// properties' data, and the driver then asserts when it frees the transport.
proton::error_condition detached(const proton::error_condition& e) {
  return e.empty() ? proton::error_condition() : proton::error_condition(e.name(), e.description());
}

std::string with_description(const proton::error_condition& e) {
  return e.empty() ? std::string() : e.name() + ": " + e.description();
}

}  // namespace

struct AmqpTestClient::Handler : proton::messaging_handler {
  struct Link {
    bool is_sender = false;
    proton::sender sender;
    proton::receiver receiver;
    bool remote_attached = false;
    bool has_terminus = false;
    bool remote_closed = false;
    proton::error_condition error;
    std::deque<std::pair<int, proton::message>> queued;  // waiting for credit
    std::vector<proton::message> received;
  };

  bool connection_open = false;
  bool transport_closed = false;
  // Set when the socket ended. Proton then reports its own "connection aborted", which is not
  // an error the peer sent and must not pass for one; a SASL failure, though, is reported only
  // after the socket ended too, with the outcome's condition.
  bool peer_eof = false;
  proton::error_condition connection_error;
  proton::error_condition transport_error;
  std::map<int, Link> links;
  std::map<int, Outcome> outcomes;
  int next_link = 0;
  int next_delivery = 0;
  int cbs_receiver = -1;
  int cbs_sender = -1;
  std::map<std::string, CbsReply> cbs_replies;

  Link* find(const proton::link& l) {
    auto it = links.find(link_id(l.name()));
    return it == links.end() ? nullptr : &it->second;
  }

  void send_queued(Link& link) {
    while (!link.queued.empty() && link.sender.credit() > 0) {
      auto& [id, message] = link.queued.front();
      link.sender.send(message, proton::binary(std::to_string(id)));
      link.queued.pop_front();
    }
  }

  void on_connection_open(proton::connection&) override { connection_open = true; }
  void on_connection_close(proton::connection& c) override {
    connection_error = detached(c.error());
  }
  void on_connection_error(proton::connection& c) override {
    connection_error = detached(c.error());
  }
  void on_transport_error(proton::transport& t) override {
    const auto e = t.error();
    const bool aborted =
        e.name() == "amqp:connection:framing-error" && e.description() == "connection aborted";
    if (!(peer_eof && aborted)) transport_error = detached(e);
  }
  void on_transport_close(proton::transport&) override { transport_closed = true; }
  void on_session_error(proton::session&) override {}
  void on_error(const proton::error_condition&) override {}

  void on_sender_open(proton::sender& s) override {
    if (auto* l = find(s)) {
      l->remote_attached = true;
      l->has_terminus = !s.target().address().empty() || s.target().dynamic();
    }
  }
  void on_receiver_open(proton::receiver& r) override {
    if (auto* l = find(r)) {
      l->remote_attached = true;
      l->has_terminus = !r.source().address().empty() || r.source().dynamic();
    }
  }
  void link_closed(const proton::link& link) {
    if (auto* l = find(link)) {
      l->remote_closed = true;
      if (!link.error().empty()) l->error = detached(link.error());
    }
  }
  void on_sender_close(proton::sender& s) override { link_closed(s); }
  void on_sender_detach(proton::sender& s) override { link_closed(s); }
  void on_sender_error(proton::sender& s) override { link_closed(s); }
  void on_receiver_close(proton::receiver& r) override { link_closed(r); }
  void on_receiver_detach(proton::receiver& r) override { link_closed(r); }
  void on_receiver_error(proton::receiver& r) override { link_closed(r); }

  void on_sendable(proton::sender& s) override {
    if (auto* l = find(s)) send_queued(*l);
  }

  void record(const proton::tracker& t, Outcome o) {
    auto& current = outcomes[delivery_id(t.tag())];
    if (current == Outcome::pending || o != Outcome::settled) current = o;
  }
  void on_tracker_accept(proton::tracker& t) override { record(t, Outcome::accepted); }
  void on_tracker_reject(proton::tracker& t) override { record(t, Outcome::rejected); }
  void on_tracker_release(proton::tracker& t) override { record(t, Outcome::released); }
  void on_tracker_settle(proton::tracker& t) override { record(t, Outcome::settled); }

  void on_message(proton::delivery& d, proton::message& m) override {
    const int id = link_id(d.receiver().name());
    if (id == cbs_receiver) {
      CbsReply reply;
      const auto& props = m.properties();
      if (props.exists("status-code")) reply.status = proton::coerce<int>(props.get("status-code"));
      if (props.exists("status-description")) {
        reply.description = proton::coerce<std::string>(props.get("status-description"));
      }
      reply.correlation_id = text_of(m.correlation_id());
      cbs_replies[reply.correlation_id] = reply;
      return;
    }
    if (auto it = links.find(id); it != links.end()) it->second.received.push_back(m);
  }
};

AmqpTestClient::AmqpTestClient(AmqpClientOptions options)
    : options_(std::move(options)),
      tls_(options_.tls),
      handler_(std::make_unique<Handler>()),
      driver_("edgehub-amqp-test") {}

AmqpTestClient::~AmqpTestClient() {
  // The driver frees the connection and its links: Proton asserts that nothing else still
  // holds them, so the handler's references go first.
  handler_->links.clear();
}

bool AmqpTestClient::open() {
  if (!tls_.connect()) {
    handler_->transport_error = proton::error_condition("tls", tls_.error());
    return false;
  }
  proton::connection_options o;
  o.handler(*handler_);
  o.virtual_host(options_.virtual_host);
  switch (options_.sasl) {
    case AmqpSasl::none:
      o.sasl_enabled(false);
      break;
    case AmqpSasl::anonymous:
      o.sasl_enabled(true).sasl_allowed_mechs("ANONYMOUS");
      break;
    case AmqpSasl::plain:
      // TLS is terminated outside Proton, so Proton sees a plaintext transport and would refuse
      // to send a password without this.
      o.sasl_enabled(true).sasl_allowed_mechs("PLAIN").sasl_allow_insecure_mechs(true);
      o.user(options_.user).password(options_.password);
      break;
  }
  driver_.connect(o);
  driver_.connection().default_session();  // the one session all links share, as the SDKs do
  pump_until([this] { return handler_->connection_open; });
  return handler_->connection_open && !finished();
}

bool AmqpTestClient::is_open() const {
  return handler_->connection_open && !finished();
}

bool AmqpTestClient::finished() const {
  return eof_ || handler_->transport_closed || !handler_->connection_error.empty();
}

std::string AmqpTestClient::error_name() const {
  if (!handler_->connection_error.empty()) return handler_->connection_error.name();
  return handler_->transport_error.name();
}

std::string AmqpTestClient::error() const {
  auto text = with_description(handler_->connection_error);
  if (text.empty()) text = with_description(handler_->transport_error);
  return text.empty() ? "(no error)" : text;
}

std::uint32_t AmqpTestClient::peer_max_frame_size() const {
  return driver_.connection().max_frame_size();
}

void AmqpTestClient::attach_cbs() {
  handler_->cbs_sender = attach_sender("$cbs");
  handler_->cbs_receiver = attach_receiver("$cbs", 1000);
}

std::string AmqpTestClient::send_put_token(const std::string& audience, const std::string& token,
                                           const std::string& type) {
  const auto id = "put-token-" + std::to_string(handler_->next_delivery);
  proton::message m;
  m.id(id);
  m.to("$cbs");
  m.reply_to("cbs");
  m.properties().put("operation", "put-token");
  m.properties().put("type", type);
  m.properties().put("name", audience);
  m.body(token);
  send(handler_->cbs_sender, m);
  return id;
}

std::optional<CbsReply> AmqpTestClient::cbs_reply(const std::string& request_id) {
  pump_until([&] { return handler_->cbs_replies.count(request_id) > 0; });
  auto it = handler_->cbs_replies.find(request_id);
  if (it == handler_->cbs_replies.end()) return std::nullopt;
  return it->second;
}

int AmqpTestClient::attach_sender(const std::string& target_address,
                                  const std::map<std::string, std::string>& properties) {
  const int id = handler_->next_link++;
  std::map<proton::symbol, proton::value> props;
  for (const auto& [k, v] : properties)
    props[proton::symbol(k)] = v;
  proton::sender_options so;
  so.name(link_name(id)).target(proton::target_options().address(target_address));
  if (!props.empty()) so.properties(props);
  auto& link = handler_->links[id];
  link.is_sender = true;
  link.sender = driver_.connection().default_session().open_sender(target_address, so);
  flush();
  return id;
}

int AmqpTestClient::attach_receiver(const std::string& source_address, int credit) {
  const int id = handler_->next_link++;
  proton::receiver_options ro;
  proton::source_options source;
  source.address(source_address);
  ro.name(link_name(id)).source(source).credit_window(credit);
  auto& link = handler_->links[id];
  link.receiver = driver_.connection().default_session().open_receiver(source_address, ro);
  flush();
  return id;
}

bool AmqpTestClient::wait_attached(int link) {
  const auto& l = handler_->links.at(link);
  pump_until([&] { return l.remote_attached; });
  // A refusal is an attach with a null terminus followed by a detach: wait for the detach too,
  // so that link_error() carries the condition.
  if (l.remote_attached && !l.has_terminus) pump_until([&] { return l.remote_closed; });
  return l.remote_attached && l.has_terminus && !l.remote_closed;
}

bool AmqpTestClient::wait_link_closed(int link) {
  const auto& l = handler_->links.at(link);
  return pump_until([&] { return l.remote_closed; });
}

void AmqpTestClient::detach(int link) {
  auto& l = handler_->links.at(link);
  if (l.is_sender) {
    l.sender.close();
  } else {
    l.receiver.close();
  }
  flush();
}

bool AmqpTestClient::link_attached(int link) const {
  const auto& l = handler_->links.at(link);
  return l.remote_attached && l.has_terminus && !l.remote_closed;
}

bool AmqpTestClient::link_closed(int link) const {
  return handler_->links.at(link).remote_closed;
}

std::string AmqpTestClient::link_error_name(int link) const {
  return handler_->links.at(link).error.name();
}

std::string AmqpTestClient::link_error(int link) const {
  const auto text = with_description(handler_->links.at(link).error);
  return text.empty() ? "(no error)" : text;
}

int AmqpTestClient::send(int link, const proton::message& message) {
  const int id = handler_->next_delivery++;
  handler_->outcomes[id] = Outcome::pending;
  auto& l = handler_->links.at(link);
  l.queued.emplace_back(id, message);
  handler_->send_queued(l);
  flush();
  return id;
}

Outcome AmqpTestClient::outcome(int delivery) const {
  return handler_->outcomes.at(delivery);
}

bool AmqpTestClient::wait_outcome(int delivery) {
  return pump_until([&] { return handler_->outcomes.at(delivery) != Outcome::pending; });
}

bool AmqpTestClient::wait_all_outcomes() {
  // Checked incrementally: with thousands of deliveries a full scan per event would dominate.
  auto it = handler_->outcomes.begin();
  return pump_until([&] {
    while (it != handler_->outcomes.end() && it->second != Outcome::pending)
      ++it;
    return it == handler_->outcomes.end();
  });
}

const std::vector<proton::message>& AmqpTestClient::received(int link) const {
  return handler_->links.at(link).received;
}

bool AmqpTestClient::pump_until(const std::function<bool()>& done) {
  for (;;) {
    flush();
    if (done()) return true;
    if (finished()) return false;
    const auto bytes = tls_.read_some();
    if (bytes.empty()) {  // EOF, reset or the read timeout: nothing more will come
      eof_ = true;
      handler_->peer_eof = true;
      driver_.read_close();
      flush();
      return done();
    }
    feed(bytes);
  }
}

bool AmqpTestClient::write_bytes(const std::string& bytes) {
  flush();
  return tls_.write(bytes);
}

void AmqpTestClient::close() {
  if (finished()) return;
  driver_.connection().close();
  pump_until([this] { return handler_->transport_closed; });
}

void AmqpTestClient::flush() {
  driver_.dispatch();
  for (;;) {
    const auto out = driver_.write_buffer();
    if (out.size == 0) break;
    if (!tls_.write(std::string(out.data, out.size))) {
      driver_.write_close();
      driver_.dispatch();
      break;
    }
    driver_.write_done(out.size);
    driver_.dispatch();
  }
}

void AmqpTestClient::feed(const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto in = driver_.read_buffer();
    if (in.size == 0) break;  // the driver stopped reading (it is closing)
    const auto n = std::min(in.size, bytes.size() - done);
    std::memcpy(in.data, bytes.data() + done, n);
    driver_.read_done(n);
    done += n;
    driver_.dispatch();
  }
}

std::string amqp_frame(std::uint8_t type, std::uint16_t channel, const std::string& body) {
  const auto size = static_cast<std::uint32_t>(8 + body.size());
  std::string out;
  out += static_cast<char>(size >> 24);
  out += static_cast<char>((size >> 16) & 0xff);
  out += static_cast<char>((size >> 8) & 0xff);
  out += static_cast<char>(size & 0xff);
  out += static_cast<char>(2);  // data offset in 4-byte words: the 8-byte header
  out += static_cast<char>(type);
  out += static_cast<char>(channel >> 8);
  out += static_cast<char>(channel & 0xff);
  return out + body;
}

std::string amqp_protocol_header() {
  return std::string("AMQP\x00\x01\x00\x00", 8);
}
std::string sasl_protocol_header() {
  return std::string("AMQP\x03\x01\x00\x00", 8);
}

}  // namespace edgehub::testing
