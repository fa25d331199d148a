#pragma once

// A pass over the client's byte stream ahead of Proton, private to amqp_core.
//
// Debian's Proton 0.37 is built with assertions on, and a few frames a client controls reach an
// assert() inside libqpid-proton-core (found by fuzz_amqp_connection): a TRANSFER that begins a
// multi-frame delivery (more=true) without a delivery-id aborts the whole process. The guard
// follows the frame boundaries and refuses such a frame before its last byte reaches Proton, so
// one client can only end its own connection. It checks only what Proton would trust blindly;
// every other malformation is left to Proton, which reports it as a protocol error.
//
// Proton 0.37 also silently ignores a performative before OPEN and a second OPEN (the peer then
// waits for an answer that never comes); the guard refuses both with amqp:illegal-state.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace edgehub::amqp_core::detail {

class InboundFrameGuard {
 public:
  /// `max_frame_bytes` is the transport's own limit: a larger frame is Proton's framing error.
  explicit InboundFrameGuard(std::uint32_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

  struct Refusal {
    std::string condition;  ///< AMQP error condition for the CLOSE, e.g. amqp:decode-error
    std::string description;
    std::string reason;  ///< the metric label (docs/amqp.md), e.g. decode_error
  };
  struct Verdict {
    std::size_t safe_bytes = 0;      ///< prefix of the input that may be given to Proton
    std::optional<Refusal> refusal;  ///< why the frame after that prefix is refused
  };

  /// Consumes the next bytes of the stream. Once a frame is refused, or the framing is broken
  /// in a way Proton itself rejects (after which Proton reads nothing more), the guard stops
  /// inspecting.
  Verdict inspect(std::span<const std::byte> bytes);

  /// A frame header announced more than `max_frame_bytes` (Proton calls it a "malformed frame").
  bool saw_oversized_frame() const { return oversized_; }

 private:
  enum class State { boundary, header, frame_head, performative, skip, passive };

  enum class Check { passed, incomplete, refused };

  /// Reads the performative of the AMQP frame held so far; a refusal says why in `refusal`.
  Check check_performative(Refusal& refusal);
  /// Follows Proton's "multi-frame delivery in progress" state of a link; false for a transfer
  /// Proton would assert on: one that continues (more) a delivery that has no delivery-id yet.
  bool track_transfer(std::uint16_t channel, std::uint32_t handle, bool has_delivery_id,
                      bool continues);
  void forget_channel(std::uint16_t channel);

  std::uint32_t max_frame_bytes_;
  State state_ = State::boundary;
  std::vector<std::byte> held_;  ///< bytes of the header or frame being read
  std::uint32_t frame_size_ = 0;
  std::uint32_t body_offset_ = 0;  ///< where the body of the frame being read begins
  std::uint32_t left_in_frame_ = 0;
  /// (channel, handle) of links in the middle of a multi-frame delivery, as Proton sees them.
  std::set<std::pair<std::uint16_t, std::uint32_t>> continuing_;
  bool header_seen_ = false;
  bool opened_ = false;  ///< the peer's OPEN went through
  bool oversized_ = false;
};

}  // namespace edgehub::amqp_core::detail
