#include "pki/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "edgehub/pki/errors.hpp"

namespace edgehub::pki::files {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

std::string errno_text(int err) {
  return std::strerror(err);
}

}  // namespace

core::Result<std::string> read_pem_file(const std::filesystem::path& path, std::string& why) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      why = path.string() + ": file not found";
      return Errc::file_not_found;
    }
    why = path.string() + ": cannot be read (" + errno_text(err) + ")";
    return Errc::file_unreadable;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    why = path.string() + ": not a regular file";
    return Errc::file_unreadable;
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxPemFileBytes) {
    why = path.string() + ": " + std::to_string(st.st_size) + " bytes, larger than any PEM " +
          "certificate chain or key (limit " + std::to_string(kMaxPemFileBytes) + ")";
    return Errc::file_too_large;
  }
  std::string content;
  std::vector<char> buf(16 * 1024);
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      why = path.string() + ": cannot be read (" + errno_text(errno) + ")";
      return Errc::file_unreadable;
    }
    if (n == 0) break;
    content.append(buf.data(), static_cast<std::size_t>(n));
    if (content.size() > kMaxPemFileBytes) {
      why = path.string() + ": larger than any PEM certificate chain or key";
      return Errc::file_too_large;
    }
  }
  return content;
}

core::Result<void> write_atomic(const std::filesystem::path& path, std::string_view content,
                                mode_t mode, std::string& why) {
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string tmpl = (dir / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
  Fd fd(::mkstemp(tmpl.data()));
  if (fd.get() < 0) {
    why = path.string() + ": cannot create a temporary file in " + dir.string() + " (" +
          errno_text(errno) + ")";
    return Errc::write_failed;
  }
  auto fail = [&](const char* step) -> core::Result<void> {
    why = path.string() + ": " + step + " failed (" + errno_text(errno) + ")";
    ::unlink(tmpl.c_str());
    return Errc::write_failed;
  };
  // mkstemp creates 0600; set the final mode before any content is written.
  if (::fchmod(fd.get(), mode) != 0) return fail("chmod");
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail("fsync");
  if (::close(fd.release()) != 0) return fail("close");
  if (::rename(tmpl.c_str(), path.c_str()) != 0) return fail("rename");
  // The rename is durable only once the directory entry is.
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() >= 0) ::fsync(dir_fd.get());
  return {};
}

core::Result<void> ensure_directory(const std::filesystem::path& dir, mode_t mode,
                                    std::string& why) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return {};
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    if (auto parent = ensure_directory(dir.parent_path(), 0755, why); !parent) return parent;
  }
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    why = dir.string() + ": cannot create directory (" + errno_text(errno) + ")";
    return Errc::write_failed;
  }
  return {};
}

int permission_bits(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

core::Result<void> check_key_permissions(const std::filesystem::path& path, std::string& why) {
  const int mode = permission_bits(path);
  if (mode >= 0 && (mode & 077) != 0) {
    char octal[16];
    std::snprintf(octal, sizeof octal, "%04o", mode);
    why = path.string() + ": private key has mode " + octal +
          " and is accessible by group or others; run: chmod 600 " + path.string();
    return Errc::key_file_permissions;
  }
  return {};
}

}  // namespace edgehub::pki::files
