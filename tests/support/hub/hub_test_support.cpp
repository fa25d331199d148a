#include "support/hub/hub_test_support.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <thread>

#include "edgehub/hub/errors.hpp"

namespace edgehub::hub::testing {

void FakeChannel::deliver_input(core::Message message, std::string input, DoneCallback done) {
  if (pending.size() >= capacity_) {
    ++refused;
    done(make_error_code(Errc::queue_full));
    return;
  }
  all_inputs.push_back(message);
  pending.push_back(Input{std::move(message), std::move(input), std::move(done)});
}

void FakeChannel::deliver_method(MethodRequest request, DoneCallback done) {
  if (refuse_methods) {
    done(make_error_code(Errc::queue_full));
    return;
  }
  methods.push_back(std::move(request));
  done({});
}

void FakeChannel::deliver_desired(DesiredPatch patch) {
  desired.push_back(std::move(patch));
}

void FakeChannel::close(core::ErrorCode reason) {
  closed = reason;
}

void FakeChannel::ack(std::size_t index) {
  auto done = std::move(pending.at(index).done);
  pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(index));
  done({});
}

void FakeChannel::ack_all() {
  auto all = std::move(pending);
  pending.clear();
  for (auto& p : all)
    p.done({});
}

void FakeChannel::fail_all(core::ErrorCode ec) {
  auto all = std::move(pending);
  pending.clear();
  for (auto& p : all)
    p.done(ec);
}

std::vector<std::string> FakeChannel::received_bodies() const {
  std::vector<std::string> out;
  for (const auto& m : all_inputs)
    out.emplace_back(m.body_text());
  return out;
}

TimerHandle ManualScheduler::call_after(boost::asio::any_io_executor executor,
                                        std::chrono::milliseconds delay, std::function<void()> fn) {
  auto cancelled = std::make_shared<bool>(false);
  {
    std::lock_guard lock(mutex_);
    entries_.push_back(Entry{now_ + delay, next_++, std::move(executor), std::move(fn), cancelled});
  }
  return TimerHandle([this, cancelled] {
    std::lock_guard lock(mutex_);
    *cancelled = true;
  });
}

void ManualScheduler::advance(std::chrono::milliseconds d) {
  std::vector<Entry> due;
  {
    std::lock_guard lock(mutex_);
    now_ += d;
    auto it = std::stable_partition(entries_.begin(), entries_.end(),
                                    [&](const Entry& e) { return e.due > now_; });
    due.assign(std::make_move_iterator(it), std::make_move_iterator(entries_.end()));
    entries_.erase(it, entries_.end());
  }
  std::sort(due.begin(), due.end(), [](const Entry& a, const Entry& b) {
    return a.due != b.due ? a.due < b.due : a.order < b.order;
  });
  for (auto& e : due) {
    boost::asio::post(e.executor, [this, fn = std::move(e.fn), cancelled = e.cancelled] {
      bool skip;
      {
        std::lock_guard lock(mutex_);
        skip = *cancelled;
      }
      if (!skip) fn();
    });
  }
}

std::size_t ManualScheduler::pending() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(),
                                                [](const Entry& e) { return !*e.cancelled; }));
}

void settle(boost::asio::io_context& ioc, store::MessageStore& store) {
  for (int round = 0; round < 1000; ++round) {
    bool barrier = false;
    store.async_stats([&barrier](core::Result<store::StoreStats>) { barrier = true; });
    std::size_t ran = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!barrier && std::chrono::steady_clock::now() < deadline) {
      ioc.restart();
      const auto n = ioc.poll();
      ran += n;
      if (n == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    ioc.restart();
    ran += ioc.poll();
    if (ran <= 1) return;  // only the barrier itself ran: nothing else is in motion
  }
}

bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    ioc.restart();
    if (ioc.poll() == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return done();
}

}  // namespace edgehub::hub::testing
