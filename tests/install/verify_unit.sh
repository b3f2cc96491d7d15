#!/usr/bin/env bash
# `systemd-analyze verify` on the unit as installed, in a copy whose ExecStart is the built
# daemon (verify checks that the binary exists and is executable).
#   verify_unit.sh BUILD_DIR DAEMON_BINARY
source "$(dirname "$0")/lib.sh"
build=$1
daemon=$(realpath "$2")

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (apt-get install systemd)"
  exit 77
fi
cmake -DCMAKE_INSTALL_PREFIX="$TMP/prefix" -P "$build/InstallServiceFiles.cmake" >/dev/null
unit=$TMP/prefix/lib/systemd/system/switchboard.service
[ -f "$unit" ] || fail "the install script wrote no unit"

for key in Type=notify WatchdogSec=30 "ExecReload=/bin/kill -HUP \$MAINPID" Restart=on-failure \
           User=switchboard Group=switchboard StateDirectory=switchboard NoNewPrivileges=yes \
           ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
           "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" SystemCallFilter=@system-service \
           CapabilityBoundingSet= MemoryDenyWriteExecute=yes LimitNOFILE=65536 TimeoutStopSec=30; do
  grep -qxF "$key" "$unit" || fail "the unit lacks '$key'"
done
grep -q '^DynamicUser' "$unit" && fail "the unit must use the package's fixed user, not DynamicUser"

mkdir -p "$TMP/verify"
sed "s#^ExecStart=[^ ]*#ExecStart=$daemon#" "$unit" >"$TMP/verify/switchboard.service"
grep -q "^ExecStart=$daemon " "$TMP/verify/switchboard.service" || fail "could not point ExecStart at $daemon"
rc=0
out=$(systemd-analyze verify "$TMP/verify/switchboard.service" 2>&1) || rc=$?
# Only what concerns our unit counts; a container may warn about units of its own.
ours=$(grep -F "switchboard.service" <<<"$out" || true)
if [ "$rc" -ne 0 ] || [ -n "$ours" ]; then
  echo "$out" >&2
  fail "systemd-analyze verify rejected the unit (exit $rc)"
fi
echo "systemd-analyze verify: the unit is clean"
