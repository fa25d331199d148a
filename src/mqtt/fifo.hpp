#pragma once

// A first-in first-out queue that holds no memory while empty, for per-connection queues that
// are empty most of the time. std::deque allocates its map and a 512-byte block on
// construction: three of them were a third of an idle MQTT session (docs/performance.md,
// "Connection cost and idle memory").
//
// A vector and the index of its front: pop_front() is O(1) and the consumed prefix is dropped
// once it is the larger half. Emptied, it keeps a small allocation for the next burst and frees
// a large one.

#include <cstddef>
#include <utility>
#include <vector>

namespace edgehub::mqtt {

template <typename T>
class Fifo {
 public:
  bool empty() const noexcept { return head_ == items_.size(); }
  std::size_t size() const noexcept { return items_.size() - head_; }

  T& front() noexcept { return items_[head_]; }
  /// The i-th element from the front.
  T& operator[](std::size_t i) noexcept { return items_[head_ + i]; }

  void push_back(T item) { items_.push_back(std::move(item)); }

  void pop_front() {
    items_[head_] = T{};  // release what the element owns now, not at the next compaction
    if (++head_ == items_.size()) return clear();
    if (head_ >= kCompactAfter && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  void clear() {
    if (items_.capacity() * sizeof(T) > kKeepBytes) {
      std::vector<T>().swap(items_);
    } else {
      items_.clear();
    }
    head_ = 0;
  }

  auto begin() noexcept { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() noexcept { return items_.end(); }

 private:
  static constexpr std::size_t kCompactAfter = 16;
  static constexpr std::size_t kKeepBytes = 256;

  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace edgehub::mqtt
