#pragma once

#include <filesystem>
#include <string>

namespace edgehub::pki {

/// file:///absolute/path with RFC 3986 percent-encoding of everything but unreserved characters
/// and '/', the form config.toml expects in trust_bundle_cert and [edge_ca].
std::string file_uri(const std::filesystem::path& path);

}  // namespace edgehub::pki
