#!/usr/bin/env bash
# Fixture: `cmake --install BUILD --prefix PREFIX` into a fresh PREFIX, then checks the FHS
# layout an operator and a plugin author rely on.
#   install_prefix.sh BUILD_DIR PREFIX
set -euo pipefail
build=$1
prefix=$2
fail() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" >"$build/test-install.log" 2>&1 ||
  { cat "$build/test-install.log" >&2; fail "cmake --install failed"; }

for f in bin/switchboardd bin/switchboardctl; do
  [ -x "$prefix/$f" ] || fail "$f is missing or not executable"
done
ls "$prefix"/lib*/switchboard/plugins/telegram.so >/dev/null 2>&1 || fail "lib/switchboard/plugins/telegram.so is missing"
[ -f "$prefix/include/switchboard/plugin_abi.h" ] || fail "include/switchboard/plugin_abi.h is missing"
for f in SwitchboardPluginAPIConfig.cmake SwitchboardPluginAPIConfigVersion.cmake SwitchboardPluginAPITargets.cmake; do
  ls "$prefix"/lib*/cmake/SwitchboardPluginAPI/"$f" >/dev/null 2>&1 || fail "lib/cmake/SwitchboardPluginAPI/$f is missing"
done
[ -f "$prefix/share/pkgconfig/switchboard-plugin-api.pc" ] || fail "share/pkgconfig/switchboard-plugin-api.pc is missing"
for f in etc/switchboard/switchboard.yaml etc/switchboard/switchboard.env.example lib/systemd/system/switchboard.service; do
  [ -f "$prefix/$f" ] || fail "$f is missing"
done
grep -q "dir: \"$prefix/lib[^\"]*/switchboard/plugins\"" "$prefix/etc/switchboard/switchboard.yaml" ||
  fail "the installed config's plugins.dir is not the installed plugin dir"
grep -q 'path: "/var/lib/switchboard/switchboard.db"' "$prefix/etc/switchboard/switchboard.yaml" ||
  fail "the installed config's sqlite path is not /var/lib/switchboard/switchboard.db"
grep -qx "ExecStart=$prefix/bin/switchboardd --config $prefix/etc/switchboard/switchboard.yaml" \
  "$prefix/lib/systemd/system/switchboard.service" || fail "the unit's ExecStart does not use the install prefix"
# The console, when this tree builds it (SB_CONSOLE).
if [ -d "$build/console/dist" ]; then
  [ -f "$prefix/share/switchboard/console/index.html" ] || fail "share/switchboard/console/index.html is missing"
  ls "$prefix"/share/switchboard/console/*/app.js >/dev/null 2>&1 || fail "share/switchboard/console/<version>/app.js is missing"
  grep -q "dir: \"$prefix/share/switchboard/console\"" "$prefix/etc/switchboard/switchboard.yaml" ||
    fail "the installed config's console.dir is not the installed console"
fi
echo "installed into $prefix"
