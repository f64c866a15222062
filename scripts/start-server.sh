# Sourced by the scripts that need a running `tessera serve`:
#   start_server LOG serve-flags...
# starts .build/release/tessera serve --port 0 FLAGS in the background with its output in LOG,
# waits (up to 60 s) until it prints its address, and sets $server (pid) and $url. The caller
# stops it (kill $server), usually from a trap.
server=""
url=""
start_server() {
  local log="$1"; shift
  .build/release/tessera serve --port 0 "$@" >"$log" 2>&1 &
  server=$!
  for _ in $(seq 300); do grep -q "http://" "$log" && break; sleep 0.2; done
  url="$(grep -o 'http://[^ ]*' "$log" || true)"
  if [ -z "$url" ]; then echo "tessera serve did not start:" >&2; cat "$log" >&2; return 1; fi
}
