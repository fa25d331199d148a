#pragma once

// Small helpers over Proton C's pn_data_t / pn_message_t, private to amqp_core.

#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/message.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace edgehub::amqp_core::detail {

struct MessageFree {
  void operator()(pn_message_t* m) const noexcept { pn_message_free(m); }
};
using MessagePtr = std::unique_ptr<pn_message_t, MessageFree>;

inline std::string_view view(pn_bytes_t b) noexcept {
  return b.start ? std::string_view(b.start, b.size) : std::string_view{};
}
inline pn_bytes_t bytes_of(std::string_view s) noexcept {
  return pn_bytes(s.size(), s.data());
}

/// The current scalar node of `data` as text (numbers in decimal, uuid as lower-case text,
/// timestamps as ISO 8601); nullopt for null, described, list, map and array nodes.
std::optional<std::string> scalar_text(pn_data_t* data);

inline void set_condition(pn_condition_t* c, std::string_view name, std::string_view description) {
  pn_condition_set_name(c, std::string(name).c_str());
  if (!description.empty()) pn_condition_set_description(c, std::string(description).c_str());
}

/// "name: description" of a condition, "" when it is not set.
inline std::string condition_text(pn_condition_t* c) {
  if (!c || !pn_condition_is_set(c)) return {};
  std::string out = pn_condition_get_name(c) ? pn_condition_get_name(c) : "";
  if (const char* d = pn_condition_get_description(c)) {
    out += ": ";
    out += d;
  }
  return out;
}

}  // namespace edgehub::amqp_core::detail
