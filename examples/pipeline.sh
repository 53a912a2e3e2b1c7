#!/usr/bin/env bash
# A nightly pipeline: addresses in on stdin, JSON lines out on stdout,
# messages on stderr. Keeps only addresses that are valid, then counts them.
set -euo pipefail
here=$(dirname "$0")
gzip -c "$here/list.txt" \
  | emailclean validate - --checks syntax --format jsonl --keep valid -q \
  | python3 -c 'import json, sys; print(sum(1 for line in sys.stdin if json.loads(line)["status"] == "valid"), "valid addresses")'
