#include "edgehub/identity/scope_identities.hpp"

#include <utility>

namespace edgehub::identity {

void ScopeIdentities::on_revoked(RevokedFn observer) {
  on_revoked_ = std::move(observer);
}

std::vector<Revocation> ScopeIdentities::replace(Snapshot scope) {
  auto next = std::make_shared<const Snapshot>(std::move(scope));
  std::shared_ptr<const Snapshot> previous;
  {
    std::lock_guard lock(mutex_);
    previous = std::exchange(snapshot_, next);
  }
  auto revoked = revocations(*previous, *next);
  if (!revoked.empty() && on_revoked_) on_revoked_(revoked);
  return revoked;
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
