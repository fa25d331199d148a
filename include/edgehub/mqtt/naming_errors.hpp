#pragma once

// Errors of the IoT Hub naming layer (user names, topics, property bags). The session turns them
// into wire reactions through mqtt_proto::wire_reaction: at CONNECT they arrive as errors of a
// foreign category and therefore become CONNACK 0x05, as IoT Hub answers a bad user name.

#include <boost/system/error_code.hpp>
#include <type_traits>

namespace edgehub::mqtt {

enum class NamingErrc {
  invalid_username = 1,  ///< not {host}/{device}[/{module}][/?query] with non-empty parts
  client_id_mismatch,    ///< the CONNECT client id is not the user name's {d} or {d}/{m}
  invalid_property_bag,  ///< bad %-escape, empty name, or a name/value that is not UTF-8
  not_telemetry,         ///< a telemetry message was asked of a topic that is not telemetry
};

const boost::system::error_category& naming_category() noexcept;

inline boost::system::error_code make_error_code(NamingErrc e) noexcept {
  return {static_cast<int>(e), naming_category()};
}

}  // namespace edgehub::mqtt

template <>
struct boost::system::is_error_code_enum<edgehub::mqtt::NamingErrc> : std::true_type {};
