#pragma once

// The identities synchronised from IoT Hub's (or a parent gateway's) device-scope API
// (edgehub-reference.md §2.4): a KeyLookup over a snapshot that the synchroniser replaces after
// each complete sync. Keys are secrets: never log an Identity.
//
// Thread-safe: find() may run on any thread concurrently with replace().

#include <cstddef>
#include <memory>
#include <mutex>

#include "edgehub/identity/registry.hpp"

namespace edgehub::identity {

class ScopeIdentities final : public KeyLookup {
 public:
  /// Swaps in a complete scope (a partial page set never replaces a good one).
  void replace(Snapshot scope);

  std::shared_ptr<const Snapshot> snapshot() const;
  std::size_t size() const;

  // Implements edgehub::identity::KeyLookup
  std::shared_ptr<const Identity> find(const core::ClientId& id) const override;

 private:
  mutable std::mutex mutex_;  ///< guards the pointer swap only; snapshots are immutable
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<const Snapshot>();
};

}  // namespace edgehub::identity
