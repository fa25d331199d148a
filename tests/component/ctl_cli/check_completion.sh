#!/usr/bin/env bash
# The bash completion must parse, and name every command, subcommand and flag that edgehubctl's
# own help texts name, so that it cannot fall behind the binary. It is then exercised the way
# bash calls it: completing a command name, a subcommand and a flag.
# usage: check_completion.sh COMPLETION_FILE EDGEHUBCTL
set -euo pipefail
completion=${1:?completion file} ctl=${2:?edgehubctl binary}
bash -n "$completion"

fail=0
missing() { echo "missing from $completion: $1 ($2)"; fail=1; }

# Commands listed by `edgehubctl --help`, then each one's --help (and its subcommands' --help).
commands=$("$ctl" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z-]*\) .*/\1/p')
[[ -n $commands ]] || { echo "edgehubctl --help lists no commands"; exit 1; }
for cmd in $commands; do
  grep -qw -- "$cmd" "$completion" || missing "$cmd" "command"
  help=$("$ctl" "$cmd" --help)
  # Subcommands: the word after "edgehubctl CMD" on the usage lines.
  subs=$(sed -n "s/^.*edgehubctl $cmd \([a-z][a-z-]*\).*/\1/p" <<<"$help" | sort -u)
  for sub in $subs; do
    grep -qw -- "$sub" "$completion" || missing "$sub" "$cmd subcommand"
  done
  for flag in $(grep -o -- '--[a-z][a-z0-9-]*' <<<"$help" | sort -u); do
    grep -q -- "$flag\b" "$completion" || missing "$flag" "flag of $cmd"
  done
done

# Run the function as bash would.
complete_words() {  # complete_words WORD... : prints COMPREPLY for the last word
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
           _edgehubctl; printf "%s\n" "${COMPREPLY[@]}"' _ "$completion" "$@"
}
[[ $(complete_words edgehubctl sta) == status ]] || { echo "'edgehubctl sta' does not complete to status"; fail=1; }
[[ $(complete_words edgehubctl config a) == apply ]] || { echo "'config a' does not complete to apply"; fail=1; }
[[ $(complete_words edgehubctl status --j) == --json ]] || { echo "'status --j' does not complete to --json"; fail=1; }
[[ $(complete_words edgehubctl queue peek --m) == --max ]] || { echo "'queue peek --m' does not complete to --max"; fail=1; }

((fail == 0)) && echo "bash completion covers $(wc -w <<<"$commands") commands and their flags"
exit $fail
