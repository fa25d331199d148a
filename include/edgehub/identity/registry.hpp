#pragma once

// The local identity registry (design.md §4): which devices and modules may connect, with which
// credentials. Loaded from the identities TOML file into an immutable Snapshot; reload() builds a
// new snapshot and swaps it (SIGHUP), reporting whom the change revokes so that the daemon can
// close their connections.
//
// File format (docs/identities.md):
//   [[device]] id, auth = "sas" | "x509_thumbprint" | "x509_ca" (default "sas"),
//              primary_key / secondary_key (base64, sas), primary_thumbprint /
//              secondary_thumbprint (hex SHA-1 or SHA-256, x509_thumbprint),
//              enabled = true|false or status = "enabled"|"disabled",
//              edge_device = true|false (a child gateway; default false),
//              parent = "child-gateway-id" (the device sits behind that child gateway)
//   [[module]] id, primary_key, secondary_key, enabled/status: modules of the gateway's own
//              device id; SAS only.

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "edgehub/core/client_id.hpp"
#include "edgehub/identity/keys.hpp"

namespace edgehub::identity {

/// Longest device or module id IoT Hub accepts.
inline constexpr std::size_t kMaxIdLength = 128;

enum class AuthType { sas, x509_thumbprint, x509_ca };

/// "sas", "x509_thumbprint", "x509_ca": the file's spelling.
std::string_view to_string(AuthType auth) noexcept;

/// Whether `id` is a usable device or module id: 1-128 characters from IoT Hub's set
/// (A-Z a-z 0-9 - : . + % _ # * ? ! ( ) , = ; $ ').
bool is_valid_id(std::string_view id) noexcept;

/// One registered identity. Keys are secrets: never log an Identity.
struct Identity {
  core::ClientId id;
  AuthType auth = AuthType::sas;
  bool enabled = true;
  std::vector<Bytes> keys;         ///< sas: primary then optional secondary, base64-decoded
  std::vector<Bytes> thumbprints;  ///< x509_thumbprint: primary then optional secondary
  int line = 0;                    ///< line of its [[device]] / [[module]] header
  /// A child gateway (an IoT Edge device nested below this one): may read the device scope
  /// through the HTTPS nested-scope API. Devices only.
  bool edge_device = false;
  /// The id of the child gateway this device sits behind (its device scope); empty: this
  /// gateway's own scope.
  std::string parent;

  bool same_credentials(const Identity& other) const noexcept {
    return auth == other.auth && keys == other.keys && thumbprints == other.thumbprints;
  }
};

/// A problem found in the identities file, with its place.
struct RegistryIssue {
  std::filesystem::path file;
  int line = 0;     ///< 1-based; 0 when the problem has no single line (file mode, missing file)
  std::string key;  ///< e.g. "device[2].primary_key"; empty for whole-file problems
  std::string reason;

  /// "FILE:LINE: KEY: reason" (LINE and KEY omitted when absent).
  std::string to_string() const;
};

/// An immutable set of identities. Safe to share across threads.
class Snapshot {
 public:
  Snapshot() = default;
  explicit Snapshot(std::vector<Identity> identities);

  /// nullptr when absent.
  const Identity* find(const core::ClientId& id) const noexcept;
  /// In file order: devices, then modules, as declared.
  const std::vector<Identity>& identities() const noexcept { return identities_; }

 private:
  std::vector<Identity> identities_;
  std::unordered_map<core::ClientId, std::size_t, core::ClientIdHash> index_;
};

/// Parses identities text. Modules become {gateway_device_id, module id}. Every problem is
/// appended to `issues`; returns a snapshot only when there is none. Never throws.
std::optional<Snapshot> parse_identities(std::string_view text, const std::filesystem::path& file,
                                         std::string_view gateway_device_id,
                                         std::vector<RegistryIssue>& issues);

/// The file-mode rule: a registry file readable or writable by group or others is refused, with
/// the `chmod 600 FILE` fix in the reason. nullopt when the mode is acceptable.
std::optional<RegistryIssue> check_file_mode(const std::filesystem::path& file);

/// check_file_mode + read + parse_identities.
std::optional<Snapshot> load_identities(const std::filesystem::path& file,
                                        std::string_view gateway_device_id,
                                        std::vector<RegistryIssue>& issues);

/// The lookup seam the Authenticator uses (design.md P6): the local registry implements it; an
/// IoT Hub device-scope cache can later implement it too. Thread-safe.
class KeyLookup {
 public:
  virtual ~KeyLookup() = default;
  /// The identity, kept alive by the returned pointer even across a reload; nullptr if absent.
  virtual std::shared_ptr<const Identity> find(const core::ClientId& id) const = 0;
};

/// Why a reload takes an identity's existing connections away.
enum class RevokeReason { removed, disabled, credentials_changed };

/// "removed", "disabled" or "has new credentials": what a log line says of the identity.
std::string_view describe(RevokeReason reason) noexcept;

struct Revocation {
  core::ClientId id;
  RevokeReason reason;
  friend bool operator==(const Revocation&, const Revocation&) = default;
};

/// Identities that were usable in `before` and are not, or not with the same credentials, in
/// `after`. Sorted by id.
std::vector<Revocation> revocations(const Snapshot& before, const Snapshot& after);

/// The registry behind the Authenticator: a file, and the current snapshot.
/// Thread-safe: find()/snapshot() may run on any thread concurrently with reload().
class Registry final : public KeyLookup {
 public:
  /// Starts empty; call load(). An empty `file` path means "no identities file": load() then
  /// succeeds with an empty snapshot.
  Registry(std::filesystem::path file, std::string gateway_device_id);

  /// Reads the file at start-up. False (with issues) when it cannot be used; the snapshot then
  /// stays as it was.
  bool load(std::vector<RegistryIssue>& issues);

  /// Re-reads the file. On success swaps the snapshot and returns the revocations; on failure
  /// keeps the current snapshot (an operator's typo must not lock every device out) and returns
  /// nullopt with issues.
  std::optional<std::vector<Revocation>> reload(std::vector<RegistryIssue>& issues);

  std::shared_ptr<const Snapshot> snapshot() const;
  const std::filesystem::path& file() const noexcept { return file_; }

  // Implements edgehub::identity::KeyLookup
  std::shared_ptr<const Identity> find(const core::ClientId& id) const override;

 private:
  std::optional<Snapshot> read(std::vector<RegistryIssue>& issues) const;

  const std::filesystem::path file_;
  const std::string gateway_device_id_;
  mutable std::mutex mutex_;  ///< guards the pointer swap only; snapshots are immutable
  std::shared_ptr<const Snapshot> snapshot_;
};

}  // namespace edgehub::identity
