#pragma once

#include <filesystem>

namespace edgehub::testing {

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
/// Short paths on purpose: AF_UNIX socket paths are limited to 107 bytes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& p) const { return path_ / p; }

 private:
  std::filesystem::path path_;
};

}  // namespace edgehub::testing
