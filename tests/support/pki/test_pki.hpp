#pragma once

// Throw-away PKIs for tests of any module (identity, net, app, integration): the demo PKI
// generator (pki/demo.hpp) run into a temporary directory that is removed with the object.
//
//   auto pki = edgehub::test::make_test_pki_for({"dev1"});   // or make_test_pki(TestPkiOptions)
//   pki.files.root_cert, pki.files.edge_ca_full_chain, pki.files.edge_ca_key,
//   pki.files.devices[0].cert / .key / .selfsigned_cert / .sha1_thumbprint ...
//
// Failures throw std::runtime_error (GoogleTest reports it as a test failure): this is test code.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "edgehub/pki/certificate.hpp"
#include "edgehub/pki/demo.hpp"

namespace edgehub::test {

/// A fresh directory under $TMPDIR (or /tmp), removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct TestPkiOptions {
  std::string edge_name = "gateway";
  std::vector<std::string> devices;
  pki::KeyAlgorithm algorithm = pki::KeyAlgorithm::ec_p256;
  /// Default: the real time now, so OpenSSL-based tools (s_client, openssl verify) accept it.
  std::optional<pki::SystemTime> now;
  std::chrono::seconds validity = std::chrono::hours(24 * 30);
  std::vector<std::string> expired_devices;
};

struct TestPki {
  TempDir dir;
  pki::DemoPki files;
};

TestPki make_test_pki(const TestPkiOptions& options = TestPkiOptions{});

/// Defaults (EC P-256, valid 30 days from the real now) with these devices.
TestPki make_test_pki_for(std::vector<std::string> devices);

/// Whole file as a string; throws when it cannot be read.
std::string read_file(const std::filesystem::path& path);

/// Writes (truncating) and chmods; creates parent directories. Throws on failure.
void write_file(const std::filesystem::path& path, const std::string& content,
                std::filesystem::perms mode = std::filesystem::perms(0644));

}  // namespace edgehub::test
