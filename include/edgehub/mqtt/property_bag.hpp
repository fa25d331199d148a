#pragma once

// The MQTT property bag (iot-hub-protocol.md §2.3, §6): `name=value` pairs joined by '&' in the
// last topic segment of telemetry, C2D and module-input topics, mapped to and from core::Message.
//
// Decoding (device → gateway), tolerant of every SDK:
//  - names and values are %-decoded; '$' arrives literal (Java, docs) or as %24 (Node, C SDK);
//  - '+' decodes to a space in names and values, as Java's URLEncoder sends a space. Node and the
//    C SDK's helpers send '+' as %2B, so a literal '+' can only mean a space;
//  - `name` alone is a null value, `name=` an empty string; empty pairs ("a=1&&b=2") are skipped;
//  - system keys $.mid $.cid $.uid $.to $.exp $.ct $.ce $.ctime $.on $.ifid $.sub $.schema,
//    iothub-ack and iothub-operation (names compared case-insensitively) set core::SystemProperty
//    values; a null system key is ignored;
//  - $.cdid and $.cmid are dropped: the gateway stamps the connection's identity itself;
//  - everything else is an application property, kept in order (a repeated name: the last wins).
//  Refused (NamingErrc::invalid_property_bag): a bad %-escape, an empty name, or a decoded name or
//  value that is not valid UTF-8 (or holds U+0000).
//
// Encoding (gateway → device): only application properties, the user-settable system properties
// $.mid $.cid $.uid $.to $.exp $.ct $.ce and iothub-ack — plus $.cdid/$.cmid of the origin for a
// module input, as edgeHub sends them. '$' is written %24; everything outside A–Z a–z 0–9 - . _ ~
// is %-encoded (so '/' in values is %2F and a space %20, as the Node SDK's parser needs).

#include <optional>
#include <string>
#include <string_view>

#include "edgehub/core/message.hpp"
#include "edgehub/core/result.hpp"
#include "edgehub/mqtt/naming_errors.hpp"

namespace edgehub::mqtt {

/// Decodes `bag` into `message`'s system and application properties (other fields untouched).
/// On error `message` may hold the properties decoded before the bad pair.
core::Result<void> decode_property_bag(std::string_view bag, core::Message& message);

enum class BagTarget {
  device,        ///< C2D to a device (or a module's devicebound)
  module_input,  ///< a module input: adds $.cdid / $.cmid of the message's origin
};

std::string encode_property_bag(const core::Message& message, BagTarget target);

/// %XX-encodes every byte outside A–Z a–z 0–9 - . _ ~ (upper-case hex).
std::string percent_encode(std::string_view text);
/// Decodes %XX escapes (and '+' as a space when `plus_is_space`); nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace edgehub::mqtt
