#!/usr/bin/env bash
# Checks the query server's search page in a real headless browser (Debian's chromium,
# installed when missing): starts `tessera serve` on a free loopback port, opens
# /#query=ID (the page searches with that indexed image's thumbnail), saves a PNG to look at,
# and stops the server.
#   bash scripts/server-screenshot.sh INDEX_DIR [out.png] [ID]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
index="$1"; out="$(realpath -m "${2:-search-page.png}")"; id="${3:-0}"
if ! command -v chromium >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y -qq chromium >/dev/null
fi
log="$(mktemp)"
source scripts/start-server.sh
trap 'kill $server 2>/dev/null; rm -f "$log"' EXIT
start_server "$log" --index "$index"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1300,900 \
  --virtual-time-budget=20000 --screenshot="$out" "$url/#query=$id" >/dev/null 2>&1
echo "$out"
