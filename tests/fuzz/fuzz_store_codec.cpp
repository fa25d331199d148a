#include <cstdlib>

#include "store/message_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgehub;
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  auto message = store::decode_message(in);
  if (!message) return 0;
  const auto again = store::decode_message(store::encode_message(*message));
  if (!again) std::abort();
  const auto& a = *message;
  const auto& b = *again;
  if (a.kind != b.kind || a.origin != b.origin || a.body != b.body || a.sys != b.sys ||
      a.app != b.app || a.enqueued_at != b.enqueued_at) {
    std::abort();
  }
  return 0;
}
