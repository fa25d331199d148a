#include "edgehub/identity/scope_identities.hpp"

namespace edgehub::identity {

void ScopeIdentities::replace(Snapshot scope) {
  auto next = std::make_shared<const Snapshot>(std::move(scope));
  std::lock_guard lock(mutex_);
  snapshot_ = std::move(next);
}

std::shared_ptr<const Snapshot> ScopeIdentities::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

std::size_t ScopeIdentities::size() const {
  return snapshot()->identities().size();
}

std::shared_ptr<const Identity> ScopeIdentities::find(const core::ClientId& id) const {
  auto current = snapshot();
  const Identity* found = current->find(id);
  if (!found) return nullptr;
  // Aliasing constructor: the identity keeps its snapshot alive across a replace().
  return std::shared_ptr<const Identity>(std::move(current), found);
}

}  // namespace edgehub::identity
