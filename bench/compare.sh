#!/usr/bin/env bash
# nginx, the Node.js peer (../shared/bench/peer-node: http + ws + better-sqlite3, one fsync'd
# transaction per webhook) and switchboardd, one after the other in one run, driven by the same
# clients with the same payloads, and a table of the figures with the daemon's ratios. Ratios
# from one run are the figures that count on a shared, noisy machine. Never run from ctest/CI.
#
#   bench/compare.sh                  everything (about 6 minutes with the defaults, plus builds)
#
# Environment: SB_BENCH_BUILD (Release build dir, default build-bench), SB_BENCH_DIR (work dir
# on a real disk, default /var/tmp/...), SB_BENCH_DURATION (measured seconds per run, default
# 10), SB_BENCH_IDLE (idle WebSocket counts, default "2000 19000"), SB_BENCH_RATES (latency
# rates, default "200 1500 5000"), SB_PEER_DIR (the peer's sources, default
# ../shared/bench/peer-node next to the checkout), SB_BENCH_JOBS (build parallelism, default 2),
# SB_BENCH_PREBUILT=1 (use the binaries already in SB_BENCH_BUILD: for trying the script out;
# figures worth recording come from the Release build).
#
# Needs nginx (apt-get install nginx), Node.js and npm (the peer's `npm ci` builds better-sqlite3
# from source the first time: about 2 minutes; its node_modules is cached in
# ~/.cache/switchboard/peer-node).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SB_BENCH_BUILD:-$ROOT/build-bench}
WORK=${SB_BENCH_DIR:-$(mktemp -d /var/tmp/sb-compare.XXXXXX)}
DURATION=${SB_BENCH_DURATION:-10}
IDLE_COUNTS=${SB_BENCH_IDLE:-2000 19000}
RATES=${SB_BENCH_RATES:-200 1500 5000}
PEER_SRC=${SB_PEER_DIR:-$ROOT/../shared/bench/peer-node}
JOBS=${SB_BENCH_JOBS:-2}
PORT=${SB_BENCH_PORT:-18180}
FAKE_PORT=$((PORT + 1))
NGINX_PORT=$((PORT + 2))
TOKEN=bench-admin-token-0123456789
SECRET=bench-secret
CHANNEL=tg-bench
BIN=$BUILD/bench
mkdir -p "$WORK"
RESULTS=$WORK/results.txt
declare -A FIG  # FIG[<measure>,<target>] = value

log() { echo "$@" | tee -a "$RESULTS"; }
die() { echo "compare.sh: $*" >&2; exit 1; }
command -v nginx >/dev/null || die "nginx is not installed (apt-get install nginx)"
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed for the peer"
[[ -f $PEER_SRC/server.js ]] || die "no peer at $PEER_SRC (set SB_PEER_DIR)"

if [[ ${SB_BENCH_PREBUILT:-0} != 1 ]]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSB_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS="" >/dev/null
    cmake --build "$BUILD" -j"$JOBS" --target sb-bench
fi

# The peer, in a writable copy, its node_modules from the cache when the lock file matches.
PEER=$WORK/peer-node
mkdir -p "$PEER"
cp "$PEER_SRC"/server.js "$PEER_SRC"/package.json "$PEER_SRC"/package-lock.json "$PEER"/
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/switchboard/peer-node/$(sha256sum "$PEER/package-lock.json" | cut -c1-16)
if [[ ! -d $CACHE/node_modules ]]; then
    (cd "$PEER" && npm ci --no-audit --no-fund >"$WORK/peer-npm.log" 2>&1) || die "npm ci failed: $WORK/peer-npm.log"
    mkdir -p "$CACHE" && cp -a "$PEER/node_modules" "$CACHE/"
else
    cp -a "$CACHE/node_modules" "$PEER/"
fi

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

{
    echo "== Switchboard vs nginx vs the Node.js peer, $(date -Is)"
    echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), node $(node --version), $(nginx -v 2>&1)"
    echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), nproc $(nproc), kernel $(uname -r)"
    echo "work dir $WORK ($(stat -f -c %T "$WORK")), duration ${DURATION}s per run"
} | tee -a "$RESULTS"

"$BIN/sb-bench-fake-telegram" --port "$FAKE_PORT" --threads 1 >"$WORK/fake-telegram.log" 2>&1 &
PIDS+=($!)

# start <daemon|peer|nginx> NAME: a fresh server on a fresh database; sets SERVER_PID.
SERVER_PID=
start() {
    local kind=$1 dir=$WORK/$1-$2
    rm -rf "$dir" && mkdir -p "$dir"
    case $kind in
    daemon)
        cat >"$dir/switchboard.yaml" <<YAML
server: { listen: "127.0.0.1:$PORT", threads: 2 }
storage: { backend: sqlite, sqlite: { path: "$dir/switchboard.db" } }
plugins: { dir: "$BUILD/plugins" }
auth: { bootstrap_admin_token: "$TOKEN" }
channels:
  - id: $CHANNEL
    plugin: telegram
    settings: { bot_token: "123456:bench", secret_token: "$SECRET", api_base: "http://127.0.0.1:$FAKE_PORT" }
    rate_limit: { per_second: 0, recipient_interval_ms: 0, group_interval_ms: 0 }
log: { level: warn }
YAML
        "$BUILD/daemon/switchboardd" --config "$dir/switchboard.yaml" 2>"$dir/server.log" &
        ;;
    peer)
        cat >"$dir/config.json" <<JSON
{"host":"127.0.0.1","port":$PORT,"db_path":"$dir/peer.db","synchronous":"FULL","agent_token":"$TOKEN",
 "batch_size":100,"poll_interval_ms":100,
 "channels":[{"id":"$CHANNEL","kind":"telegram","secret_token":"$SECRET","bot_token":"123456:bench",
              "base_url":"http://127.0.0.1:$FAKE_PORT"}]}
JSON
        (cd "$PEER" && exec node server.js --config "$dir/config.json") >"$dir/server.log" 2>&1 &
        ;;
    nginx)
        cat >"$dir/nginx.conf" <<CONF
worker_processes $(nproc);
error_log $dir/error.log;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $dir;
    server { listen 127.0.0.1:$PORT; location / { return 200 '{"status":"accepted"}'; } }
}
CONF
        nginx -c "$dir/nginx.conf" -g 'daemon off;' 2>"$dir/server.log" &
        ;;
    esac
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0
        sleep 0.1
    done
    cat "$dir/server.log" >&2
    die "$kind did not come up"
}
stop() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

URL=http://127.0.0.1:$PORT
COMMON=(--url "$URL" --channel "$CHANNEL" --secret "$SECRET")
# field REGEX: the first number after REGEX in stdin.
field() { grep -oE "$1 *[0-9.]+" | head -1 | grep -oE '[0-9.]+$' || echo "-"; }

for target in nginx peer daemon; do
    log "== $target: durable webhook ingest, 64 connections, ${DURATION}s"
    start "$target" ingest
    out=$("$BIN/sb-bench-ingest" "${COMMON[@]}" -c 64 -d "$DURATION" --warmup 1 | tee -a "$RESULTS")
    FIG[ingest,$target]=$(field 'requests/s' <<<"$out")
    stop
    [[ $target == nginx ]] && continue

    hello=()
    [[ $target == peer ]] && hello=(--no-hello)  # the peer sends no hello frame
    for rate in $RATES; do
        log "== $target: webhook -> agent frame at $rate/s"
        start "$target" "latency-$rate"
        out=$("$BIN/sb-bench-latency" "${COMMON[@]}" --token "$TOKEN" --rate "$rate" -d "$DURATION" "${hello[@]}" |
            tee -a "$RESULTS" || true)
        FIG[p50_$rate,$target]=$(field 'p50' <<<"$out")
        FIG[p99_$rate,$target]=$(field 'p99' <<<"$out")
        stop
    done

    log "== $target: agent replies, 16 agents over 50 conversations, a unique Idempotency-Key each"
    start "$target" outbound
    out=$("$BIN/sb-bench-outbound" "${COMMON[@]}" --token "$TOKEN" --agents 16 --conversations 50 \
        -d "$DURATION" --warmup 1 | tee -a "$RESULTS" || true)
    FIG[replies,$target]=$(field 'sent \(201\)/s' <<<"$out")
    FIG[replies_p50,$target]=$(field 'p50' <<<"$out")
    FIG[rss,$target]=$(awk '/VmRSS/{printf "%.0f", $2/1024}' "/proc/$SERVER_PID/status")
    stop

    for n in $IDLE_COUNTS; do
        log "== $target: $n idle agent WebSockets"
        start "$target" "idle-$n"
        out=$("$BIN/sb-bench-idle-ws" --url "$URL" --token "$TOKEN" --pid "$SERVER_PID" -n "$n" -p 2 \
            "${hello[@]}" | tee -a "$RESULTS" || true)
        FIG[idle_$n,$target]=$(grep -oE '[0-9.]+ KiB per idle' <<<"$out" | grep -oE '^[0-9.]+' || echo "-")
        stop
    done
done

ratio() {  # ratio A B: A/B with two decimals, or "-"
    awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2f", a/b; else print "-" }'
}
{
    echo
    echo "| measure | nginx | Node peer | switchboardd | daemon / peer |"
    echo "|---|---|---|---|---|"
    echo "| durable webhook ingest, 64 connections (req/s) | ${FIG[ingest,nginx]} | ${FIG[ingest,peer]} | ${FIG[ingest,daemon]} | $(ratio "${FIG[ingest,daemon]}" "${FIG[ingest,peer]}")× (nginx: $(ratio "${FIG[ingest,daemon]}" "${FIG[ingest,nginx]}")×) |"
    for rate in $RATES; do
        echo "| webhook → frame at $rate/s, p50 / p99 (ms) | — | ${FIG[p50_$rate,peer]} / ${FIG[p99_$rate,peer]} | ${FIG[p50_$rate,daemon]} / ${FIG[p99_$rate,daemon]} | p99 $(ratio "${FIG[p99_$rate,peer]}" "${FIG[p99_$rate,daemon]}")× lower |"
    done
    echo "| replies over 50 conversations, unique Idempotency-Key (201/s) | — | ${FIG[replies,peer]} | ${FIG[replies,daemon]} | $(ratio "${FIG[replies,daemon]}" "${FIG[replies,peer]}")× |"
    echo "| the same, p50 (ms) | — | ${FIG[replies_p50,peer]} | ${FIG[replies_p50,daemon]} | $(ratio "${FIG[replies_p50,peer]}" "${FIG[replies_p50,daemon]}")× lower |"
    for n in $IDLE_COUNTS; do
        echo "| memory per idle WebSocket at $n (KiB) | — | ${FIG[idle_$n,peer]} | ${FIG[idle_$n,daemon]} | $(ratio "${FIG[idle_$n,peer]}" "${FIG[idle_$n,daemon]}")× less |"
    done
    echo "| RSS after the replies run (MiB) | — | ${FIG[rss,peer]} | ${FIG[rss,daemon]} | $(ratio "${FIG[rss,peer]}" "${FIG[rss,daemon]}")× less |"
    echo
    echo "command: SB_BENCH_DURATION=$DURATION SB_BENCH_IDLE=\"$IDLE_COUNTS\" SB_BENCH_RATES=\"$RATES\" bench/compare.sh"
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); full output: $RESULTS"
} | tee -a "$RESULTS"
