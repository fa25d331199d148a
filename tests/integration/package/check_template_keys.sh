#!/usr/bin/env bash
# The packaged config template and docs/configuration.md must name the same keys, so neither can
# drift: a key documented but missing from the template (or the reverse) fails with its name.
# Keys are "table.key": from the docs, the first column of the key tables under each
# `[table]` heading; from the template, the commented-out '#key = value' lines under '#[table]'.
# Route tables ([gateway.routes.NAME]) count as gateway.routes.*.
# usage: check_template_keys.sh CONFIGURATION_MD TEMPLATE
set -euo pipefail
docs=${1:?docs/configuration.md} template=${2:?template}

doc_keys=$(awk '
  /^## Top-level keys/                 { section = "top"; next }
  /^#+ `\[[a-z_.]+\]`/                 { match($0, /\[[a-z_.]+\]/); section = substr($0, RSTART + 1, RLENGTH - 2); next }
  /^`\[provisioning\.authentication\]`:/ { section = "provisioning.authentication"; next }
  /^## /                               { section = ""; next }
  section != "" && /^\| `[a-z_]+` \|/ {
    match($0, /`[a-z_]+`/); key = substr($0, RSTART + 1, RLENGTH - 2)
    s = section == "gateway.routes" ? "gateway.routes.*" : section
    print s "." key
  }' "$docs" | sort -u)

template_keys=$(awk '
  BEGIN { section = "top" }
  /^#\[[a-z_.A-Z]+\]/ { match($0, /\[[^]]+\]/); section = substr($0, RSTART + 1, RLENGTH - 2)
                        sub(/^gateway\.routes\..*/, "gateway.routes.*", section); next }
  /^#[a-z_]+ = /      { match($0, /^#[a-z_]+/); print section "." substr($0, 2, RLENGTH - 1) }
  ' "$template" | sort -u)

[[ $(wc -l <<<"$doc_keys") -ge 40 ]] || { echo "found only $(wc -l <<<"$doc_keys") keys in $docs: has its layout changed?"; exit 1; }
only_docs=$(comm -23 <(echo "$doc_keys") <(echo "$template_keys"))
only_template=$(comm -13 <(echo "$doc_keys") <(echo "$template_keys"))
status=0
if [[ -n $only_docs ]]; then
  echo "documented in $docs but missing from $template:"; sed 's/^/  /' <<<"$only_docs"; status=1
fi
if [[ -n $only_template ]]; then
  echo "in $template but not documented in $docs:"; sed 's/^/  /' <<<"$only_template"; status=1
fi
((status == 0)) && echo "template and docs name the same $(wc -l <<<"$doc_keys") keys"
exit $status
