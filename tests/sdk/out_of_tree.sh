#!/usr/bin/env bash
# The plugin SDK proven from outside the tree: install the project into a temp prefix, build a
# copy of plugins/api as a separate CMake project against that prefix alone
# (find_package(SwitchboardPluginAPI 1.0) + switchboard_add_plugin), check the result with the
# installed sb-plugin-check, then run the installed switchboardd with plugins.dir = that build
# dir and drive a conversation through it: signed message and typing in → agent WebSocket frames;
# agent reply → a loopback callback_url that checks the signature and answers 201 {"id"}.
#   out_of_tree.sh BUILD_DIR SOURCE_DIR
source "$(dirname "$0")/../install/lib.sh"
build=$1
src=$2
prefix=$TMP/prefix
secret=sdk-test-shared-secret-0123456789
token=sdk-test-admin-token-0123456789

# ---- Install and build out of tree --------------------------------------------------------
cmake --install "$build" --prefix "$prefix" >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log" >&2; fail "cmake --install failed"; }
for f in include/switchboard/plugin_abi.h include/switchboard/plugin.hpp bin/sb-plugin-check bin/switchboardd \
         bin/switchboardctl share/switchboard/normalized-events.schema.json; do
  [ -e "$prefix/$f" ] || fail "$f is not installed"
done
ls "$prefix"/lib*/cmake/SwitchboardPluginAPI/SwitchboardPluginAPIHelpers.cmake >/dev/null 2>&1 || fail "the CMake helper is not installed"
ls "$prefix"/lib*/cmake/SwitchboardPluginAPI/switchboard-plugin.map >/dev/null 2>&1 || fail "the version script is not installed"

cp -r "$src/plugins/api" "$TMP/api-src"
cmake -S "$TMP/api-src" -B "$TMP/api-build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  >"$TMP/configure.log" 2>&1 || { cat "$TMP/configure.log" >&2; fail "configuring plugins/api out of tree failed"; }
grep -q "^SwitchboardPluginAPI_DIR:PATH=$prefix/" "$TMP/api-build/CMakeCache.txt" ||
  fail "find_package found the SDK somewhere else than $prefix: $(grep SwitchboardPluginAPI_DIR "$TMP/api-build/CMakeCache.txt")"
cmake --build "$TMP/api-build" >"$TMP/build.log" 2>&1 || { cat "$TMP/build.log" >&2; fail "building plugins/api out of tree failed"; }
plugin=$TMP/api-build/api.so
[ -f "$plugin" ] || fail "the build did not produce api.so"
exports=$(nm -D --defined-only "$plugin" | awk '{print $3}' | sort -u | tr '\n' ' ')
[ "$exports" = "sb_plugin_entry_v1 " ] || fail "api.so exports more than sb_plugin_entry_v1: $exports"

"$prefix/bin/sb-plugin-check" "$plugin" --fixtures "$src/tests/fixtures/api" >"$TMP/check.txt" 2>&1 ||
  { cat "$TMP/check.txt" >&2; fail "sb-plugin-check failed on the out-of-tree api.so"; }

# ---- The callback: a loopback server checking signatures ----------------------------------
cat >"$TMP/callback.py" <<'PY'
import hashlib, hmac, http.server, json, sys
secret, port_file, log_file = sys.argv[1].encode(), sys.argv[2], sys.argv[3]
count = 0
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        got = self.headers.get("X-Switchboard-Signature", "")
        ok = hmac.compare_digest(want, got)
        with open(log_file, "a") as f:
            f.write(json.dumps({"valid": ok, "content_type": self.headers.get("Content-Type"),
                                "body": json.loads(body)}) + "\n")
        count += 1
        answer = json.dumps({"id": "cb-%d" % count} if ok else {"error": {"code": "bad_signature"}}).encode()
        self.send_response(201 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
open(port_file, "w").write(str(server.server_address[1]))
server.serve_forever()
PY
python3 "$TMP/callback.py" "$secret" "$TMP/callback.port" "$TMP/callback.log" &
PIDS+=($!)
wait_for "the callback server" test -s "$TMP/callback.port"
callback_url="http://127.0.0.1:$(cat "$TMP/callback.port")/switchboard"

# ---- The daemon with the out-of-tree plugin -----------------------------------------------
cat >"$TMP/switchboard.yaml" <<YAML
server: { listen: "127.0.0.1:0", threads: 1 }
storage: { backend: sqlite, sqlite: { path: "$TMP/switchboard.db" } }
plugins: { dir: "$TMP/api-build" }
auth: { bootstrap_admin_token: "$token" }
channels:
  - id: web
    plugin: api
    settings: { shared_secret: "$secret", callback_url: "$callback_url" }
YAML
start_daemon "$prefix/bin/switchboardd" "$TMP/switchboard.yaml" "$TMP/daemon.log"
export SWITCHBOARD_URL=$DAEMON_URL SWITCHBOARD_TOKEN=$token
"$prefix/bin/switchboardctl" watch --json >"$TMP/watch.json" 2>"$TMP/watch.err" &
PIDS+=($!)
wait_for "the agent's hello frame" grep -q '"type":"hello"' "$TMP/watch.json"

# post_signed BODY [SIGNATURE]: prints the HTTP status of POST /webhooks/web.
post_signed() {
  local sig=${2:-sha256=$(printf '%s' "$1" | openssl dgst -sha256 -hmac "$secret" | sed 's/^.*= //')}
  curl -s -o /dev/null -w '%{http_code}' -X POST "$DAEMON_URL/webhooks/web" -H 'Content-Type: application/json' \
    -H "X-Switchboard-Signature: $sig" --data-binary "$1"
}

message='{"v":1,"type":"message","id":"sdk-1","conversation":{"id":"visitor-7"},"sender":{"id":"visitor-7","name":"Grace Hopper"},"timestamp_ms":1732540000000,"content":{"type":"text","text":"hello from outside the tree"}}'
typing='{"v":1,"type":"typing","conversation":{"id":"visitor-7"},"sender":{"id":"visitor-7"},"timestamp_ms":1732540001000,"state":"on"}'

status=$(post_signed "$message" "sha256=0000000000000000000000000000000000000000000000000000000000000000")
[ "$status" = 401 ] || fail "a wrongly signed webhook got $status, expected 401"
status=$(post_signed "$message")
[ "$status" = 200 ] || { cat "$TMP/daemon.log" >&2; fail "the signed message got $status, expected 200"; }
wait_for "the new_message frame" grep -q '"type":"new_message".*hello from outside the tree' "$TMP/watch.json"
status=$(post_signed "$typing")
[ "$status" = 200 ] || fail "the signed typing event got $status, expected 200"
wait_for "the typing_indicator frame" grep -q '"type":"typing_indicator".*"state":"on"' "$TMP/watch.json"

conversation=$(grep '"type":"new_message"' "$TMP/watch.json" | head -n1 |
  python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["data"]["conversation"]["id"])')
reply=$(curl -s -w '\n%{http_code}' -X POST "$DAEMON_URL/api/v1/conversations/$conversation/messages" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data-binary '{"content":{"type":"text","text":"answer from the agent"}}')
[ "$(tail -n1 <<<"$reply")" = 201 ] || { cat "$TMP/daemon.log" >&2; fail "the agent's reply got: $reply"; }
grep -q '"platform_id":"cb-1"' <<<"$reply" || fail "the reply did not take the callback's id: $reply"
python3 - "$TMP/callback.log" <<'PY' || fail "the callback did not receive one validly signed outbound request"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 1, lines
r = lines[0]
assert r["valid"] and r["content_type"] == "application/json", r
b = r["body"]
assert b["v"] == 1 and b["conversation"]["id"] == "visitor-7" and b["content"] == {"type": "text", "text": "answer from the agent"}, b
PY
stop_daemon "$TMP/daemon.log"
echo "out-of-tree api.so: built against $prefix alone, sb-plugin-check passed, message, typing and signed reply flowed"
