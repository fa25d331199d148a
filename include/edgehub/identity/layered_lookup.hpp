#pragma once

// The KeyLookup the Authenticator uses when the gateway has both a local identities file and a
// device scope synchronised from IoT Hub (docs/identities.md, "Precedence"): the local file
// answers first, the scope only for ids the file does not name. So an operator can override a
// synchronised identity (keys, or enabled = true for one the scope marks disabled), and a
// disabled identity in the scope is refused unless the file has it.
//
// An id neither layer knows calls `on_miss` (the synchroniser's rate-limited refresh trigger);
// it must not block, since find() runs on the I/O threads.

#include <functional>
#include <memory>

#include "edgehub/identity/registry.hpp"

namespace edgehub::identity {

class LayeredLookup final : public KeyLookup {
 public:
  using MissHandler = std::function<void(const core::ClientId&)>;

  /// `local` and `scope` must outlive the lookup.
  LayeredLookup(const KeyLookup& local, const KeyLookup& scope) : local_(local), scope_(scope) {}

  /// Set once, before the lookup is shared with other threads.
  void on_miss(MissHandler handler) { on_miss_ = std::move(handler); }

  // Implements edgehub::identity::KeyLookup
  std::shared_ptr<const Identity> find(const core::ClientId& id) const override;

 private:
  const KeyLookup& local_;
  const KeyLookup& scope_;
  MissHandler on_miss_;
};

}  // namespace edgehub::identity
