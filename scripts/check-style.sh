#!/usr/bin/env bash
# Static checks run by CI: clang-format and the banned-call list.
#   scripts/check-style.sh          # check
#   scripts/check-style.sh --fix    # reformat in place
# Exit: 0 clean (or reformatted with --fix), 1 a file differs or uses a banned call.
set -euo pipefail
. "$(dirname "$0")/help.sh"
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h')
status=0
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/of-format.$$; then
  head -40 /tmp/of-format.$$ >&2
  echo "check-style: formatting differs; run scripts/check-style.sh --fix" >&2
  status=1
fi
rm -f /tmp/of-format.$$
# Calls that are unbounded or not thread-safe; use snprintf, memcpy with a length,
# strtol/strtoul with end checks, strtok_r or explicit parsing instead.
banned='\b(sprintf|vsprintf|strcpy|strcat|atoi|atol|atoll|strtok|gets)[[:space:]]*\('
if grep -nE "$banned" "${files[@]}"; then
  echo "check-style: banned call found (see list in scripts/check-style.sh)" >&2
  status=1
fi
exit $status
