#!/usr/bin/env bash
# sb-plugin-check's options: --help (stdout, exit 0, the fixtures format), a skipped check fails
# unless --allow-skips, --print-events shows what parse emitted, verdicts are printed by name.
#   kit_options.sh SB_PLUGIN_CHECK API_SO FIXTURES_DIR
set -euo pipefail
check=$1 plugin=$2 fixtures=$3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

rc=0
"$check" --help >"$TMP/help.out" 2>"$TMP/help.err" || rc=$?
[ "$rc" -eq 0 ] || fail "--help exited $rc"
[ ! -s "$TMP/help.err" ] || fail "--help wrote to stderr: $(cat "$TMP/help.err")"
for want in "webhooks/NAME.json" '"expect"' "--allow-skips" "--print-events" "config.json"; do
  grep -qF -- "$want" "$TMP/help.out" || fail "--help does not mention $want"
done

# An empty --bodies directory is a skipped check: a failure unless allowed.
mkdir "$TMP/empty"
rc=0
"$check" "$plugin" --fixtures "$fixtures" --bodies "$TMP/empty" >"$TMP/skip.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat "$TMP/skip.out"; fail "a skipped check exited $rc, expected 1"; }
grep -q "^SKIP parse.bodies" "$TMP/skip.out" || { cat "$TMP/skip.out"; fail "no SKIP line"; }
grep -q "0 failed, 1 skipped" "$TMP/skip.out" || { cat "$TMP/skip.out"; fail "the skip is not the only reason"; }
rc=0
"$check" "$plugin" --fixtures "$fixtures" --bodies "$TMP/empty" --allow-skips >"$TMP/allowed.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { cat "$TMP/allowed.out"; fail "--allow-skips exited $rc, expected 0"; }

# With no config at all, the checks that need one are skipped (and so fail), not passed.
rc=0
"$check" "$plugin" >"$TMP/noconfig.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat "$TMP/noconfig.out"; fail "no config exited $rc, expected 1"; }
grep -q "^SKIP build_send" "$TMP/noconfig.out" || { cat "$TMP/noconfig.out"; fail "build_send not skipped"; }
grep -q "^SKIP secrets.not_in_logs_or_errors — no good config" "$TMP/noconfig.out" ||
  { cat "$TMP/noconfig.out"; fail "the secrets skip does not say there is no config"; }

# --print-events: every accepted fixture's events, as JSON.
"$check" "$plugin" --fixtures "$fixtures" --print-events >"$TMP/events.out" 2>&1 ||
  { cat "$TMP/events.out"; fail "--print-events run failed"; }
grep -q "^events of webhook\." "$TMP/events.out" || { cat "$TMP/events.out"; fail "no events printed"; }
grep -q '^  {.*"type":"message"' "$TMP/events.out" || { cat "$TMP/events.out"; fail "no message event printed"; }

# A fixture expecting the wrong verdict names both verdicts (and the plugin's reason).
cp -r "$fixtures" "$TMP/wrong"
first=$(ls "$TMP/wrong/webhooks/"*.json | head -1)
sed -i 's/"expect": *"[a-z_]*"/"expect": "responded"/' "$first"
"$check" "$plugin" --fixtures "$TMP/wrong" >"$TMP/wrong.out" 2>&1 && fail "a wrong expectation passed"
grep -qE "verify gave (accept|unauthorized|forbidden|bad_request)[ ,(]" "$TMP/wrong.out" ||
  { cat "$TMP/wrong.out"; fail "the verdict is not printed by name"; }
echo "sb-plugin-check: --help, skips, --allow-skips, --print-events and verdict names behave"
