#!/usr/bin/env bash
# Enforces design.md §3: module layering (arrows point down only; modules of one layer never
# include each other) and where third-party headers may appear.
# usage: check_layers.sh SOURCE_DIR    (exit 1 and one line per violation)
set -uo pipefail
root=${1:?source dir}
cd "$root"

declare -A layer=(
  [core]=0
  [config]=1 [ops]=1
  [net]=2 [store]=2 [routing]=2 [identity]=2 [mqtt_proto]=2 [amqp_core]=2 [pki]=2
  [hub]=3
  [mqtt]=4 [amqp]=4 [http]=4 [upstream]=4
  [app]=5
)
# Third-party header prefix -> modules allowed to include it (in src/ and include/edgehub/).
declare -A third_party=(
  ["sqlite3.h"]="store"
  ["proton/"]="amqp amqp_core upstream app"  # app: edgehubctl simulate's AMQP client
  ["boost/beast"]="net http"
  ["openssl/"]="net pki identity"
)
# Public headers must not leak these at all (design.md: keep Proton/OpenSSL/SQLite types private).
public_forbidden=("sqlite3.h" "proton/" "openssl/")

violations=0
report() { echo "$1"; violations=$((violations + 1)); }

module_of() {  # path -> module name
  local p=$1
  case $p in
    include/edgehub/*) p=${p#include/edgehub/} ;;
    src/*) p=${p#src/} ;;
  esac
  echo "${p%%/*}"
}

while IFS= read -r file; do
  mod=$(module_of "$file")
  [[ -n ${layer[$mod]+x} ]] || { report "$file: module '$mod' is not in design.md's layer table"; continue; }
  mine=${layer[$mod]}
  while IFS= read -r line; do
    num=${line%%:*}
    inc=$(sed -E 's/^[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<<"$line")
    if [[ $inc == edgehub/* ]]; then
      dep=${inc#edgehub/}; dep=${dep%%/*}
      [[ $dep == "$mod" ]] && continue
      # upstream is the client side of the same IoT Hub MQTT naming (topics, property bags): it
      # may use the mqtt module's pure naming layer, never its session.
      [[ $mod == upstream && $dep == mqtt && $inc != edgehub/mqtt/session.hpp ]] && continue
      if [[ -z ${layer[$dep]+x} ]]; then
        report "$file:$num: includes unknown module '$dep' ($inc)"
      elif ((layer[$dep] >= mine)) && [[ $mod != app ]]; then
        report "$file:$num: $mod (L$mine) must not include $dep (L${layer[$dep]}): arrows point down only"
      fi
      continue
    fi
    for prefix in "${!third_party[@]}"; do
      if [[ $inc == "$prefix"* ]]; then
        allowed=" ${third_party[$prefix]} "
        if [[ $allowed != *" $mod "* ]]; then
          report "$file:$num: <$inc> belongs in ${third_party[$prefix]}, not in $mod"
        fi
        if [[ $file == include/* ]]; then
          for f in "${public_forbidden[@]}"; do
            [[ $inc == "$f"* ]] && report "$file:$num: public header includes <$inc>; keep it private to src/$mod"
          done
        fi
      fi
    done
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$file")
done < <(find src include/edgehub -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) | sort)

if ((violations)); then
  echo "check_layers: $violations violation(s)"
  exit 1
fi
echo "check_layers: ok"
