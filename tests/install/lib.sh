# Shared by the install and switchboardctl tests: a temp dir, a daemon started from a given
# binary and config, and clean-up of everything they started.
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sb-install-test.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# start_daemon BINARY CONFIG LOG: starts switchboardd, waits for its "listening on" line and
# sets DAEMON_PID and DAEMON_URL (the config listens on port 0; the real port is logged).
start_daemon() {
  : >"$3"  # exists before the first grep below
  "$1" --config "$2" >"$3" 2>&1 &
  DAEMON_PID=$!
  PIDS+=("$DAEMON_PID")
  for _ in $(seq 1 200); do
    local port
    port=$(grep -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$3" | head -n1 | sed 's/.*://' || true)
    if [ -n "$port" ]; then
      DAEMON_URL="http://127.0.0.1:$port"
      return 0
    fi
    kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$3" >&2; fail "switchboardd exited before listening"; }
    sleep 0.1
  done
  cat "$3" >&2
  fail "switchboardd did not log 'listening on http://127.0.0.1:PORT' within 20 s"
}

# stop_daemon LOG: SIGTERM, then the daemon must exit 0 within 30 s.
stop_daemon() {
  kill -TERM "$DAEMON_PID"
  local rc=0
  for _ in $(seq 1 300); do
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$DAEMON_PID" 2>/dev/null && { cat "$1" >&2; fail "switchboardd still running 30 s after SIGTERM"; }
  wait "$DAEMON_PID" || rc=$?
  [ "$rc" -eq 0 ] || { cat "$1" >&2; fail "switchboardd exited with $rc after SIGTERM (expected 0)"; }
}

# wait_for DESCRIPTION COMMAND...: retries COMMAND for up to 10 s.
wait_for() {
  local what=$1
  shift
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  fail "timed out waiting for $what"
}
