#!/usr/bin/env bash
# sb-plugin-check on a deliberately broken plugin (broken_plugin.cpp): it must exit 1, survive
# the plugin's crash, and fail exactly the checks the plugin breaks.
#   kit_catches_broken.sh SB_PLUGIN_CHECK BROKEN_SO
set -euo pipefail
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
"$1" "$2" --config '{"token":"very-secret-token-42"}' --json >"$out" || rc=$?
[ "$rc" -eq 1 ] || { cat "$out"; echo "FAIL: sb-plugin-check exited $rc on a broken plugin, expected 1" >&2; exit 1; }
python3 - "$out" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
result = {c["name"]: c for c in report["checks"]}
must_fail = ["open.rejects_empty_config", "open.rejects_schema_violations", "parse.hostile.empty",
             "parse.hostile.truncated", "build_send.image", "classify_send.hostile",
             "build_send.text", "build_send.refuses_unknown_content", "secrets.not_in_logs_or_errors"]
must_pass = ["loader.accepts", "descriptor.mandatory_functions", "entry.same_pointer", "descriptor.config_schema"]
bad = [n for n in must_fail if result.get(n, {}).get("result") != "fail"]
bad += [n for n in must_pass if result.get(n, {}).get("result") != "pass"]
assert not bad, "unexpected results: " + json.dumps([result.get(n, n) for n in bad])
assert "crashed" in result["parse.hostile.empty"]["detail"], result["parse.hostile.empty"]
assert report["passed"] is False
print("sb-plugin-check caught every defect of the broken plugin")
PY
