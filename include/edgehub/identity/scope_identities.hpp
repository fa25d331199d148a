#pragma once

// The identities synchronised from IoT Hub's (or a parent gateway's) device-scope API
// (edgehub-reference.md §2.4): a KeyLookup over a snapshot that the synchroniser replaces after
// each complete sync. Keys are secrets: never log an Identity.
//
// A replace() that takes an identity away (removed from the scope, disabled, new credentials)
// reports it to the on_revoked observer, so that its open connections can be closed as after an
// identities-file reload.
//
// Thread-safe: find() may run on any thread concurrently with replace().

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "edgehub/identity/registry.hpp"

namespace edgehub::identity {

class ScopeIdentities final : public KeyLookup {
 public:
  using RevokedFn = std::function<void(const std::vector<Revocation>&)>;

  /// Called after each replace() that revokes someone, on replace()'s thread, outside the lock.
  /// Set before the synchroniser starts.
  void on_revoked(RevokedFn observer);

  /// Swaps in a complete scope (a partial page set never replaces a good one); returns whom the
  /// change revokes (identity::revocations).
  std::vector<Revocation> replace(Snapshot scope);

  std::shared_ptr<const Snapshot> snapshot() const;
  std::size_t size() const;

  // Implements edgehub::identity::KeyLookup
  std::shared_ptr<const Identity> find(const core::ClientId& id) const override;

 private:
  mutable std::mutex mutex_;  ///< guards the pointer swap only; snapshots are immutable
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<const Snapshot>();
  RevokedFn on_revoked_;
};

}  // namespace edgehub::identity
