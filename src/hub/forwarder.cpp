#include "edgehub/hub/forwarder.hpp"

#include <algorithm>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <utility>

#include "edgehub/hub/errors.hpp"
#include "edgehub/ops/logging.hpp"

namespace edgehub::hub {

// --- ModuleInputSink ------------------------------------------------------------------------

ModuleInputSink::ModuleInputSink(DeviceChannels& channels, core::ClientId module, std::string input)
    : channels_(channels), module_(std::move(module)), input_(std::move(input)) {}

std::uint64_t ModuleInputSink::connection() const {
  auto entry = channels_.find(module_);
  if (!entry || !entry->subscriptions.has(Subscription::module_inputs)) return 0;
  return entry->connection;
}

void ModuleInputSink::send(core::Message message, DoneCallback done) {
  auto entry = channels_.find(module_);
  if (!entry || !entry->subscriptions.has(Subscription::module_inputs)) {
    done(make_error_code(Errc::disconnected));
    return;
  }
  message.sys_prop(core::SystemProperty::input_name) = input_;
  DeviceChannels::post_input(entry->channel, std::move(message), input_, std::move(done));
}

void ModuleInputSink::set_wake(std::function<void()> wake) {
  watch_ = channels_.watch([module = module_, wake = std::move(wake)](const core::ClientId& id) {
    if (id == module) wake();
  });
}

// --- Forwarder ------------------------------------------------------------------------------

std::shared_ptr<Forwarder> Forwarder::create(std::string endpoint_id,
                                             std::unique_ptr<EndpointSink> sink,
                                             store::MessageStore& store, Scheduler& scheduler,
                                             ops::Registry& registry,
                                             boost::asio::any_io_executor executor,
                                             ForwarderOptions options) {
  return std::shared_ptr<Forwarder>(new Forwarder(std::move(endpoint_id), std::move(sink), store,
                                                  scheduler, registry, std::move(executor),
                                                  options));
}

ForwarderMetrics::ForwarderMetrics(ops::Registry& registry)
    : sent(registry.counter("edgehub_messages_sent_total", "Messages sent to an endpoint",
                            {"from", "to", "from_route_output", "to_route_input", "priority"})),
      send_duration(registry.summary("edgehub_message_send_duration_seconds",
                                     "Time from handing a message to its endpoint to its "
                                     "acknowledgement",
                                     {"from", "to", "from_route_output", "to_route_input"})),
      process_duration(registry.summary("edgehub_message_process_duration_seconds",
                                        "Time from a message's arrival at the gateway to its "
                                        "acknowledgement by its endpoint",
                                        {"from", "to", "priority"})),
      retries(registry.counter("edgehub_operation_retry_total",
                               "Messages sent again after a failure, a timeout or a reconnect",
                               {"id", "operation"})),
      dropped(registry.counter("edgehub_messages_dropped_total", "Messages dropped",
                               {"reason", "from", "from_route_output"})) {}

Forwarder::Forwarder(std::string endpoint_id, std::unique_ptr<EndpointSink> sink,
                     store::MessageStore& store, Scheduler& scheduler, ops::Registry& registry,
                     boost::asio::any_io_executor executor, ForwarderOptions options)
    : endpoint_id_(std::move(endpoint_id)),
      sink_(std::move(sink)),
      store_(store),
      scheduler_(scheduler),
      metrics_(registry),
      strand_(boost::asio::make_strand(executor)),
      options_(options),
      random_(std::random_device{}()) {
  options_.window = std::max<std::size_t>(options_.window, 1);
  options_.batch = std::max<std::size_t>(options_.batch, 1);
}

Forwarder::~Forwarder() = default;

void Forwarder::start() {
  std::weak_ptr<Forwarder> weak = weak_from_this();
  sink_->set_wake([weak] {
    if (auto self = weak.lock()) boost::asio::post(self->strand_, [self] { self->on_wake(); });
  });
  boost::asio::post(strand_, [self = shared_from_this()] {
    self->started_ = true;
    self->pump();
  });
}

void Forwarder::stop() {
  if (stop_requested_.exchange(true)) return;
  boost::asio::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->retry_timer_.cancel();
    for (auto& [p, q] : self->queues_) {
      ++q.epoch;
      self->forget_in_flight(q);
      q.ahead.clear();
    }
    // The sink watches DeviceChannels; dropping it now means nothing of this forwarder refers
    // to the registry once stop() has run, whatever still holds the object.
    self->sink_.reset();
  });
}

void Forwarder::notify(std::uint32_t priority) {
  {
    std::lock_guard lock(inbox_mutex_);
    if (std::find(noted_.begin(), noted_.end(), priority) == noted_.end()) {
      noted_.push_back(priority);
    }
    if (inbox_posted_) return;
    inbox_posted_ = true;
  }
  post_inbox();
}

void Forwarder::post_inbox() {
  boost::asio::post(strand_, [self = shared_from_this()] { self->on_inbox(); });
}

void Forwarder::on_inbox() {
  std::vector<std::uint32_t> noted;
  {
    std::lock_guard lock(inbox_mutex_);
    noted.swap(noted_);
    taken_results_.swap(results_);
    inbox_posted_ = false;
  }
  for (const auto& result : taken_results_)
    on_result(result);
  taken_results_.clear();  // keeps its capacity for the next swap
  for (auto priority : noted) {
    auto& q = queue(priority);
    q.maybe_more = true;
    ++q.notes;
  }
  pump();
}

std::size_t Forwarder::in_flight() const {
  return in_flight_count_;
}

store::SeqNo Forwarder::checkpoint(std::uint32_t priority) const {
  auto it = queues_.find(priority);
  return it == queues_.end() ? 0 : it->second.checkpoint;
}

Forwarder::Queue& Forwarder::queue(std::uint32_t priority) {
  auto [it, inserted] = queues_.try_emplace(priority);
  if (inserted) it->second.priority = priority;
  return it->second;
}

void Forwarder::on_wake() {
  if (stopped_) return;
  if (backing_off_) {
    // A wake-up (the target connected, the upstream is back online) is the other retry trigger
    // besides the timer, and starts the back-off over.
    backing_off_ = false;
    failures_ = 0;
    retry_timer_.cancel();
  }
  pump();
}

void Forwarder::pump() {
  if (!started_ || stopped_ || backing_off_) return;
  const auto connection = sink_->connection();
  if (connection == 0) return;  // wait for the wake-up: messages stay in the store
  if (connection != connection_) {
    // What went out on an older connection will never be acknowledged on this one.
    if (connection_ != 0) {
      for (auto& [p, q] : queues_)
        if (!q.in_flight.empty()) restart(q);
    }
    connection_ = connection;
  }
  // Strict priority: the first queue (lowest number) holding messages read or maybe unread
  // gets the window; lower ones wait, even with messages already read, while it may have more.
  for (auto& [priority, q] : queues_) {
    if (q.ahead.empty() && !q.maybe_more) continue;
    send_ahead(q);
    if (!q.ahead.empty()) return;  // the window is full
    if (q.maybe_more) {
      if (!peeking_) read(q);
      return;
    }
  }
}

void Forwarder::read(Queue& q) {
  peeking_ = true;
  store_.async_read(store::QueueId{endpoint_id_, q.priority}, q.read_after,
                    store::ReadLimits{options_.batch, options_.batch_bytes},
                    boost::asio::bind_executor(
                        strand_, [self = shared_from_this(), priority = q.priority, epoch = q.epoch,
                                  notes = q.notes](core::Result<store::ReadBatch> r) mutable {
                          self->on_read(priority, epoch, notes, std::move(r));
                        }));
}

void Forwarder::on_read(std::uint32_t priority, std::uint64_t epoch, std::uint64_t notes,
                        core::Result<store::ReadBatch> batch) {
  peeking_ = false;
  if (stopped_) return;
  auto& q = queue(priority);
  if (epoch != q.epoch) {
    pump();
    return;
  }
  if (!batch) {
    ops::log(spdlog::level::warn, {}, "forwarder {}: reading queue priority {} failed: {}",
             endpoint_id_, priority, batch.error().message());
    back_off();
    return;
  }
  // A commit notified while the read ran may not be in its result: only a read that started
  // after the last notification and reached the end of the queue proves it drained.
  if (!batch->more && notes == q.notes) q.maybe_more = false;
  if (!batch->entries.empty()) q.read_after = batch->entries.back().seq;
  for (auto& e : batch->entries)
    q.ahead.push_back(std::move(e));
  pump();
}

void Forwarder::send_ahead(Queue& q) {
  std::weak_ptr<Forwarder> weak = weak_from_this();
  const auto sent_at = std::chrono::steady_clock::now();
  const std::size_t first = q.in_flight.size();
  while (!q.ahead.empty() && in_flight_count_ < options_.window) {
    auto& e = q.ahead.front();
    const std::size_t bytes = e.message.accounted_size();
    if (options_.window_bytes != 0 && in_flight_bytes_ != 0 &&
        in_flight_bytes_ + bytes > options_.window_bytes) {
      break;  // it waits for acknowledgements
    }
    InFlight f;
    f.seq = e.seq;
    f.bytes = bytes;
    f.origin = &origin_of(e.message, q.priority);
    f.sent_at = sent_at;
    f.enqueued_at = e.message.enqueued_at;
    q.in_flight.push_back(std::move(f));
    ++in_flight_count_;
    in_flight_bytes_ += bytes;
    // Outcomes travel to the strand through the inbox: one post per burst, not per message.
    sink_->send(std::move(e.message),
                [weak, priority = q.priority, epoch = q.epoch, seq = e.seq](core::ErrorCode ec) {
                  auto self = weak.lock();
                  if (!self) return;
                  {
                    std::lock_guard lock(self->inbox_mutex_);
                    self->results_.push_back(SendResult{priority, epoch, seq, ec});
                    if (self->inbox_posted_) return;
                    self->inbox_posted_ = true;
                  }
                  self->post_inbox();
                });
    q.ahead.pop_front();
  }
  if (q.in_flight.size() > first) {
    auto& last = q.in_flight.back();
    last.timer =
        scheduler_.call_after(strand_, options_.ack_timeout,
                              [weak, priority = q.priority, epoch = q.epoch, seq = last.seq] {
                                if (auto self = weak.lock()) self->on_timeout(priority, epoch, seq);
                              });
  }
}

void Forwarder::on_result(const SendResult& result) {
  if (stopped_) return;
  auto& q = queue(result.priority);
  if (result.epoch != q.epoch) return;
  const auto seq = result.seq;
  const auto& ec = result.ec;
  auto it = std::find_if(q.in_flight.begin(), q.in_flight.end(),
                         [seq](const InFlight& f) { return f.seq == seq; });
  if (it == q.in_flight.end() || it->acked) return;
  if (!ec || ec == Errc::not_authorized) {
    it->acked = true;
    const Origin& origin = *it->origin;
    if (!ec) {
      failures_ = 0;
      origin.sent->inc();
      const std::chrono::duration<double> sending = std::chrono::steady_clock::now() - it->sent_at;
      origin.send_duration->observe(sending.count());
      const std::chrono::duration<double> processing =
          std::chrono::system_clock::now() - it->enqueued_at;
      origin.process_duration->observe(std::max(0.0, processing.count()));
    } else {
      metrics_.dropped.with({"not_authorized", origin.from, origin.output}).inc();
      ops::log(spdlog::level::warn, {},
               "forwarder {}: {} refuses messages of {} ({}); message {} dropped", endpoint_id_,
               sink_->to_label(), origin.from, ec.message(), seq);
    }
    advance(q);
    return;
  }
  ops::log(spdlog::level::debug, {}, "forwarder {}: delivery of {} failed ({}); retrying",
           endpoint_id_, seq, ec.message());
  restart(q);
  back_off();
}

void Forwarder::on_timeout(std::uint32_t priority, std::uint64_t epoch, store::SeqNo last) {
  if (stopped_) return;
  auto& q = queue(priority);
  if (epoch != q.epoch) return;
  // The batch ending at `last` went out together: any of it (or older) still unacknowledged is
  // overdue.
  auto it = std::find_if(q.in_flight.begin(), q.in_flight.end(),
                         [last](const InFlight& f) { return f.seq <= last && !f.acked; });
  if (it == q.in_flight.end()) return;
  ops::log(spdlog::level::info, {},
           "forwarder {}: no acknowledgement for {} within {} ms; sending again from the "
           "checkpoint",
           endpoint_id_, it->seq, options_.ack_timeout.count());
  restart(q);
  pump();
}

void Forwarder::restart(Queue& q) {
  for (const auto& f : q.in_flight) {
    if (!f.acked) metrics_.retries.with({f.origin->from, "send_message"}).inc();
  }
  ++q.epoch;
  forget_in_flight(q);  // their timers cancel with them
  q.ahead.clear();      // read after what was in flight: read again, in order
  q.read_after = q.checkpoint;
  q.maybe_more = true;
}

void Forwarder::forget_in_flight(Queue& q) {
  for (const auto& f : q.in_flight)
    in_flight_bytes_ -= f.bytes;
  in_flight_count_ -= q.in_flight.size();
  q.in_flight.clear();
}

std::chrono::milliseconds Forwarder::next_retry_delay() {
  auto delay = options_.retry_delay;
  if (options_.max_retry_delay > options_.retry_delay) {
    for (std::uint32_t i = 0; i < failures_ && delay < options_.max_retry_delay; ++i)
      delay *= 2;
    delay = std::min(delay, options_.max_retry_delay);
  }
  if (failures_ < 64) ++failures_;
  if (options_.jitter.count() > 0) {
    std::uniform_int_distribution<std::int64_t> extra(0, options_.jitter.count());
    delay += std::chrono::milliseconds(extra(random_));
  }
  return delay;
}

void Forwarder::back_off() {
  backing_off_ = true;
  retry_timer_ = scheduler_.call_after(strand_, next_retry_delay(), [weak = weak_from_this()] {
    if (auto self = weak.lock()) {
      self->backing_off_ = false;
      self->pump();
    }
  });
}

void Forwarder::advance(Queue& q) {
  const auto before = q.checkpoint;
  std::size_t done = 0;
  while (done < q.in_flight.size() && q.in_flight[done].acked) {
    q.checkpoint = q.in_flight[done].seq;
    ++done;
  }
  if (done == 0) return;
  for (std::size_t i = 0; i < done; ++i)
    in_flight_bytes_ -= q.in_flight[i].bytes;
  in_flight_count_ -= done;
  q.in_flight.erase(q.in_flight.begin(), q.in_flight.begin() + static_cast<std::ptrdiff_t>(done));
  if (q.checkpoint == before) return;
  store_checkpoint(q);
}

// One checkpoint write per queue in flight at a time; acknowledgements arriving meanwhile are
// folded into the next one, so the store sees one ack per round trip instead of one per message.
void Forwarder::store_checkpoint(Queue& q) {
  if (q.storing_checkpoint || q.checkpoint <= q.stored_checkpoint) return;
  q.storing_checkpoint = true;
  const auto up_to = q.checkpoint;
  store_.async_ack(
      store::QueueId{endpoint_id_, q.priority}, up_to,
      boost::asio::bind_executor(strand_, [self = shared_from_this(), priority = q.priority,
                                           up_to](core::Result<std::uint64_t> r) {
        auto& queue = self->queue(priority);
        queue.storing_checkpoint = false;
        if (!r) {
          // A lost checkpoint only means redelivery after a restart; the next ack retries it.
          ops::log(spdlog::level::warn, {}, "forwarder {}: checkpoint failed: {}",
                   self->endpoint_id_, r.error().message());
          return;
        }
        queue.stored_checkpoint = std::max(queue.stored_checkpoint, up_to);
        if (!self->stopped_) self->store_checkpoint(queue);
      }));
}

const Forwarder::Origin& Forwarder::origin_of(const core::Message& message,
                                              std::uint32_t priority) {
  const auto& output = message.sys_prop(core::SystemProperty::output_name);
  origin_key_.clear();
  origin_key_ += message.origin.device;
  if (message.origin.is_module()) {
    origin_key_ += '/';
    origin_key_ += message.origin.module;
  }
  origin_key_ += '\n';
  if (output) origin_key_ += *output;
  origin_key_ += '\n';
  origin_key_ += std::to_string(priority);
  if (auto it = origins_.find(origin_key_); it != origins_.end()) return it->second;
  Origin o;
  o.from = message.origin.to_string();
  o.output = output.value_or("");
  const auto to = sink_->to_label();
  const auto input = sink_->input_label();
  const auto p = std::to_string(priority);
  o.sent = &metrics_.sent.with({o.from, to, o.output, input, p});
  o.send_duration = &metrics_.send_duration.with({o.from, to, o.output, input});
  o.process_duration = &metrics_.process_duration.with({o.from, to, p});
  return origins_.emplace(origin_key_, std::move(o)).first->second;
}

// --- Forwarders -----------------------------------------------------------------------------

Forwarders::Forwarders(store::MessageStore& store, DeviceChannels& channels, Scheduler& scheduler,
                       ops::Registry& registry, boost::asio::any_io_executor executor,
                       std::string edge_device_id, ForwarderOptions options)
    : store_(store),
      channels_(channels),
      scheduler_(scheduler),
      registry_(registry),
      executor_(std::move(executor)),
      edge_device_id_(std::move(edge_device_id)),
      options_(options) {
  [[maybe_unused]] const ForwarderMetrics families(registry);  // every family from start-up
}

Forwarders::~Forwarders() {
  stop_all();
}

namespace {

// "{device}/{module}/{input}" with three non-empty parts.
bool parse_module_input(std::string_view id, std::string& device, std::string& module,
                        std::string& input) {
  const auto a = id.find('/');
  if (a == std::string_view::npos) return false;
  const auto b = id.find('/', a + 1);
  if (b == std::string_view::npos || id.find('/', b + 1) != std::string_view::npos) return false;
  device = id.substr(0, a);
  module = id.substr(a + 1, b - a - 1);
  input = id.substr(b + 1);
  return !device.empty() && !module.empty() && !input.empty();
}

}  // namespace

std::shared_ptr<Forwarder> Forwarders::ensure_module_input(const std::string& endpoint_id) {
  // Called with mutex_ held.
  if (auto it = forwarders_.find(endpoint_id); it != forwarders_.end()) return it->second;
  std::string device, module, input;
  if (!parse_module_input(endpoint_id, device, module, input) || device != edge_device_id_) {
    return nullptr;
  }
  auto sink = std::make_unique<ModuleInputSink>(channels_, core::ClientId{device, module}, input);
  auto f = Forwarder::create(endpoint_id, std::move(sink), store_, scheduler_, registry_, executor_,
                             options_);
  f->start();
  forwarders_.emplace(endpoint_id, f);
  return f;
}

void Forwarders::update_routes(const routing::RouteTable& routes) {
  std::lock_guard lock(mutex_);
  for (const auto& key : routes.queues()) {
    if (auto f = ensure_module_input(key.endpoint_id)) f->notify(key.priority);
  }
}

void Forwarders::recover(std::function<void(core::Result<std::size_t>)> done) {
  store_.async_stats(boost::asio::bind_executor(
      executor_, [this, done = std::move(done)](core::Result<store::StoreStats> r) {
        if (!r) {
          done(r.error());
          return;
        }
        std::size_t n = 0;
        std::lock_guard lock(mutex_);
        for (const auto& q : r->queues) {
          if (auto f = ensure_module_input(q.queue.endpoint)) {
            f->notify(q.queue.priority);
            ++n;
          }
        }
        done(n);
      }));
}

bool Forwarders::add_endpoint(const std::string& endpoint_id, std::unique_ptr<EndpointSink> sink,
                              std::vector<std::uint32_t> priorities,
                              std::optional<ForwarderOptions> options) {
  std::lock_guard lock(mutex_);
  if (forwarders_.contains(endpoint_id)) return false;
  auto f = Forwarder::create(endpoint_id, std::move(sink), store_, scheduler_, registry_, executor_,
                             options.value_or(options_));
  f->start();
  for (auto p : priorities)
    f->notify(p);
  // Queues left from an earlier run (or from routes that no longer name this priority).
  store_.async_stats(
      boost::asio::bind_executor(executor_, [f, endpoint_id](core::Result<store::StoreStats> r) {
        if (!r) return;
        for (const auto& q : r->queues)
          if (q.queue.endpoint == endpoint_id) f->notify(q.queue.priority);
      }));
  forwarders_.emplace(endpoint_id, std::move(f));
  return true;
}

void Forwarders::on_committed(const std::vector<store::QueueId>& queues) {
  std::lock_guard lock(mutex_);
  for (const auto& q : queues) {
    auto it = forwarders_.find(q.endpoint);
    std::shared_ptr<Forwarder> f =
        it != forwarders_.end() ? it->second : ensure_module_input(q.endpoint);
    if (f) f->notify(q.priority);
  }
}

std::shared_ptr<Forwarder> Forwarders::find(const std::string& endpoint_id) const {
  std::lock_guard lock(mutex_);
  auto it = forwarders_.find(endpoint_id);
  return it == forwarders_.end() ? nullptr : it->second;
}

void Forwarders::stop_all() {
  std::lock_guard lock(mutex_);
  for (auto& [id, f] : forwarders_)
    f->stop();
}

}  // namespace edgehub::hub
