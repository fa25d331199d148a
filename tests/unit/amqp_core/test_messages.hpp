#pragma once

// Builds encoded AMQP messages with Proton C the way the SDKs send them, for the codec tests.

#include <proton/codec.h>
#include <proton/message.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace edgehub::amqp_core::testing {

inline pn_bytes_t b(std::string_view s) {
  return pn_bytes(s.size(), s.data());
}

/// Calls `fill` on a fresh pn_message_t and returns its encoding.
inline std::vector<std::byte> encode(const std::function<void(pn_message_t*)>& fill) {
  pn_message_t* m = pn_message();
  fill(m);
  std::vector<std::byte> out(1 << 20);
  std::size_t size = out.size();
  const int rc = pn_message_encode(m, reinterpret_cast<char*>(out.data()), &size);
  pn_message_free(m);
  out.resize(rc == 0 ? size : 0);
  return out;
}

/// Puts a map of string keys (symbols when `symbols`) to string values into `data`.
inline void put_string_map(pn_data_t* data,
                           std::initializer_list<std::pair<std::string_view, std::string_view>> kv,
                           bool symbols = false) {
  pn_data_put_map(data);
  pn_data_enter(data);
  for (const auto& [k, v] : kv) {
    if (symbols) {
      pn_data_put_symbol(data, b(k));
    } else {
      pn_data_put_string(data, b(k));
    }
    pn_data_put_string(data, b(v));
  }
  pn_data_exit(data);
}

/// A data-section body, as Node and the C SDK send telemetry.
inline void set_data_body(pn_message_t* m, std::string_view body) {
  pn_data_put_binary(pn_message_body(m), b(body));
  pn_message_set_inferred(m, true);
}

}  // namespace edgehub::amqp_core::testing
