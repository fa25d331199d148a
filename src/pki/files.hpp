#pragma once

// File access for certificates and keys: bounded reads with distinct errors for "missing" and
// "unreadable", and atomic writes (temp file in the same directory, fsync, rename, fsync of the
// directory) so a crash never leaves a half-written key or certificate behind.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "edgehub/core/result.hpp"

namespace edgehub::pki::files {

/// PEM files larger than this are refused: a full chain of a few certificates is a few KiB.
inline constexpr std::size_t kMaxPemFileBytes = 1024 * 1024;

/// Errors: file_not_found, file_unreadable, file_too_large; `why` names the file.
core::Result<std::string> read_pem_file(const std::filesystem::path& path, std::string& why);

/// Writes `content` to `path` with permission `mode`, atomically. Errors: write_failed.
core::Result<void> write_atomic(const std::filesystem::path& path, std::string_view content,
                                mode_t mode, std::string& why);

/// Creates `dir` (and parents) when missing; new directories get `mode`. Errors: write_failed.
core::Result<void> ensure_directory(const std::filesystem::path& dir, mode_t mode,
                                    std::string& why);

/// The permission bits of `path`, or -1 when it cannot be stat()ed.
int permission_bits(const std::filesystem::path& path);

/// A private key must not be readable or writable by group or others (design.md §5).
/// Errors: key_file_permissions, with the chmod fix in `why`.
core::Result<void> check_key_permissions(const std::filesystem::path& path, std::string& why);

}  // namespace edgehub::pki::files
