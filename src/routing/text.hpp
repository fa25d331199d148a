#pragma once

// Text helpers that reproduce .NET string behaviour where the route language exposes it: string
// literal unescaping, double.TryParse(NumberStyles.Any, InvariantCulture), and UTF-16 code unit
// positions for length()/substring()/index_of().

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace edgehub::routing::detail {

/// The contents of a string literal (without quotes) after edgeHub's two unescape passes:
/// first \uXXXX (either 'u' case), then \" \' \\.
std::string unescape_literal(std::string_view inner);

/// double.TryParse(s, NumberStyles.Any, CultureInfo.InvariantCulture): surrounding white space,
/// leading or trailing sign, parentheses for negatives, ',' group separators in the integer part,
/// decimal point, exponent, "Infinity"/"NaN" symbols. Out-of-range values become +-infinity.
std::optional<double> parse_dotnet_double(std::string_view s) noexcept;

/// Number of UTF-16 code units of UTF-8 text (invalid bytes count as one unit each).
std::size_t utf16_length(std::string_view s) noexcept;

/// Byte offset of UTF-16 unit index `units`; nullopt when past the end or inside a surrogate pair.
std::optional<std::size_t> utf16_to_byte(std::string_view s, std::size_t units) noexcept;

/// Appends code point `cp` as UTF-8.
void append_utf8(std::string& out, char32_t cp);

/// Converts little-endian UTF-16 / UTF-32 bytes to UTF-8 (invalid sequences become U+FFFD), as
/// .NET's Encoding.Unicode / Encoding.UTF32 GetString do.
void utf16le_to_utf8(std::string_view bytes, std::string& out);
void utf32le_to_utf8(std::string_view bytes, std::string& out);

}  // namespace edgehub::routing::detail
