// The file helpers under the pki module: atomic writes with modes, bounded reads with distinct
// errors, key-permission refusals, file:// URIs.

#include "pki/files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "edgehub/pki/errors.hpp"
#include "pki/uri.hpp"
#include "support/pki/test_pki.hpp"

namespace edgehub::pki {
namespace {

using ::testing::HasSubstr;

int mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return static_cast<int>(st.st_mode & 0777);
}

TEST(WriteAtomic, WritesContentAndModeAndLeavesNoTemporaryFiles) {
  test::TempDir dir;
  const auto file = dir.path() / "key.pem";
  std::string why;
  ASSERT_TRUE(files::write_atomic(file, "first", 0600, why)) << why;
  EXPECT_EQ(test::read_file(file), "first");
  EXPECT_EQ(mode_of(file), 0600);
  ASSERT_TRUE(files::write_atomic(file, "second", 0644, why)) << why;
  EXPECT_EQ(test::read_file(file), "second");
  EXPECT_EQ(mode_of(file), 0644);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path()))
    ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST(WriteAtomic, MissingDirectoryIsWriteFailedNamingThePath) {
  test::TempDir dir;
  std::string why;
  auto r = files::write_atomic(dir.path() / "no" / "such" / "f.pem", "x", 0644, why);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(Errc::write_failed));
  EXPECT_THAT(why, HasSubstr("f.pem"));
}

TEST(EnsureDirectory, CreatesParentsWithMode) {
  test::TempDir dir;
  std::string why;
  ASSERT_TRUE(files::ensure_directory(dir.path() / "a" / "b", 0700, why)) << why;
  EXPECT_EQ(mode_of(dir.path() / "a" / "b"), 0700);
  EXPECT_TRUE(files::ensure_directory(dir.path() / "a" / "b", 0700, why));  // idempotent
}

TEST(ReadPemFile, DistinguishesMissingUnreadableAndTooLarge) {
  test::TempDir dir;
  std::string why;
  EXPECT_EQ(files::read_pem_file(dir.path() / "none", why).error(),
            make_error_code(Errc::file_not_found));
  EXPECT_EQ(files::read_pem_file(dir.path(), why).error(), make_error_code(Errc::file_unreadable));
  test::write_file(dir.path() / "big", std::string(files::kMaxPemFileBytes + 1, 'x'));
  EXPECT_EQ(files::read_pem_file(dir.path() / "big", why).error(),
            make_error_code(Errc::file_too_large));
  test::write_file(dir.path() / "ok", "content");
  auto ok = files::read_pem_file(dir.path() / "ok", why);
  ASSERT_TRUE(ok) << why;
  EXPECT_EQ(*ok, "content");
}

TEST(CheckKeyPermissions, RefusesAnyGroupOrOtherBit) {
  test::TempDir dir;
  const auto key = dir.path() / "k.pem";
  test::write_file(key, "k", std::filesystem::perms(0600));
  std::string why;
  EXPECT_TRUE(files::check_key_permissions(key, why));
  test::write_file(key, "k", std::filesystem::perms(0400));
  EXPECT_TRUE(files::check_key_permissions(key, why));
  for (int mode : {0640, 0604, 0620, 0602, 0660}) {
    test::write_file(key, "k", std::filesystem::perms(mode));
    auto r = files::check_key_permissions(key, why);
    ASSERT_FALSE(r) << mode;
    EXPECT_EQ(r.error(), make_error_code(Errc::key_file_permissions));
    EXPECT_THAT(why, HasSubstr("chmod 600 " + key.string()));
  }
}

TEST(FileUri, PercentEncodesAndIsAbsolute) {
  EXPECT_EQ(file_uri("/var/aziot/certs/a.pem"), "file:///var/aziot/certs/a.pem");
  EXPECT_EQ(file_uri("/tmp/with space/%.pem"), "file:///tmp/with%20space/%25.pem");
  EXPECT_EQ(file_uri("rel.pem"),
            "file://" + (std::filesystem::current_path() / "rel.pem").string());
}

}  // namespace
}  // namespace edgehub::pki
