#!/usr/bin/env bash
# A plugin author's out-of-tree build against an installed prefix: find_package with the
# ABI version (1.0) works, a 2.0 request is refused, and pkg-config gives the same headers.
#   find_package.sh PREFIX
source "$(dirname "$0")/lib.sh"
prefix=$1

mkdir -p "$TMP/src"
cat >"$TMP/src/plugin.c" <<'C'
#include <switchboard/plugin_abi.h>
#if SB_ABI_MAJOR != 1
#error "expected plugin ABI 1"
#endif
int sb_test_abi_major(void) { return SB_ABI_MAJOR; }
C
cat >"$TMP/src/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(example_plugin C)
find_package(SwitchboardPluginAPI ${WANTED} REQUIRED)
add_library(example MODULE plugin.c)
target_link_libraries(example PRIVATE switchboard::plugin_api)
CMAKE

cmake -S "$TMP/src" -B "$TMP/build" -DWANTED=1.0 -DCMAKE_PREFIX_PATH="$prefix" >"$TMP/configure.log" 2>&1 ||
  { cat "$TMP/configure.log" >&2; fail "find_package(SwitchboardPluginAPI 1.0) failed"; }
cmake --build "$TMP/build" >"$TMP/build.log" 2>&1 || { cat "$TMP/build.log" >&2; fail "the example plugin did not compile"; }

if cmake -S "$TMP/src" -B "$TMP/build2" -DWANTED=2.0 -DCMAKE_PREFIX_PATH="$prefix" >"$TMP/configure2.log" 2>&1; then
  fail "find_package(SwitchboardPluginAPI 2.0) succeeded against ABI 1.0"
fi

cflags=$(PKG_CONFIG_PATH="$prefix/share/pkgconfig" pkg-config --cflags switchboard-plugin-api) ||
  fail "pkg-config does not find switchboard-plugin-api"
version=$(PKG_CONFIG_PATH="$prefix/share/pkgconfig" pkg-config --modversion switchboard-plugin-api)
[ "$version" = "1.3.0" ] || fail "pkg-config version is $version, expected 1.3.0"
# shellcheck disable=SC2086
cc $cflags -c "$TMP/src/plugin.c" -o "$TMP/plugin.o" || fail "compiling with pkg-config's flags failed"
echo "find_package(SwitchboardPluginAPI 1.0) and pkg-config work against $prefix"
