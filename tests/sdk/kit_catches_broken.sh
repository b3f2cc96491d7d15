#!/usr/bin/env bash
# sb-plugin-check on a deliberately broken plugin (broken_plugin.cpp): it must exit 1, survive
# the plugin's crash, and fail exactly the checks the plugin breaks.
#   kit_catches_broken.sh SB_PLUGIN_CHECK BROKEN_SO
set -euo pipefail
out=$(mktemp)
fixtures=$(mktemp -d)
trap 'rm -rf "$out" "$fixtures"' EXIT
# One webhook the plugin accepts; its declared signature must then be what verify() checks.
mkdir "$fixtures/webhooks"
cat >"$fixtures/webhooks/hello.json" <<'JSON'
{"request":{"method":"POST","target":"/webhooks/check","headers":{"X-Broken-Signature":"anything"},
            "body":"{\"hello\":1}"},"expect":"accept","parse":"invalid"}
JSON
rc=0
"$1" "$2" --config '{"token":"very-secret-token-42"}' --fixtures "$fixtures" --json >"$out" || rc=$?
[ "$rc" -eq 1 ] || { cat "$out"; echo "FAIL: sb-plugin-check exited $rc on a broken plugin, expected 1" >&2; exit 1; }
python3 - "$out" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
result = {c["name"]: c for c in report["checks"]}
must_fail = ["open.rejects_empty_config", "open.rejects_schema_violations", "parse.hostile.empty",
             "parse.hostile.truncated", "build_send.image", "classify_send.hostile",
             "build_send.text", "build_send.refuses_unknown_content", "secrets.not_in_logs_or_errors",
             "signature.declared_scheme.hello"]
must_pass = ["loader.accepts", "descriptor.mandatory_functions", "entry.same_pointer", "descriptor.config_schema",
             "signature.declaration"]
bad = [n for n in must_fail if result.get(n, {}).get("result") != "fail"]
bad += [n for n in must_pass if result.get(n, {}).get("result") != "pass"]
assert not bad, "unexpected results: " + json.dumps([result.get(n, n) for n in bad])
assert "crashed" in result["parse.hostile.empty"]["detail"], result["parse.hostile.empty"]
assert "still accepted" in result["signature.declared_scheme.hello"]["detail"], result["signature.declared_scheme.hello"]
assert report["passed"] is False
print("sb-plugin-check caught every defect of the broken plugin")
PY
