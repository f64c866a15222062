#!/usr/bin/env bash
# Tessera's forward pass against ONNX Runtime's, same network, input and machine (issue #15).
# Makes a venv with onnx and onnxruntime from PyPI in the cache (once), builds TesseraBench,
# and runs Bench/ort_compare.py. Usage: Bench/ort_compare.sh [IMAGE] [ROUNDS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$(bash "$here/scripts/setup.sh")"
venv="$cache/venv-ort"
if ! "$venv/bin/python" -c 'import onnx, onnxruntime, numpy' 2>/dev/null; then
  echo "ort_compare: creating $venv (onnx, onnxruntime)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy onnx==1.23.2 onnxruntime==1.32.0 >/dev/null
fi
(cd "$here" && swift build -c release --product TesseraBench >/tmp/ort_compare-build.log 2>&1) ||
  { tail -20 /tmp/ort_compare-build.log; exit 1; }
image="${1:-$here/../shared/data/ukbench/ukbench00000.jpg}"
[ -f "$image" ] || image="$cache/photos/originals/coffee.jpg"
"$venv/bin/python" "$here/Bench/ort_compare.py" --bench "$here/.build/release/TesseraBench" \
  --model "$cache/efficientnet-lite0-57934424.pth" --image "$image" --rounds "${2:-5}"
