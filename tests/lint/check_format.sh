#!/usr/bin/env bash
# Every C++ file is formatted with the repository's .clang-format.
set -euo pipefail
cd "${1:?source dir}"
mapfile -t files < <(find src include tests bench -type f \( -name '*.cpp' -o -name '*.hpp' \) \
  -not -path 'tests/e2e/node_modules/*' | sort)
clang-format --dry-run --Werror "${files[@]}"
echo "check_format: ${#files[@]} files formatted"
