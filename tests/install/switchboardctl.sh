#!/usr/bin/env bash
# switchboardctl against a real daemon: check-config on a broken file, simulate-inbound for
# each platform whose plugin is built (the daemon verifies the signature and stores the
# message), simulate-inbound --fixture for the api plugin (re-signed with the channel's own
# secret), watch printing the event, conversations list showing the conversation, and send
# reporting the platform error with its code, and canned replies added, listed rendered for the
# conversation, edited and removed.
#   switchboardctl.sh SWITCHBOARDCTL SWITCHBOARDD PLUGIN_DIR FIXTURES_DIR
source "$(dirname "$0")/lib.sh"
ctl=$1
daemon=$2
plugins=$3
fixtures=$4
token=ctl-test-admin-token-0123456789

# check-config: every problem, named by key, exit 1.
cat >"$TMP/bad.yaml" <<YAML
server: { listen: "127.0.0.1:0", no_such_key: 1 }
auth: { bootstrap_admin_token: "$token" }
channels: []
YAML
rc=0
"$ctl" check-config "$TMP/bad.yaml" 2>"$TMP/check.err" || rc=$?
[ "$rc" -eq 1 ] || fail "check-config on a bad file exited $rc, expected 1"
grep -q 'server.no_such_key' "$TMP/check.err" || { cat "$TMP/check.err" >&2; fail "check-config did not name server.no_such_key"; }

# A daemon with a Telegram channel and, where built, the three Meta channels. Platform APIs
# point at a closed loopback port: nothing leaves the machine.
closed=http://127.0.0.1:9
cat >"$TMP/switchboard.yaml" <<YAML
server: { listen: "127.0.0.1:0", threads: 1 }
storage: { backend: sqlite, sqlite: { path: "$TMP/switchboard.db" } }
plugins: { dir: "$plugins" }
auth: { bootstrap_admin_token: "$token" }
channels:
  - id: tg-test
    plugin: telegram
    settings: { bot_token: "123456:test-token", secret_token: "tg-secret", api_base: "$closed" }
YAML
meta=()
if [ -f "$plugins/whatsapp.so" ]; then
  meta+=(wa-test)
  cat >>"$TMP/switchboard.yaml" <<YAML
  - id: wa-test
    plugin: whatsapp
    settings: { phone_number_id: "1234567890", access_token: "wa-token", app_secret: "wa-app-secret",
                verify_token: "wa-verify", api_base: "$closed" }
YAML
fi
if [ -f "$plugins/messenger.so" ]; then
  meta+=(fb-test)
  cat >>"$TMP/switchboard.yaml" <<YAML
  - id: fb-test
    plugin: messenger
    settings: { page_id: "1122334455", page_access_token: "fb-token", app_secret: "fb-app-secret",
                verify_token: "fb-verify", api_base: "$closed" }
YAML
fi
if [ -f "$plugins/instagram.so" ]; then
  meta+=(ig-test)
  cat >>"$TMP/switchboard.yaml" <<YAML
  - id: ig-test
    plugin: instagram
    settings: { ig_account_id: "5566778899", access_token: "ig-token", app_secret: "ig-app-secret",
                verify_token: "ig-verify", api_base: "$closed" }
YAML
fi
if [ -f "$plugins/api.so" ]; then
  # Not the fixtures' shared secret, and another header: simulate-inbound must sign from these.
  cat >>"$TMP/switchboard.yaml" <<YAML
  - id: web-test
    plugin: api
    settings: { shared_secret: "this-channel-has-its-own-secret", callback_url: "$closed/callback",
                signature_header: "X-Web-Signature" }
YAML
fi
"$ctl" check-config "$TMP/switchboard.yaml" >/dev/null || fail "check-config rejected the test config"
start_daemon "$daemon" "$TMP/switchboard.yaml" "$TMP/daemon.log"
export SWITCHBOARD_URL=$DAEMON_URL SWITCHBOARD_TOKEN=$token

# Two agents watch: raw frames and the human-readable form.
"$ctl" watch --json >"$TMP/watch.json" 2>"$TMP/watch.err" &
PIDS+=($!)
"$ctl" watch >"$TMP/watch.txt" 2>&1 &
PIDS+=($!)
wait_for "both watchers' hello frames" bash -c "grep -q '\"type\":\"hello\"' '$TMP/watch.json' && grep -q hello '$TMP/watch.txt'"

# A Telegram customer writes.
"$ctl" simulate-inbound --config "$TMP/switchboard.yaml" --channel tg-test --text "hello from the test" \
  --from-id 4242 --from-name "Grace Hopper" >"$TMP/sim.out" || { cat "$TMP/sim.out" >&2; fail "simulate-inbound telegram failed"; }
grep -q 'HTTP 200' "$TMP/sim.out" || fail "simulate-inbound did not print the daemon's 200: $(cat "$TMP/sim.out")"

has_conversation() { "$ctl" conversations list --json --channel "$1" | grep -q "\"platform_id\":\"$2\""; }
wait_for "the Telegram conversation" has_conversation tg-test 4242
list=$("$ctl" conversations list)
[[ $list == *"tg-test"*"Grace Hopper"* ]] || fail "conversations list does not show it: $list"
wait_for "the new_message frame" grep -q '"type":"new_message".*hello from the test' "$TMP/watch.json"
wait_for "the human watch line" grep -q 'new_message.*Grace Hopper: hello from the test' "$TMP/watch.txt"

# Each Meta platform: the daemon accepts the signature only if the HMAC is right.
for channel in "${meta[@]}"; do
  "$ctl" simulate-inbound --config "$TMP/switchboard.yaml" --channel "$channel" --text "hi from $channel" \
    --from-id 15550009999 >"$TMP/sim-$channel.out" 2>&1 ||
    { cat "$TMP/sim-$channel.out" "$TMP/daemon.log" >&2; fail "simulate-inbound $channel was refused"; }
  wait_for "the $channel conversation" has_conversation "$channel" 15550009999
done

# Any plugin: a kit fixture, signed as the api plugin's schema declares, with this channel's secret.
if [ -f "$plugins/api.so" ]; then
  "$ctl" simulate-inbound --config "$TMP/switchboard.yaml" --channel web-test \
    --fixture "$fixtures/api/webhooks/message_text.json" >"$TMP/sim-api.out" 2>&1 ||
    { cat "$TMP/sim-api.out" "$TMP/daemon.log" >&2; fail "simulate-inbound --fixture for the api channel was refused"; }
  grep -q 'HTTP 200' "$TMP/sim-api.out" || fail "simulate-inbound --fixture printed: $(cat "$TMP/sim-api.out")"
  wait_for "the api conversation" has_conversation web-test visitor-42
  wait_for "its new_message frame" grep -q '"type":"new_message".*my order' "$TMP/watch.json"
  # The fixture as it is (the fixtures' secret) is refused by this channel: the signing mattered.
  sig=$(grep -o 'sha256=[0-9a-f]*' "$fixtures/api/webhooks/message_text.json")
  body=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["request"]["body"], end="")' \
    "$fixtures/api/webhooks/message_text.json")
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$DAEMON_URL/webhooks/web-test" \
    -H "X-Web-Signature: $sig" -H 'Content-Type: application/json' --data-binary "$body")
  [ "$code" = 401 ] || fail "the fixture's own signature got HTTP $code from a channel with another secret, expected 401"
  # A file that is not a fixture: a clear error, exit 1.
  echo '{"expect":"accept"}' >"$TMP/not-a-fixture.json"
  rc=0
  "$ctl" simulate-inbound --config "$TMP/switchboard.yaml" --channel web-test --fixture "$TMP/not-a-fixture.json" \
    2>"$TMP/sim-bad.err" || rc=$?
  [ "$rc" -eq 1 ] && grep -q 'no "request" object' "$TMP/sim-bad.err" ||
    fail "a file without a request: exit $rc, $(cat "$TMP/sim-bad.err")"
fi

# send: the platform is unreachable, so the agent gets its error with a code, exit 1.
conversation=$("$ctl" conversations list --json --channel tg-test | grep -oE '"id":"[0-9]+"' | head -n1 | grep -oE '[0-9]+')
rc=0
"$ctl" send "$conversation" "answer from the test" >"$TMP/send.out" 2>"$TMP/send.err" || rc=$?
[ "$rc" -eq 1 ] || fail "send to an unreachable platform exited $rc, expected 1"
grep -qE 'HTTP [0-9]{3} [a-z_]+:' "$TMP/send.err" || fail "send did not print the error code: $(cat "$TMP/send.err")"

# resolve / reopen: the conversation changes, and watchers see conversation_status.
"$ctl" conversations resolve "$conversation" >"$TMP/resolve.out" 2>&1 || fail "resolve failed: $(cat "$TMP/resolve.out")"
grep -q "conversation $conversation (tg-test) is resolved" "$TMP/resolve.out" || fail "resolve printed: $(cat "$TMP/resolve.out")"
wait_for "the conversation_status watch line" grep -q "conversation_status.*conversation $conversation  resolved by" "$TMP/watch.txt"
"$ctl" conversations reopen "$conversation" >"$TMP/reopen.out" 2>&1 || fail "reopen failed: $(cat "$TMP/reopen.out")"
grep -q "is open" "$TMP/reopen.out" || fail "reopen printed: $(cat "$TMP/reopen.out")"
rc=0
"$ctl" conversations resolve 999999 >"$TMP/resolve404.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q 'HTTP 404 not_found' "$TMP/resolve404.out" || fail "resolving a missing conversation: $(cat "$TMP/resolve404.out")"

# canned: add a shared reply, list it rendered for the conversation, edit it, a duplicate is 409, rm.
"$ctl" canned add Greet 'Hello {{contact.name}}!' --scope shared >"$TMP/canned-add.out" 2>&1 ||
  fail "canned add failed: $(cat "$TMP/canned-add.out")"
canned=$(grep -oE 'canned reply [0-9]+' "$TMP/canned-add.out" | grep -oE '[0-9]+')
grep -q "/greet (shared) Hello {{contact.name}}!" "$TMP/canned-add.out" || fail "canned add printed: $(cat "$TMP/canned-add.out")"
list=$("$ctl" canned list --prefix gr --conversation "$conversation")
[[ $list == *"/greet"*"shared"*"Hello Grace Hopper!"* ]] || fail "canned list does not show it rendered: $list"
"$ctl" canned edit "$canned" --text 'Hi {{contact.first_name}}' >"$TMP/canned-edit.out" 2>&1 ||
  fail "canned edit failed: $(cat "$TMP/canned-edit.out")"
[[ $("$ctl" canned list --conversation "$conversation") == *"Hi Grace"* ]] || fail "the edit did not show"
rc=0
"$ctl" canned add greet 'again' --scope shared >/dev/null 2>"$TMP/canned-dup.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q 'HTTP 409 conflict' "$TMP/canned-dup.err" || fail "a duplicate shortcode: $(cat "$TMP/canned-dup.err")"
"$ctl" canned rm "$canned" >"$TMP/canned-rm.out" 2>&1 || fail "canned rm failed: $(cat "$TMP/canned-rm.out")"
[[ $("$ctl" canned list) == "no canned replies" ]] || fail "canned list after rm: $("$ctl" canned list)"

# A wrong token is reported as such.
rc=0
"$ctl" --token wrong-token-0123456789 conversations list 2>"$TMP/401.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q 'HTTP 401 unauthorized' "$TMP/401.err" || fail "a wrong token was not reported: $(cat "$TMP/401.err")"

stop_daemon "$TMP/daemon.log"
echo "switchboardctl: check-config, simulate-inbound (telegram ${meta[*]}, api --fixture), watch, conversations list/resolve/reopen, send, canned add/list/edit/rm: ok"
