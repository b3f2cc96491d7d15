#!/usr/bin/env bash
# Runs the daemon from an installed tree on the installed default config (only the listen
# port, the SQLite path and the Telegram API base changed for a hermetic test), checks
# /healthz, that the Telegram channel is ready and the console is served, then SIGTERM → exit 0.
#   run_installed.sh PREFIX        a `cmake --install --prefix PREFIX` tree (config in PREFIX/etc)
#   run_installed.sh --root ROOT   the package unpacked into ROOT (`dpkg -x`, tools/check-deb):
#                                  /usr and /etc under ROOT, plugins.dir moved under ROOT too
source "$(dirname "$0")/lib.sh"
reroot=()
if [ "$1" = --root ]; then
  prefix=$2/usr
  etc=$2/etc
  # The package's config names the plugin dir where dpkg would put it; here it is under ROOT.
  reroot=(-e "s#dir: \"/#dir: \"$2/#")
else
  prefix=$1
  etc=$1/etc
fi

config=$TMP/switchboard.yaml
sed -e 's#listen: "127.0.0.1:8080"#listen: "127.0.0.1:0"#' \
    -e "s#path: \"/var/lib/switchboard/switchboard.db\"#path: \"$TMP/switchboard.db\"#" "${reroot[@]}" \
    "$etc/switchboard/switchboard.yaml" >"$config"
grep -q 'listen: "127.0.0.1:0"' "$config" || fail "could not set the listen port in the installed config"
grep -q "path: \"$TMP/switchboard.db\"" "$config" || fail "could not set the SQLite path in the installed config"
if [ "$1" = --root ]; then
  grep -q "dir: \"$2/" "$config" || fail "could not move plugins.dir under $2 in the installed config"
fi

export SWITCHBOARD_ADMIN_TOKEN=install-test-admin-token-0123456789
export TG_API_BASE=http://127.0.0.1:9  # nothing listens there: no request leaves the machine
"$prefix/bin/switchboardd" --check-config "$config" || fail "the installed config does not validate"
start_daemon "$prefix/bin/switchboardd" "$config" "$TMP/daemon.log"

health=$(curl -fsS "$DAEMON_URL/healthz") || fail "GET /healthz failed"
[[ $health == *'"status":"ok"'* ]] || fail "GET /healthz answered $health"
channels=$(curl -fsS -H "Authorization: Bearer $SWITCHBOARD_ADMIN_TOKEN" "$DAEMON_URL/api/v1/channels") ||
  fail "GET /api/v1/channels failed"
[[ $channels == *'"id":"tg-support","plugin":"telegram"'*'"state":"ready"'* ]] ||
  fail "the telegram channel is not ready: $channels"

# The installed console, where the tree has one, is served at / with its security headers.
console=""
if [ -f "$prefix/share/switchboard/console/index.html" ]; then
  headers=$(curl -fsS -D - -o /dev/null "$DAEMON_URL/") || fail "GET / (the console) failed"
  grep -qi "^content-security-policy: .*frame-ancestors 'none'" <<<"$headers" || fail "GET / has no CSP: $headers"
  console=", console served"
fi

stop_daemon "$TMP/daemon.log"
echo "ran switchboardd from $prefix: healthz ok, tg-support ready$console, SIGTERM → exit 0"
