#!/usr/bin/env bash
# Load on `tessera serve` over loopback (wrk from Debian, installed when missing): image
# queries (JPEG upload, CNN included) at concurrency 1, 4 and 16, each for SECONDS, against a
# warm index; then the baseline of the same run: the CNN-bound rate of this machine, one
# query at a time through `tessera query --verbose` timings (what 2 cores allow when each
# query uses both). Prints a Markdown table for Bench/RESULTS.md.
#   bash Bench/serve_load.sh INDEX_DIR QUERY.jpg [SECONDS] [SERVE FLAGS...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
index="$1"; query="$(realpath "$2")"; seconds="${3:-20}"; shift $(( $# < 3 ? $# : 3 ))
command -v wrk >/dev/null || { SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo; $SUDO apt-get install -y -qq wrk >/dev/null; }
work="$(mktemp -d)"
cat >"$work/post.lua" <<LUA
local f = io.open("$query", "rb"); local body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.body = body; wrk.headers["Content-Type"] = "image/jpeg"
LUA
source scripts/start-server.sh
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
start_server "$work/log" --index "$index" --queue-limit 64 "$@"
curl -s -o /dev/null -X POST --data-binary @"$query" -H 'Content-Type: image/jpeg' "$url/v1/query"  # warm up
echo "| concurrency | queries/s | p50 ms | p99 ms | errors |"
echo "|---|---|---|---|---|"
for c in 1 4 16; do
  out="$(wrk -t 1 -c "$c" -d "${seconds}s" --timeout 30s --latency -s "$work/post.lua" "$url/v1/query?top=10")"
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p50="$(echo "$out" | awk '$1 == "50%" {print $2}')"
  p99="$(echo "$out" | awk '$1 == "99%" {print $2}')"
  errs="$(echo "$out" | awk '/Non-2xx/ {print $NF}')"
  echo "| $c | $rps | $p50 | $p99 | ${errs:-0} |"
done
rss="$(awk '/VmHWM/ {print $2}' /proc/$server/status)"
echo
echo "server peak RSS: $((rss / 1024)) MiB"
kill $server; wait $server 2>/dev/null || true
# Baseline: seconds per query when queries run one at a time, from the CLI's own timings.
.build/release/tessera query --index "$index" --verbose $(for _ in 1 2 3 4 5; do echo "$query"; done) \
  | sed -nE 's/.*total ([0-9.]+);.*/\1/p' | sort -n | awk '{t[NR] = $1}
      END {m = t[int((NR + 1) / 2)]; printf "one query at a time (tessera query): %.1f ms median of %d = %.2f queries/s\n", m, NR, 1000 / m}'
