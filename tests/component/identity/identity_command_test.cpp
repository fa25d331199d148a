// `edgehubctl identity` run as a binary on temporary files: what it writes, what it prints, and
// that the printed connection string's key authenticates through the real Authenticator.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>

#include "edgehub/config/parse.hpp"
#include "edgehub/identity/authenticator.hpp"
#include "temp_dir.hpp"
#include "unit/identity/fake_clock.hpp"

namespace edgehub::identity {
namespace {

using core::ClientId;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

const std::string kCtl = std::string(EDGEHUB_BINARY_DIR) + "/src/app/edgehubctl";

struct CtlRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class IdentityCommandTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.path().empty()); }

  // Runs edgehubctl with `args` (already shell-safe: test-controlled paths and words only).
  CtlRun ctl(const std::string& args) {
    const auto out = dir_.path() / "stdout";
    const auto err = dir_.path() / "stderr";
    const std::string command =
        "'" + kCtl + "' " + args + " >'" + out.string() + "' 2>'" + err.string() + "'";
    const int status = std::system(command.c_str());
    CtlRun run;
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.out = test::read_file(out);
    run.err = test::read_file(err);
    return run;
  }

  std::string file_arg() const { return "--file '" + ids_.string() + "'"; }

  // Connection-string fields (split at the first '=' of each ';'-separated pair).
  static std::map<std::string, std::string> fields(std::string text) {
    while (!text.empty() && text.back() == '\n')
      text.pop_back();
    std::map<std::string, std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
      const auto semi = text.find(';', start);
      const auto pair = text.substr(start, semi == std::string::npos ? semi : semi - start);
      const auto eq = pair.find('=');
      if (eq != std::string::npos) out[pair.substr(0, eq)] = pair.substr(eq + 1);
      if (semi == std::string::npos) break;
      start = semi + 1;
    }
    return out;
  }

  // Authenticates `claimed` with a token minted from `key`, against the file as the daemon
  // would load it.
  core::Result<AuthenticatedIdentity> authenticate(const ClientId& claimed, const std::string& key,
                                                   const std::string& gateway_device = "gw-edge") {
    Registry registry(ids_, gateway_device);
    std::vector<RegistryIssue> issues;
    EXPECT_TRUE(registry.load(issues)) << (issues.empty() ? "" : issues[0].to_string());
    test::FakeClock clock(test::kT0);
    ops::Registry metrics;
    Authenticator authenticator({"myhub.azure-devices.net", "gw.local", std::nullopt}, registry,
                                nullptr, clock, metrics);
    std::string resource = "myhub.azure-devices.net/devices/" + claimed.device;
    if (claimed.is_module()) resource += "/modules/" + claimed.module;
    auto token =
        make_sas_token(resource, key, core::SystemTime{std::chrono::seconds{test::kT0 + 3600}});
    if (!token) return token.error();
    return authenticator.authenticate(claimed, SasCredential{*token});
  }

  test::TempDir dir_;
  std::filesystem::path ids_ = dir_.path() / "identities.toml";
  const std::string hosts_ = "--hub myhub.azure-devices.net --gateway gw.local";
};

TEST_F(IdentityCommandTest, AddSasDeviceWritesAPrivateFileAndAWorkingConnectionString) {
  const CtlRun run = ctl("identity add sensor-1 " + file_arg() + " " + hosts_);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(test::file_mode(ids_), 0600u);
  EXPECT_THAT(run.out,
              MatchesRegex("HostName=myhub\\.azure-devices\\.net;DeviceId=sensor-1;"
                           "SharedAccessKey=[A-Za-z0-9+/]{43}=;GatewayHostName=gw\\.local\n"));
  const auto cs = fields(run.out);
  // The gateway's own connection-string parser reads it the same way a device SDK would.
  auto parsed = config::parse_device_connection_string(run.out.substr(0, run.out.size() - 1));
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->host_name, "myhub.azure-devices.net");
  EXPECT_EQ(parsed->device_id, "sensor-1");
  EXPECT_EQ(parsed->shared_access_key, cs.at("SharedAccessKey"));
  EXPECT_EQ(parsed->gateway_host_name, "gw.local");
  auto result = authenticate({"sensor-1", ""}, cs.at("SharedAccessKey"));
  ASSERT_TRUE(result) << result.error().message();
  EXPECT_EQ(result->id, (ClientId{"sensor-1", ""}));
  // The secondary key exists and differs from the primary.
  std::vector<RegistryIssue> issues;
  auto snapshot = load_identities(ids_, "gw-edge", issues);
  ASSERT_TRUE(snapshot);
  const auto* entry = snapshot->find({"sensor-1", ""});
  ASSERT_NE(entry, nullptr);
  ASSERT_EQ(entry->keys.size(), 2u);
  EXPECT_NE(entry->keys[0], entry->keys[1]);
}

TEST_F(IdentityCommandTest, AddModulePrintsModuleIdAndAuthenticates) {
  const CtlRun run =
      ctl("identity add filter --module --edge-device gw-edge " + file_arg() + " " + hosts_);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto cs = fields(run.out);
  EXPECT_EQ(cs.at("HostName"), "myhub.azure-devices.net");
  EXPECT_EQ(cs.at("DeviceId"), "gw-edge");
  EXPECT_EQ(cs.at("ModuleId"), "filter");
  EXPECT_EQ(cs.at("GatewayHostName"), "gw.local");
  EXPECT_TRUE(authenticate({"gw-edge", "filter"}, cs.at("SharedAccessKey")));
  EXPECT_FALSE(authenticate({"other", "filter"}, cs.at("SharedAccessKey")));
}

TEST_F(IdentityCommandTest, AddX509DevicesNameTheGatewayAsHostName) {
  const std::string thumb = "01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67";
  CtlRun run = ctl("identity add camera --x509-thumbprint " + thumb + " " + file_arg() +
                   " --gateway gw.local");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "HostName=gw.local;DeviceId=camera;x509=true\n");
  run = ctl("identity add door --x509-ca " + file_arg() + " --gateway gw.local");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "HostName=gw.local;DeviceId=door;x509=true\n");

  std::vector<RegistryIssue> issues;
  auto snapshot = load_identities(ids_, "gw-edge", issues);
  ASSERT_TRUE(snapshot);
  const auto* camera = snapshot->find({"camera", ""});
  ASSERT_NE(camera, nullptr);
  EXPECT_EQ(camera->auth, AuthType::x509_thumbprint);
  EXPECT_EQ(camera->thumbprints.at(0), *parse_thumbprint(thumb));
  EXPECT_EQ(snapshot->find({"door", ""})->auth, AuthType::x509_ca);
}

TEST_F(IdentityCommandTest, ListShowsIdentitiesButNeverKeys) {
  const CtlRun added = ctl("identity add sensor-1 " + file_arg() + " " + hosts_);
  ASSERT_EQ(added.exit_code, 0);
  ASSERT_EQ(ctl("identity add door --x509-ca " + file_arg() + " --gateway gw.local").exit_code, 0);
  ASSERT_EQ(ctl("identity add filter --module --edge-device gw-edge " + file_arg() + " " + hosts_)
                .exit_code,
            0);
  const CtlRun run = ctl("identity list " + file_arg());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, MatchesRegex("ID +KIND +AUTH +STATUS\n"
                                    "sensor-1 +device +sas +enabled\n"
                                    "door +device +x509_ca +enabled\n"
                                    "filter +module +sas +enabled\n"));
  EXPECT_THAT(run.out, Not(HasSubstr(fields(added.out).at("SharedAccessKey"))));
  EXPECT_THAT(run.out + run.err, Not(HasSubstr("key")));
}

TEST_F(IdentityCommandTest, RemoveKeepsTheRestOfTheFile) {
  const std::string key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
  dir_.write("identities.toml",
             "# site identities, maintained by hand\n"
             "[[device]]\nid = \"a\"\nprimary_key = \"" +
                 key +
                 "\"\n\n"
                 "[[device]]\nid = \"b\"\nauth = \"x509_ca\"\nenabled = false\n\n"
                 "# the filter module\n[[module]]\nid = \"b\"\nprimary_key = \"" +
                 key + "\"\n");
  CtlRun run = ctl("identity remove b " + file_arg());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(test::file_mode(ids_), 0600u);
  const std::string text = test::read_file(ids_);
  EXPECT_THAT(text, HasSubstr("# site identities, maintained by hand\n"));
  EXPECT_THAT(text, HasSubstr("# the filter module\n[[module]]\nid = \"b\""));
  EXPECT_THAT(text, Not(HasSubstr("x509_ca")));

  run = ctl("identity remove b " + file_arg());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("no device 'b'"));

  run = ctl("identity remove b --module " + file_arg());
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<RegistryIssue> issues;
  auto snapshot = load_identities(ids_, "gw", issues);
  ASSERT_TRUE(snapshot);
  ASSERT_EQ(snapshot->identities().size(), 1u);
  EXPECT_EQ(snapshot->identities()[0].id, (ClientId{"a", ""}));
}

TEST_F(IdentityCommandTest, AddTightensAGroupReadableFile) {
  dir_.write("identities.toml", "# empty\n", 0644);
  const CtlRun run = ctl("identity add sensor-1 " + file_arg() + " " + hosts_);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(test::file_mode(ids_), 0600u);
  EXPECT_THAT(run.err, HasSubstr("was mode 0644; it is now 0600"));
}

TEST_F(IdentityCommandTest, OwnershipFollowsTheDirectoryForNewFilesAndIsKeptOnEdits) {
  // Only root can give files away; as another user everything stays the caller's.
  using Owner = std::pair<uid_t, gid_t>;
  const bool root = ::geteuid() == 0;
  const Owner self{::geteuid(), ::getegid()};
  const auto service_dir = dir_.path() / "svc";
  std::filesystem::create_directory(service_dir);
  if (root) {
    ASSERT_EQ(::chown(service_dir.c_str(), 4242, 4243), 0);
  }
  const auto file = service_dir / "identities.toml";
  const auto owner = [&] {
    struct stat st {};
    ::stat(file.c_str(), &st);
    return Owner{st.st_uid, st.st_gid};
  };
  CtlRun run = ctl("identity add a --file '" + file.string() + "' " + hosts_);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const Owner created = root ? Owner{4242, 4243} : self;
  EXPECT_EQ(owner(), created);
  if (root) {
    ASSERT_EQ(::chown(file.c_str(), 4244, 4245), 0);
  }
  run = ctl("identity add b --file '" + file.string() + "' " + hosts_);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const Owner kept = root ? Owner{4244, 4245} : self;
  EXPECT_EQ(owner(), kept);
  EXPECT_EQ(test::file_mode(file), 0600u);
}

TEST_F(IdentityCommandTest, MissingDirectoryIsReportedWithTheFix) {
  const auto file = dir_.path() / "absent" / "identities.toml";
  const CtlRun run = ctl("identity add a --file '" + file.string() + "' " + hosts_);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("fix: mkdir -p " + (dir_.path() / "absent").string()));
  EXPECT_EQ(run.out, "");
}

TEST_F(IdentityCommandTest, ListReportsAnUnsafeFileMode) {
  dir_.write("identities.toml", "", 0644);
  const CtlRun run = ctl("identity list " + file_arg());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("chmod 600 " + ids_.string()));
}

TEST_F(IdentityCommandTest, DuplicateIsRefusedAndTheFileUnchanged) {
  ASSERT_EQ(ctl("identity add sensor-1 " + file_arg() + " " + hosts_).exit_code, 0);
  const std::string before = test::read_file(ids_);
  const CtlRun run = ctl("identity add sensor-1 " + file_arg() + " " + hosts_);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.err, HasSubstr("already exists"));
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(test::read_file(ids_), before);
}

TEST_F(IdentityCommandTest, BrokenFileIsReportedAndLeftAlone) {
  dir_.write("identities.toml", "[[device]]\nid = \"a\"\nprimary_key = \"x\"\n");
  const std::string before = test::read_file(ids_);
  const CtlRun run = ctl("identity add b " + file_arg() + " " + hosts_);
  EXPECT_EQ(run.exit_code, 78);
  EXPECT_THAT(run.err, HasSubstr(ids_.string() + ":3: device[1].primary_key"));
  EXPECT_EQ(test::read_file(ids_), before);
}

TEST_F(IdentityCommandTest, UsageErrors) {
  const std::vector<std::string> bad = {
      "identity",
      "identity frobnicate",
      "identity add " + file_arg() + " " + hosts_,
      "identity add 'bad id' " + file_arg() + " " + hosts_,
      "identity add m --module --x509-ca " + file_arg() + " " + hosts_,
      "identity add d --x509-ca --x509-thumbprint " + std::string(40, 'a') + " " + file_arg() +
          " --gateway g",
      "identity add d --x509-thumbprint nothex " + file_arg() + " --gateway g",
      "identity add d --bogus " + file_arg() + " " + hosts_,
      "identity add d " + file_arg() + " --hub",
      "identity add d " + file_arg() + " --gateway gw.local --config /nonexistent/config.toml",
  };
  for (const auto& args : bad) {
    const CtlRun run = ctl(args);
    EXPECT_NE(run.exit_code, 0) << args;
    EXPECT_FALSE(run.err.empty()) << args;
  }
  EXPECT_EQ(ctl("identity").exit_code, 64);
  EXPECT_EQ(ctl("identity add 'bad id' " + file_arg() + " " + hosts_).exit_code, 64);
  EXPECT_EQ(ctl("identity add m --module --x509-ca " + file_arg() + " " + hosts_).exit_code, 64);
  EXPECT_EQ(ctl("identity --help").exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(ids_));
}

TEST_F(IdentityCommandTest, IncompleteConfigIsUnusable) {
  const CtlRun run = ctl("identity add d " + file_arg() + " --gateway gw.local --config '" +
                         dir_.write("config.toml", "hostname = \"gw.local\"\n").string() + "'");
  // No device_id / iothub_hostname: the config loader refuses it, and nothing is written.
  EXPECT_EQ(run.exit_code, 78) << run.err;
  EXPECT_FALSE(std::filesystem::exists(ids_));
}

TEST_F(IdentityCommandTest, HostsAndFileComeFromTheConfig) {
  const auto config =
      dir_.write("config.toml",
                 "hostname = \"gw.local\"\n\n[gateway]\ndevice_id = \"gw-edge\"\n"
                 "iothub_hostname = \"myhub.azure-devices.net\"\nidentities = \"file://" +
                     ids_.string() + "\"\n");
  CtlRun run = ctl("identity add filter --module --config '" + config.string() + "'");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto cs = fields(run.out);
  EXPECT_EQ(cs.at("HostName"), "myhub.azure-devices.net");
  EXPECT_EQ(cs.at("DeviceId"), "gw-edge");
  EXPECT_EQ(cs.at("GatewayHostName"), "gw.local");
  EXPECT_TRUE(authenticate({"gw-edge", "filter"}, cs.at("SharedAccessKey")));
  run = ctl("identity list --config '" + config.string() + "'");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("filter"));
}

}  // namespace
}  // namespace edgehub::identity
