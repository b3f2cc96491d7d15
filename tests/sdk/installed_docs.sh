#!/usr/bin/env bash
# The SDK as installed: its documents under share/doc/switchboard/, the template plugin, its
# fixtures and the guide's worked example under share/switchboard/examples/; every link and
# path an installed file names is an installed file; the guide's example is the installed
# example.cpp, and it builds against the prefix alone (the installed JSON reader and base64
# helper included), exporting only its entry point.
#   installed_docs.sh BUILD_DIR
source "$(dirname "$0")/../install/lib.sh"
build=$1
prefix=$TMP/prefix
cmake --install "$build" --prefix "$prefix" >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log" >&2; fail "cmake --install failed"; }

docs=$prefix/share/doc/switchboard
examples=$prefix/share/switchboard/examples
for f in "$docs/ABI.md" "$docs/plugin-guide.md" "$docs/normalized-events.md" "$docs/normalized-events.schema.json" \
         "$docs/api.md" "$docs/openapi.yaml" "$examples/api/CMakeLists.txt" "$examples/api/api.cpp" \
         "$examples/fixtures/api/config.json" "$examples/example/example.cpp" "$examples/example/CMakeLists.txt"; do
  [ -f "$f" ] || fail "${f#"$prefix"/} is not installed"
done

# Markdown links to local files resolve next to the installed document.
for md in "$docs"/*.md; do
  { grep -o '](\([^)#]*\)' "$md" || true; } | sed 's/^](//' | { grep -v -e '^[a-z]*:' -e '^$' || true; } |
    while read -r target; do
    [ -e "$(dirname "$md")/$target" ] || fail "$(basename "$md") links to $target, which is not installed"
  done
done
# Paths named in backquotes that are paths of the prefix exist in it.
grep -oh '`\(share\|include\|bin\|lib\)/[^` ]*`' "$docs"/*.md | tr -d '`' | sort -u | while read -r path; do
  # shellcheck disable=SC2086
  ls -d "$prefix"/$path >/dev/null 2>&1 || ls -d "$prefix"/${path/lib\//lib*\/} >/dev/null 2>&1 ||
    fail "an installed document names $path, which is not in the prefix"
done
# Nothing installed points into the source tree.
for f in "$docs"/*.md "$prefix"/include/switchboard/* "$prefix"/etc/switchboard/* "$prefix"/share/switchboard/examples/*/*.cpp; do
  [ -f "$f" ] || continue
  if grep -nE '(\]\(|`| )(docs|tests|plugins|plugin-api)/|DESIGN §|in the SDK' "$f" | grep -v 'source tree' >"$TMP/refs"; then
    cat "$TMP/refs" >&2
    fail "${f#"$prefix"/} points into the source tree"
  fi
done

# The guide's worked example is the installed file, and it builds against the prefix alone.
sed -n '/<!-- example.cpp: begin -->/,/<!-- example.cpp: end -->/p' "$docs/plugin-guide.md" | sed '1,2d;$d' | sed '$d' \
  >"$TMP/guide-example.cpp"
diff -u "$examples/example/example.cpp" "$TMP/guide-example.cpp" >"$TMP/example.diff" ||
  { cat "$TMP/example.diff" >&2; fail "the guide's worked example differs from the installed example.cpp"; }
cp -r "$examples/example" "$TMP/example-src"
cmake -S "$TMP/example-src" -B "$TMP/example-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_FLAGS="-Wall -Wextra -Wpedantic -Werror" >"$TMP/configure.log" 2>&1 ||
  { cat "$TMP/configure.log" >&2; fail "configuring the guide's example failed"; }
grep -q "^SwitchboardPluginAPI_DIR:PATH=$prefix/" "$TMP/example-build/CMakeCache.txt" ||
  fail "find_package found the SDK somewhere else than $prefix"
cmake --build "$TMP/example-build" >"$TMP/build.log" 2>&1 || { cat "$TMP/build.log" >&2; fail "the guide's example did not compile"; }
grep -q "std=[cg]nu++17\|std=[cg]++17\|std=gnu++17\|std=c++17" "$TMP/example-build/CMakeFiles/example_plugin.dir/flags.make" ||
  fail "switchboard_add_plugin did not ask for C++17: $(cat "$TMP/example-build/CMakeFiles/example_plugin.dir/flags.make")"
exports=$(nm -D --defined-only "$TMP/example-build/example.so" | awk '{print $3}' | sort -u | tr '\n' ' ')
[ "$exports" = "sb_plugin_entry_v1 " ] || fail "example.so exports more than sb_plugin_entry_v1: $exports"
"$prefix/bin/sb-plugin-check" "$TMP/example-build/example.so" \
  --config '{"secret":"example-secret-0123","api_base":"https://api.example.com"}' >"$TMP/check.txt" 2>&1 ||
  { cat "$TMP/check.txt" >&2; fail "sb-plugin-check failed on the guide's example"; }
echo "installed SDK docs and examples: links resolve, the guide's example builds from $prefix and passes the kit"
