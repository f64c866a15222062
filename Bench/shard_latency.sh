#!/usr/bin/env bash
# Query latency of one index against the same images in 3 shards, in-process and over HTTP
# (each shard its own `tessera serve`), on the demo collection (48 images, 12 queries).
# Prints a markdown table: median and worst of assignment + scan + rerank per query, in ms.
#   bash Bench/shard_latency.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
T=.build/release/tessera
cache="${TESSERA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}"
w=$(mktemp -d)
$T demo --out $w/demo >/dev/null
$T shards create --dir $w/sh --shards 3 --vocab $w/demo/demo.vocab >/dev/null
$T shards add --manifest $w/sh/shards.json "$cache"/photos/collection >/dev/null
source scripts/start-server.sh
urls=()
pids=()
for i in 0 1 2; do
  start_server $w/log$i --index $w/sh/shard-0$i
  urls+=("$url"); pids+=("$server")
done
python3 - "$w" "${urls[@]}" <<'PY'
import json, sys
w = sys.argv[1]; m = json.load(open(f"{w}/sh/shards.json"))
for s, u in zip(m["shards"], sys.argv[2:]): del s["path"]; s["url"] = u
m["vocabulary"] = f"{w}/demo/demo.vocab"
json.dump(m, open(f"{w}/remote.json", "w"))
PY
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$w"' EXIT
q=("$cache"/photos/queries/*.jpg)
# One query first, so each shard server has prepared its database side (once per committed state).
$T query --shards $w/remote.json --top 1 "${q[0]}" >/dev/null
echo "| search | queries | median ms | worst ms |"
echo "|---|---|---|---|"
for src in "--index $w/demo/index" "--shards $w/sh/shards.json" "--shards $w/remote.json"; do
  $T query $src --json --top 10 "${q[@]}" > $w/out.json
  python3 - "$src" $w/out.json <<'PY'
import json, sys, statistics
r = json.load(open(sys.argv[2]))
ms = sorted(1000 * (x["timings"]["assignment"] + x["timings"]["scan"] + x["timings"]["rerank"]) for x in r)
print(f"| {sys.argv[1].split()[0]} {sys.argv[1].split('/')[-1]} | {len(r)} | {statistics.median(ms):.1f} | {max(ms):.1f} |")
PY
done
