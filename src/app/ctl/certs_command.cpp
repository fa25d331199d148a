// edgehubctl certs demo: a test-only PKI with IoT Edge's demo file names (pki/demo.hpp), and the
// config.toml lines and thumbprints needed to use it.

#include <cstdio>
#include <string>
#include <vector>

#include "app/ctl/commands.hpp"
#include "edgehub/core/clock.hpp"
#include "edgehub/pki/demo.hpp"

namespace edgehub::app::ctl {
namespace {

void print_certs_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: edgehubctl certs demo --dir DIR [--edge-name NAME] [--device ID ...]\n"
               "                             [--rsa] [--days N]\n\n"
               "Generates a test-only PKI in DIR with the IoT Edge demo file names: a root CA,\n"
               "an Edge CA signed by it (with full chain), and for each --device a CA-signed\n"
               "certificate (CN = ID) and a self-signed one for thumbprint authentication.\n"
               "Keys are written 0600, certificates 0644. Prints the config.toml lines to use.\n\n"
               "  --dir DIR         output directory (certs/ and private/ are created in it)\n"
               "  --edge-name NAME  Edge CA name: iot-edge-device-ca-NAME (default: gateway);\n"
               "                    must differ from the gateway's hostname\n"
               "  --device ID       a device certificate pair; repeat for more devices\n"
               "  --rsa             RSA 2048 keys instead of EC P-256\n"
               "  --days N          validity in days (default 365)\n\n"
               "exit codes: 0 generated, 1 generation failed, 64 usage\n");
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "edgehubctl certs: %s\n\n", message.c_str());
  print_certs_usage(stderr);
  return kExitUsage;
}

void print_result(const pki::DemoPki& demo) {
  std::printf("Demo PKI written (TEST ONLY, not for production: the root key is on this disk)\n");
  std::printf("  root CA (give to devices)  %s\n", demo.root_cert.c_str());
  std::printf("  Edge CA full chain         %s\n", demo.edge_ca_full_chain.c_str());
  std::printf("  Edge CA key                %s\n\n", demo.edge_ca_key.c_str());
  std::printf("Paste into config.toml:\n\n%s\n", pki::demo_config_snippet(demo).c_str());
  for (const auto& d : demo.devices) {
    std::printf("device %s\n", d.id.c_str());
    std::printf("  CA-signed cert (x509_ca)             %s\n", d.cert.c_str());
    std::printf("  CA-signed key                        %s\n", d.key.c_str());
    std::printf("  self-signed cert (x509_thumbprint)   %s\n", d.selfsigned_cert.c_str());
    std::printf("  self-signed key                      %s\n", d.selfsigned_key.c_str());
    std::printf("  SHA-1 thumbprint                     %s\n", d.sha1_thumbprint.c_str());
    std::printf("  SHA-256 thumbprint                   %s\n", d.sha256_thumbprint.c_str());
    std::printf("  register: edgehubctl identity add %s --x509-thumbprint %s\n", d.id.c_str(),
                d.sha1_thumbprint.c_str());
    std::printf("        or: edgehubctl identity add %s --x509-ca\n\n", d.id.c_str());
  }
}

int run_demo(Args args) {
  pki::DemoPkiOptions options;
  bool have_dir = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size() || args[i + 1].empty()) return false;
      out = args[++i];
      return true;
    };
    if (a == "--help" || a == "-h") {
      print_certs_usage(stdout);
      return kExitOk;
    }
    std::string v;
    if (a == "--dir") {
      if (!value(v)) return usage_error("--dir needs a DIR");
      options.dir = v;
      have_dir = true;
    } else if (a == "--edge-name") {
      if (!value(v)) return usage_error("--edge-name needs a NAME");
      options.edge_name = v;
    } else if (a == "--device") {
      if (!value(v)) return usage_error("--device needs an ID");
      options.devices.push_back(v);
    } else if (a == "--rsa") {
      options.algorithm = pki::KeyAlgorithm::rsa2048;
    } else if (a == "--days") {
      if (!value(v)) return usage_error("--days needs a number");
      std::size_t used = 0;
      long days = 0;
      try {
        days = std::stol(v, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != v.size() || days < 1 || days > 36500) {
        return usage_error("--days must be a whole number from 1 to 36500");
      }
      options.validity = std::chrono::hours(24) * days;
    } else {
      return usage_error("unknown argument '" + a + "'");
    }
  }
  if (!have_dir) return usage_error("demo needs --dir DIR");
  options.now = core::SystemClock::instance().now();
  std::string why;
  auto demo = pki::generate_demo_pki(options, why);
  if (!demo) {
    std::fprintf(stderr, "edgehubctl certs demo: %s\n", why.c_str());
    return kExitFailure;
  }
  print_result(*demo);
  return kExitOk;
}

}  // namespace

int run_certs(Args args) {
  if (args.empty()) return usage_error("missing subcommand (demo)");
  if (args[0] == "--help" || args[0] == "-h") {
    print_certs_usage(stdout);
    return kExitOk;
  }
  if (args[0] == "demo") return run_demo(args.subspan(1));
  return usage_error("unknown subcommand '" + args[0] + "'");
}

}  // namespace edgehub::app::ctl
