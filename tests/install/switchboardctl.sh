#!/usr/bin/env bash
# switchboardctl against a real daemon: check-config on a broken file, simulate-inbound for
# each platform whose plugin is built (the daemon verifies the signature and stores the
# message), simulate-inbound --fixture for the api plugin (re-signed with the channel's own
# secret), watch printing the event, conversations list showing the conversation, and send
# reporting the platform error with its code, canned replies added, listed rendered for the
# conversation, edited and removed; the conversation marked pending, snoozed (until a time and
# for a duration), prioritized, read and labelled, each checked through the API, with the list's
# filters and counts; labels defined, edited and removed; a note that mentions a colleague and
# never reaches the (fake) platform; and an agent's availability in `me` and the directory.
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

# A fake Telegram Bot API for the tg-fake channel: it answers every call as sendMessage does and
# logs each request on a line, so the test can tell what reached the platform.
cat >"$TMP/fake_telegram.py" <<'PY'
import http.server, json, os, sys
log_path, port_path = sys.argv[1], sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(log_path, "ab") as log:
            log.write(b"%s %s %s\n" % (self.command.encode(), self.path.encode(), body))
        answer = json.dumps({"ok": True, "result": {"message_id": 77, "date": 1700000000,
                                                    "chat": {"id": 5151, "type": "private"}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    do_GET = do_POST
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_path + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_path + ".tmp", port_path)
server.serve_forever()
PY
: >"$TMP/fake_telegram.log"
python3 "$TMP/fake_telegram.py" "$TMP/fake_telegram.log" "$TMP/fake_telegram.port" &
PIDS+=($!)
wait_for "the fake Telegram API" test -s "$TMP/fake_telegram.port"
fake_telegram=http://127.0.0.1:$(cat "$TMP/fake_telegram.port")

# A daemon with two Telegram channels and, where built, the three Meta channels. Platform APIs
# point at a closed loopback port (tg-fake's at the fake above): nothing leaves the machine.
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
  - id: tg-fake
    plugin: telegram
    settings: { bot_token: "654321:fake-token", secret_token: "tg-fake-secret", api_base: "$fake_telegram" }
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

# What the daemon itself says, straight from the API (not through switchboardctl), and one value
# of it: `field EXPR` evaluates a Python expression over the JSON on stdin, bound to d.
api() { curl -sf -H "Authorization: Bearer ${2:-$token}" "$DAEMON_URL$1"; }
field() {
  python3 -c 'import json,sys; d=json.load(sys.stdin); v=eval(sys.argv[1]); print(v if isinstance(v,str) else json.dumps(v))' "$1"
}
ids() { field '",".join(c["id"] for c in d["items"])'; }

# pending: the status changes, the list filters by it (also several statuses at once), the
# table shows the row's new fields, and counts count it.
"$ctl" conversations pending "$conversation" >"$TMP/pending.out" 2>&1 || fail "pending failed: $(cat "$TMP/pending.out")"
grep -q "conversation $conversation (tg-test) is pending, unassigned" "$TMP/pending.out" || fail "pending printed: $(cat "$TMP/pending.out")"
[ "$(api "/api/v1/conversations/$conversation" | field 'd["status"]')" = pending ] || fail "the conversation is not pending"
[ "$("$ctl" conversations list --json --status pending | ids)" = "$conversation" ] || fail "--status pending did not list just it"
open_ids=$("$ctl" conversations list --json --status open | ids)
[[ ",$open_ids," != *",$conversation,"* ]] || fail "--status open lists the pending conversation: $open_ids"
both=$("$ctl" conversations list --json --status open,pending | field 'len(d["items"])')
[ "$both" = "$(api /api/v1/conversations | field 'len(d["items"])')" ] && [ "$both" -gt 1 ] ||
  fail "--status open,pending listed $both conversations"
row=$("$ctl" conversations list --status pending | sed -n 2p)
[[ $row =~ ^$conversation\ +tg-test\ +pending\ +-\ +Grace\ Hopper\ +-\ +-\ +1\ +[0-9-]+\ [0-9:]+Z\ +you:\ answer\ from\ the\ test$ ]] ||
  fail "the list's row: $("$ctl" conversations list --status pending)"
rc=0
"$ctl" conversations list --status closed >/dev/null 2>"$TMP/status.err" || rc=$?
[ "$rc" -ne 0 ] && grep -q '"closed" is not open, pending, snoozed or resolved' "$TMP/status.err" ||
  fail "--status closed: exit $rc, $(cat "$TMP/status.err")"
counts=$("$ctl" conversations counts --channel tg-test)
[[ $(awk '$1 == "all" { print $2, $3, $4, $5 }' <<<"$counts") == "0 1 0 0" ]] || fail "counts --channel tg-test: $counts"
[[ $(awk '$1 == "unassigned" { print $3 }' <<<"$counts") == 1 && $(awk '$1 == "mine" { print $3 }' <<<"$counts") == 0 ]] ||
  fail "counts: $counts"
[ "$("$ctl" conversations counts --json | field 'd["all"]["pending"]')" = 1 ] || fail "counts --json"

# snooze: until a given time, and for a duration turned into a time by switchboardctl.
"$ctl" conversations snooze "$conversation" --until 2030-01-02T03:04:05Z >"$TMP/snooze.out" 2>&1 ||
  fail "snooze failed: $(cat "$TMP/snooze.out")"
grep -q "is snoozed until 2030-01-02T03:04:05.000Z" "$TMP/snooze.out" || fail "snooze printed: $(cat "$TMP/snooze.out")"
[ "$(api "/api/v1/conversations/$conversation" | field 'd["status"] + " " + d["snoozed_until"]')" = "snoozed 2030-01-02T03:04:05.000Z" ] ||
  fail "after snooze: $(api "/api/v1/conversations/$conversation")"
[[ $("$ctl" conversations list --status snoozed) == *"snoozed until 2030-01-02 03:04Z"* ]] || fail "the list's snoozed row"
before=$(date +%s)
"$ctl" conversations snooze "$conversation" --until 1h30m >"$TMP/snooze2.out" 2>&1 || fail "snooze 1h30m failed: $(cat "$TMP/snooze2.out")"
after=$(date +%s)
until_s=$(api "/api/v1/conversations/$conversation" |
  field 'int(__import__("datetime").datetime.fromisoformat(d["snoozed_until"].replace("Z", "+00:00")).timestamp())')
[ "$until_s" -ge $((before + 5400 - 1)) ] && [ "$until_s" -le $((after + 5400)) ] ||
  fail "snooze --until 1h30m at $before..$after gave snoozed_until $until_s"
rc=0
"$ctl" conversations snooze "$conversation" --until soon >/dev/null 2>"$TMP/snooze-bad.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q 'neither an RFC 3339 time' "$TMP/snooze-bad.err" || fail "--until soon: exit $rc, $(cat "$TMP/snooze-bad.err")"
rc=0
"$ctl" conversations snooze "$conversation" --until 2001-01-01T00:00:00Z >/dev/null 2>"$TMP/snooze-past.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q 'HTTP 400' "$TMP/snooze-past.err" || fail "a snooze in the past: exit $rc, $(cat "$TMP/snooze-past.err")"

# priority: set, filtered by, shown; a level the API does not know never leaves the tool.
"$ctl" conversations priority "$conversation" high >"$TMP/priority.out" 2>&1 || fail "priority failed: $(cat "$TMP/priority.out")"
grep -q ", priority high" "$TMP/priority.out" || fail "priority printed: $(cat "$TMP/priority.out")"
[ "$(api "/api/v1/conversations/$conversation" | field 'd["priority"]')" = high ] || fail "the priority is not high"
[ "$("$ctl" conversations list --json --priority high | ids)" = "$conversation" ] || fail "--priority high"
[[ $("$ctl" conversations list --priority urgent) == "no conversations" ]] || fail "--priority urgent lists something"
rc=0
"$ctl" conversations priority "$conversation" extreme >/dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "priority extreme was accepted"

# read: the admin's unread count goes to 0.
[ "$(api "/api/v1/conversations/$conversation" | field 'd["unread_count"]')" = 1 ] || fail "the conversation should be unread"
"$ctl" conversations read "$conversation" >"$TMP/read.out" 2>&1 || fail "read failed: $(cat "$TMP/read.out")"
grep -qx "conversation $conversation read" "$TMP/read.out" || fail "read printed: $(cat "$TMP/read.out")"
[ "$(api "/api/v1/conversations/$conversation" | field '[d["unread_count"], d["last_read_message_id"] is not None]')" = "[0, true]" ] ||
  fail "after read: $(api "/api/v1/conversations/$conversation")"

# labels: defined (the name lower-cased), edited, listed; put on the conversation and taken off.
"$ctl" labels add Billing --color '#ff8800' --description 'Money matters' >"$TMP/label-add.out" 2>&1 ||
  fail "labels add failed: $(cat "$TMP/label-add.out")"
grep -qx "label billing (#ff8800): Money matters" "$TMP/label-add.out" || fail "labels add printed: $(cat "$TMP/label-add.out")"
"$ctl" labels add vip --color '#aa00ff' >/dev/null || fail "labels add vip failed"
"$ctl" labels edit billing --color '#00aa00' >"$TMP/label-edit.out" 2>&1 || fail "labels edit failed: $(cat "$TMP/label-edit.out")"
[ "$(api /api/v1/labels | field '[[l["name"], l["color"], l["description"]] for l in d["items"]]')" = \
  '[["billing", "#00aa00", "Money matters"], ["vip", "#aa00ff", ""]]' ] || fail "labels after edit: $(api /api/v1/labels)"
[[ $("$ctl" labels list | sed -n 2p) =~ ^billing\ +#00aa00\ +Money\ matters$ ]] || fail "labels list: $("$ctl" labels list)"
rc=0
"$ctl" labels add billing --color '#000000' >/dev/null 2>"$TMP/label-dup.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q 'HTTP 409 conflict' "$TMP/label-dup.err" || fail "a duplicate label: $(cat "$TMP/label-dup.err")"
"$ctl" conversations label "$conversation" --add billing --add vip >"$TMP/labelled.out" 2>&1 ||
  fail "conversations label --add failed: $(cat "$TMP/labelled.out")"
grep -q "labels: billing, vip" "$TMP/labelled.out" || fail "conversations label printed: $(cat "$TMP/labelled.out")"
[ "$(api "/api/v1/conversations/$conversation" | field 'd["labels"]')" = '["billing", "vip"]' ] || fail "the labels are not on it"
[ "$("$ctl" conversations list --json --label vip | ids)" = "$conversation" ] || fail "--label vip"
[[ $("$ctl" conversations list --label vip | sed -n 2p) == *"billing, vip"* ]] || fail "the list's labels column"
"$ctl" conversations label "$conversation" --remove vip >/dev/null || fail "conversations label --remove failed"
[ "$(api "/api/v1/conversations/$conversation" | field 'd["labels"]')" = '["billing"]' ] || fail "vip is still on it"
rc=0
"$ctl" conversations label "$conversation" --add no-such-label >/dev/null 2>"$TMP/label-404.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q 'HTTP 404' "$TMP/label-404.err" || fail "an unknown label: $(cat "$TMP/label-404.err")"
"$ctl" labels rm vip >"$TMP/label-rm.out" 2>&1 && grep -qx "label vip deleted" "$TMP/label-rm.out" || fail "labels rm: $(cat "$TMP/label-rm.out")"
[ "$(api /api/v1/labels | field '[l["name"] for l in d["items"]]')" = '["billing"]' ] || fail "vip was not deleted"

# An agent, Linus: `me`, its availability, and the directory every agent may read.
"$ctl" agents create Linus >"$TMP/linus.out" 2>&1 || fail "agents create failed: $(cat "$TMP/linus.out")"
linus=$(grep -oE '^agent [^:]+' "$TMP/linus.out" | cut -d' ' -f2)
linus_token=$("$ctl" agents token "$linus" 2>/dev/null)
[[ $("$ctl" me) == "agent admin: "*"(admin), availability online"* ]] || fail "me as the admin: $("$ctl" me)"
[[ $("$ctl" --token "$linus_token" me) == "agent $linus: Linus (agent), availability online, presence offline, not connected" ]] ||
  fail "me as Linus: $("$ctl" --token "$linus_token" me)"
"$ctl" --token "$linus_token" me availability busy >"$TMP/busy.out" 2>&1 || fail "me availability busy failed: $(cat "$TMP/busy.out")"
grep -q "availability busy" "$TMP/busy.out" || fail "me availability printed: $(cat "$TMP/busy.out")"
[ "$(api /api/v1/me "$linus_token" | field 'd["availability"]')" = busy ] || fail "Linus is not busy"
rc=0
"$ctl" --token "$linus_token" me availability away >/dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "me availability away was accepted"
"$ctl" --token "$linus_token" watch --json >"$TMP/linus-watch.json" 2>&1 &
PIDS+=($!)
wait_for "Linus's hello" grep -q '"type":"hello"' "$TMP/linus-watch.json"
row=$("$ctl" --token "$linus_token" agents list | grep "^$linus ")
[[ $row =~ ^$linus\ +Linus\ +agent\ +busy\ +busy\ +yes\ +0\ + ]] || fail "agents list for Linus: $("$ctl" --token "$linus_token" agents list)"
rc=0
"$ctl" --token "$linus_token" labels add secret --color '#123456' >/dev/null 2>"$TMP/label-403.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q 'HTTP 403' "$TMP/label-403.err" || fail "an agent adding a label: $(cat "$TMP/label-403.err")"

# note: on a conversation of the fake platform, mentioning Linus; it is stored as a note, Linus
# is told, and the platform never sees it, while a reply sent afterwards reaches it.
"$ctl" simulate-inbound --config "$TMP/switchboard.yaml" --channel tg-fake --text "hello fake" \
  --from-id 5151 --from-name "Ken Thompson" >/dev/null || fail "simulate-inbound tg-fake failed"
wait_for "the tg-fake conversation" has_conversation tg-fake 5151
fake_conversation=$("$ctl" conversations list --json --channel tg-fake | ids)
"$ctl" note "$fake_conversation" "@linus please look at this" >"$TMP/note.out" 2>&1 || fail "note failed: $(cat "$TMP/note.out")"
[ "$(cat "$TMP/note.out")" = "note $(grep -oE '^note [0-9]+' "$TMP/note.out" | cut -d' ' -f2) in conversation $fake_conversation: stored
  @linus please look at this
  mentioned: $linus" ] || fail "note printed: $(cat "$TMP/note.out")"
[ "$(api "/api/v1/conversations/$fake_conversation/messages?limit=1" |
  field '[d["items"][0][k] for k in ("kind", "status", "direction")] + [d["items"][0]["content"]["mentions"]]')" = \
  "[\"note\", \"stored\", \"out\", [\"$linus\"]]" ] || fail "the stored note: $(api "/api/v1/conversations/$fake_conversation/messages?limit=1")"
wait_for "Linus's agent_mentioned frame" grep -q '"type":"agent_mentioned".*please look at this' "$TMP/linus-watch.json"
"$ctl" send "$fake_conversation" "a reply through the fake" >"$TMP/fake-send.out" 2>&1 || fail "send to the fake failed: $(cat "$TMP/fake-send.out")"
grep -q "(platform id 5151:77)" "$TMP/fake-send.out" || fail "send printed: $(cat "$TMP/fake-send.out")"
grep -q "a reply through the fake" "$TMP/fake_telegram.log" || fail "the fake platform did not get the reply: $(cat "$TMP/fake_telegram.log")"
! grep -q "please look" "$TMP/fake_telegram.log" || fail "the note reached the platform: $(cat "$TMP/fake_telegram.log")"

# search: the customer's words, marked; contacts: listed, shown, merged and unmerged.
"$ctl" search "hello fro" >"$TMP/search.out" 2>&1 || fail "search failed: $(cat "$TMP/search.out")"
grep -q '\[hello\] \[from\] the test' "$TMP/search.out" || fail "search printed: $(cat "$TMP/search.out")"
"$ctl" search "nothing-like-this" | grep -qx "nothing found" || fail "an empty search: $("$ctl" search nothing-like-this)"
grace_contact=$(api "/api/v1/contacts?q=grace" | field 'd["items"][0]["id"]')
fake_contact=$(api "/api/v1/conversations/$fake_conversation" | field 'd["contact"]["id"]')
[[ $("$ctl" contacts list --q "grace hop" | sed -n 2p) == "$grace_contact "*"Grace Hopper"*"tg-test:4242"* ]] ||
  fail "contacts list --q: $("$ctl" contacts list --q 'grace hop')"
"$ctl" contacts merge "$grace_contact" "$fake_contact" >"$TMP/merge.out" 2>&1 || fail "contacts merge failed: $(cat "$TMP/merge.out")"
grep -q "^contact $grace_contact: Grace Hopper" "$TMP/merge.out" && [ "$(grep -c '^  identity ' "$TMP/merge.out")" = 2 ] ||
  fail "contacts merge printed: $(cat "$TMP/merge.out")"
[ "$(api "/api/v1/conversations/$fake_conversation" | field 'd["contact"]["id"]')" = "$grace_contact" ] ||
  fail "the merged conversation does not name the kept contact"
"$ctl" contacts unmerge "$fake_contact" >/dev/null 2>&1 || fail "contacts unmerge failed"
[ "$("$ctl" contacts show "$grace_contact" | grep -c '^  identity ')" = 1 ] || fail "contacts show after unmerge: $("$ctl" contacts show "$grace_contact")"
rc=0
"$ctl" --token "$linus_token" contacts merge "$grace_contact" "$fake_contact" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "an agent's merge exited $rc, expected 1 (403)"

# A wrong token is reported as such.
rc=0
"$ctl" --token wrong-token-0123456789 conversations list 2>"$TMP/401.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q 'HTTP 401 unauthorized' "$TMP/401.err" || fail "a wrong token was not reported: $(cat "$TMP/401.err")"

stop_daemon "$TMP/daemon.log"
echo "switchboardctl: check-config, simulate-inbound (telegram ${meta[*]}, api --fixture), watch, conversations list/counts/resolve/reopen/pending/snooze/priority/read/label, send, note, canned add/list/edit/rm, labels add/list/edit/rm, agents list, me, me availability, search, contacts list/show/merge/unmerge: ok"
