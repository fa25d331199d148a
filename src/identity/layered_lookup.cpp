#include "edgehub/identity/layered_lookup.hpp"

namespace edgehub::identity {

std::shared_ptr<const Identity> LayeredLookup::find(const core::ClientId& id) const {
  if (auto local = local_.find(id)) return local;
  if (auto scoped = scope_.find(id)) return scoped;
  if (on_miss_) on_miss_(id);
  return nullptr;
}

}  // namespace edgehub::identity
