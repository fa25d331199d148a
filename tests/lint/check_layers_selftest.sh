#!/usr/bin/env bash
# The layering lint must catch what it claims to: an upward include, a same-layer include and a
# third-party header in the wrong module each make it fail.
set -uo pipefail
lint=${1:?check_layers.sh}
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/src/store" "$tree/src/routing" "$tree/src/core" "$tree/include/edgehub"
printf '#include "edgehub/hub/ingress.hpp"\n' >"$tree/src/store/up.cpp"
printf '#include "edgehub/store/message_store.hpp"\n' >"$tree/src/routing/sideways.cpp"
printf '#include <sqlite3.h>\n' >"$tree/src/core/db.cpp"
out=$("$lint" "$tree")
status=$?
[[ $status -ne 0 ]] || { echo "lint passed a bad tree"; exit 1; }
for expect in "store (L2) must not include hub" "routing (L2) must not include store" \
              "<sqlite3.h> belongs in store"; do
  grep -qF "$expect" <<<"$out" || { echo "missing violation: $expect"; echo "$out"; exit 1; }
done
echo "check_layers self-test: ok"
