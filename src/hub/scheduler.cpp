#include "edgehub/hub/scheduler.hpp"

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>

namespace edgehub::hub {

TimerHandle AsioScheduler::call_after(boost::asio::any_io_executor executor,
                                      std::chrono::milliseconds delay, std::function<void()> fn) {
  auto timer = std::make_shared<boost::asio::steady_timer>(executor, delay);
  // The flag, not only timer.cancel(), decides: a completion already queued when the handle is
  // cancelled must still not call fn.
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  timer->async_wait([timer, cancelled, f = std::move(fn)](const boost::system::error_code& ec) {
    if (!ec && !cancelled->load()) f();
  });
  return TimerHandle([timer, cancelled, executor] {
    cancelled->store(true);
    // steady_timer is not thread-safe: cancel it on its own executor so it stops holding work.
    boost::asio::dispatch(executor, [timer] { timer->cancel(); });
  });
}

}  // namespace edgehub::hub
