#!/usr/bin/env bash
# Renders an HTML page written by `tessera query --html` or `tessera demo` in a real headless
# browser (Debian's chromium, installed when missing) and saves a PNG screenshot to look at.
#   bash scripts/html-screenshot.sh tessera-demo/demo.html [out.png]
set -euo pipefail
page="$(realpath "$1")"
out="${2:-${page%.html}.png}"
if ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1000 \
  --screenshot="$out" "file://$page" >/dev/null 2>&1
echo "$out"
