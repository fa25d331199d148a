#pragma once

// $body queries without building a DOM (reference §3.8). The body is validated once per message
// (edgeHub parses it with JObject.Parse, so anything but one JSON object is unusable), then each
// query walks the text to its path, skipping the subtrees it does not need. Nothing is allocated
// except for strings with escapes, which are unescaped into the evaluation arena.

#include <string>
#include <string_view>

#include "routing/program.hpp"

namespace edgehub::routing::detail {

/// Nesting limit of a body document (Newtonsoft's default MaxDepth); deeper bodies are unusable.
inline constexpr std::size_t kMaxJsonDepth = 64;

/// True when `doc` is exactly one JSON object (RFC 8259), surrounded by optional white space.
bool json_is_object(std::string_view doc) noexcept;

/// The value at `path` in a document json_is_object() accepted: scalars as values, JSON null or
/// a missing member/index as null, objects and arrays as undefined (edgeHub's QueryValue rules).
/// `container`, when given, is set when the value is an object or array (twin_change_includes
/// counts those as present).
Value json_lookup(std::string_view doc, const BodyPath& path, Arena& arena,
                  bool* container = nullptr) noexcept;

/// Parses the text after "$body." (or a twin_change_includes argument): dotted member names, each
/// optionally followed by one [integer] index. Returns false with a reason on bad syntax.
bool parse_body_path(std::string_view text, BodyPath& out, std::string& reason);

}  // namespace edgehub::routing::detail
