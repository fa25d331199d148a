#include "support/pki/test_pki.hpp"

#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace edgehub::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      (std::filesystem::path(base != nullptr && *base != '\0' ? base : "/tmp") / "edgehub-XXXXXX")
          .string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed for " + tmpl);
  }
  path_ = tmpl;
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

TestPki make_test_pki(const TestPkiOptions& options) {
  TestPki pki;
  pki::DemoPkiOptions demo;
  demo.dir = pki.dir.path();
  demo.edge_name = options.edge_name;
  demo.devices = options.devices;
  demo.algorithm = options.algorithm;
  demo.now = options.now.value_or(std::chrono::system_clock::now());
  demo.validity = options.validity;
  demo.expired_devices = options.expired_devices;
  std::string why;
  auto files = pki::generate_demo_pki(demo, why);
  if (!files) throw std::runtime_error("generate_demo_pki: " + why);
  pki.files = std::move(*files);
  return pki;
}

TestPki make_test_pki_for(std::vector<std::string> devices) {
  TestPkiOptions options;
  options.devices = std::move(devices);
  return make_test_pki(options);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const std::filesystem::path& path, const std::string& content,
                std::filesystem::perms mode) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + path.string());
    out << content;
  }
  std::filesystem::permissions(path, mode);
}

}  // namespace edgehub::test
