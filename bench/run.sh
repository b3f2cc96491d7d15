#!/usr/bin/env bash
# Runs the DESIGN §7 benchmarks by hand: builds (Release) the daemon, the Telegram plugin and
# the bench tools, then for each benchmark starts a fresh switchboardd (temp config, SQLite
# in a fresh directory on the real disk) and prints the figures, each with the load average
# it was taken under. Never run from ctest or CI. Results go to stdout and $WORK/results.txt.
#
#   bench/run.sh                      everything (about 3 minutes plus the build)
#   bench/run.sh ingest latency       only these: nginx ingest latency outbound idle abi
#
# Environment: SB_BENCH_BUILD (build dir, default build-bench), SB_BENCH_DIR (work dir,
# default /var/tmp/...: a real disk; a tmpfs makes fsync free and the ingest figure
# meaningless), SB_BENCH_JOBS (build parallelism, default 1), SB_BENCH_DURATION (measured
# seconds per run, default 10), SB_BENCH_IDLE (idle WebSockets, default 19000),
# SB_BENCH_THREADS (daemon I/O threads, default 2), SB_BENCH_PERF=1 (perf record the daemon
# during the ingest run).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SB_BENCH_BUILD:-$ROOT/build-bench}
WORK=${SB_BENCH_DIR:-$(mktemp -d /var/tmp/sb-bench.XXXXXX)}
JOBS=${SB_BENCH_JOBS:-1}
DURATION=${SB_BENCH_DURATION:-10}
IDLE=${SB_BENCH_IDLE:-19000}
THREADS=${SB_BENCH_THREADS:-2}
PORT=${SB_BENCH_PORT:-18080}
FAKE_PORT=$((PORT + 1))
NGINX_PORT=$((PORT + 2))
TOKEN=bench-admin-token-0123456789
SECRET=bench-secret
CHANNEL=tg-bench
WHAT=${*:-nginx ingest latency outbound idle abi}
mkdir -p "$WORK"
RESULTS=$WORK/results.txt
BIN=$BUILD/bench

log() { echo "$@" | tee -a "$RESULTS"; }
load() { log "-- $(date +%T) load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }
wants() { [[ " $WHAT " == *" $1 "* ]]; }

# CMAKE_CXX_FLAGS is reset: an earlier run of this script set -Wno-error=restrict in the cache
# (the Release build is warning-free now).
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSB_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS="" >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target sb-bench

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# The machine, once.
{
    echo "== Switchboard benchmarks $(date -Is)"
    if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        echo "commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet -- daemon plugins ||
            echo ' (daemon/plugins modified in the work tree)')"
    else
        echo "source $ROOT (not a git checkout)$([[ -f $ROOT/.bench-commit ]] && echo ", exported from $(cat "$ROOT/.bench-commit")")"
    fi
    echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), nproc $(nproc), RAM $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r)"
    echo "work dir $WORK on $(df --output=source,fstype "$WORK" | tail -1 | tr -s ' ') ($(stat -f -c %T "$WORK"))"
    echo "open files: soft $(ulimit -Sn), hard $(ulimit -Hn)"
} | tee -a "$RESULTS"

ulimit -n "$(ulimit -Hn)"

# A fresh daemon on a fresh database for each benchmark, so that one benchmark's backlog (the
# inbound processor still working through ingest's rows) never slows the next.
DAEMON_PID=
start_daemon() {
    local dir=$WORK/$1
    rm -rf "$dir" && mkdir -p "$dir"
    cat >"$dir/switchboard.yaml" <<YAML
server:
  listen: "127.0.0.1:$PORT"
  threads: $THREADS
storage:
  backend: sqlite
  sqlite:
    path: "$dir/switchboard.db"
plugins:
  dir: "$BUILD/plugins"
auth:
  bootstrap_admin_token: "$TOKEN"
channels:
  - id: $CHANNEL
    plugin: telegram
    receive: webhook
    settings:
      bot_token: "123456:bench"
      secret_token: "$SECRET"
      api_base: "http://127.0.0.1:$FAKE_PORT"
    # The benchmarks measure the daemon, not Telegram's limits: the outbound run sends all its
    # replies to one chat, which the default pacing (one a second per chat) would serialize.
    rate_limit: { per_second: 0, recipient_interval_ms: 0, group_interval_ms: 0 }
log:
  level: warn
YAML
    "$BUILD/daemon/switchboardd" --config "$dir/switchboard.yaml" 2>"$dir/daemon.log" &
    DAEMON_PID=$!
    PIDS+=("$DAEMON_PID")
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "switchboardd did not come up; see $dir/daemon.log" >&2
    cat "$dir/daemon.log" >&2
    exit 1
}
stop_daemon() {
    kill "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
}

# How long the processor takes to catch up once the load stops (issue 19: within 2 s):
# switchboard_inbound_queue_depth polled every 50 ms until it reads 0.
drain() {
    local start depth
    start=$(date +%s%N)
    depth=$(curl -sf "$URL/metrics" | awk '/^switchboard_inbound_queue_depth /{print $2}')
    local first=$depth
    while [[ $depth != 0 ]]; do
        if (($(date +%s%N) - start > 30000000000)); then
            log "backlog: $first rows when the load stopped, $depth still queued after 30 s"
            return
        fi
        sleep 0.05
        depth=$(curl -sf "$URL/metrics" | awk '/^switchboard_inbound_queue_depth /{print $2}')
    done
    log "backlog: $first rows when the load stopped, drained in $((($(date +%s%N) - start) / 1000000)) ms"
}

"$BIN/sb-bench-fake-telegram" --port "$FAKE_PORT" --threads 1 >"$WORK/fake-telegram.log" &
PIDS+=($!)

URL=http://127.0.0.1:$PORT
COMMON=(--url "$URL" --channel "$CHANNEL" --secret "$SECRET")

if wants nginx; then
    if command -v nginx >/dev/null; then
        mkdir -p "$WORK/nginx"
        cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes $(nproc);
error_log $WORK/nginx/error.log;
pid $WORK/nginx/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / { return 200 '{"status":"accepted"}'; }
    }
}
CONF
        nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
        NGINX_PID=$!
        PIDS+=("$NGINX_PID")
        sleep 0.5
        log "== R-nginx: static 200 for the same signed webhook POSTs, 64 connections"
        load
        "$BIN/sb-bench-ingest" --url "http://127.0.0.1:$NGINX_PORT" --channel "$CHANNEL" --secret "$SECRET" \
            -c 64 -d "$DURATION" | tee -a "$RESULTS"
        kill "$NGINX_PID" 2>/dev/null || true
    else
        log "== R-nginx skipped: nginx is not installed (apt-get install nginx)"
    fi
fi

if wants ingest; then
    start_daemon ingest
    log "== Ingest: durable webhooks/s, 64 connections, full speed"
    load
    if [[ ${SB_BENCH_PERF:-0} == 1 ]] && command -v perf >/dev/null; then
        (sleep 4 && perf record -F 999 -g -p "$DAEMON_PID" -o "$WORK/ingest.perf.data" -- sleep 5 \
            >/dev/null 2>&1) &
    fi
    "$BIN/sb-bench-ingest" "${COMMON[@]}" -c 64 -d "$DURATION" | tee -a "$RESULTS"
    drain
    log "== Ingest at 1 connection (one webhook at a time: the commit latency floor)"
    "$BIN/sb-bench-ingest" "${COMMON[@]}" -c 1 -d 5 --warmup 1 | tee -a "$RESULTS"
    stop_daemon
fi

if wants latency; then
    for rate in 200 1500; do
        start_daemon "latency-$rate"
        log "== Webhook -> agent frame latency at $rate/s"
        load
        "$BIN/sb-bench-latency" "${COMMON[@]}" --token "$TOKEN" --rate "$rate" -d "$DURATION" | tee -a "$RESULTS" ||
            true
        stop_daemon
    done
fi

if wants outbound; then
    start_daemon outbound
    log "== Outbound: agent replies/s to an instant fake Telegram, 16 agents"
    load
    "$BIN/sb-bench-outbound" "${COMMON[@]}" --token "$TOKEN" --agents 16 -d "$DURATION" | tee -a "$RESULTS"
    stop_daemon
fi

if wants idle; then
    start_daemon idle
    log "== Idle agent WebSockets: daemon memory per connection"
    load
    "$BIN/sb-bench-idle-ws" --url "$URL" --token "$TOKEN" --pid "$DAEMON_PID" -n "$IDLE" -p 2 | tee -a "$RESULTS" ||
        true
    stop_daemon
fi

if wants abi && [[ -x $BIN/sb-bench-abi ]]; then
    log "== Plugin ABI: telegram.so vs the same code linked in"
    load
    "$BIN/sb-bench-abi" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true | tee -a "$RESULTS"
fi

log "== done; results in $RESULTS"
