#!/bin/sh
# Install npde into a temporary prefix, build the out-of-tree example plugin
# against the installed SDK twice (CMake package and pkg-config), load it
# through NPDE_PLUGIN_PATH and run the installed demo pipeline with it.
#   test_install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1; src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/npde-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "test_install: FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
npde=$prefix/bin/npde
[ -x "$npde" ] || fail "no installed npde command"
for f in include/npde/npde.h include/npde/npde_version.h include/npde/plugin/npde_ext.h \
         lib/pkgconfig/npde.pc lib/cmake/npde/npdeConfig.cmake lib/cmake/npde/NpdePlugin.cmake \
         lib/npde/plugins/npde_cpu.so share/npde/configs/demo.yaml share/npde/configs/probe.yaml; do
  [ -e "$prefix/$f" ] || fail "missing $f in the install tree"
done
ls "$prefix"/lib/libnpde.so* >/dev/null 2>&1 || fail "libnpde not installed"

# The installed command finds the installed plugins, not the build tree's.
out=$(env -u NPDE_PLUGIN_PATH "$npde" plugins)
echo "$out" | grep -q "$prefix/lib/npde/plugins/npde_cpu.so" || fail "installed npde did not load its own plugins: $out"

# Out of tree with the CMake package.
cmake -S "$src/examples/naive-backend" -B "$tmp/naive-cmake" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null \
  || fail "configuring the example against the installed SDK"
cmake --build "$tmp/naive-cmake" >/dev/null || fail "building the example plugin with find_package(npde)"
[ -f "$tmp/naive-cmake/npde_naive.so" ] || fail "no npde_naive.so from the CMake build"

# Out of tree with pkg-config and a bare compiler.
mkdir -p "$tmp/naive-pc"
cflags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags npde)
plugindir=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --variable=plugindir npde)
[ "$(cd "$plugindir" && pwd -P)" = "$(cd "$prefix/lib/npde/plugins" && pwd -P)" ] \
  || fail "pkg-config plugindir is '$plugindir'"
# shellcheck disable=SC2086
cc -std=gnu11 -shared -fPIC -fvisibility=hidden -Wall -Wextra -Werror $cflags \
  "$src/examples/naive-backend/naive.c" -o "$tmp/naive-pc/npde_naive.so" -lm || fail "pkg-config build"

# Only the entry point is exported.
exports=$(nm -D --defined-only "$tmp/naive-pc/npde_naive.so" | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -v '^_' || true)
[ "$exports" = "npde_plugin_entry" ] || fail "the plugin exports more than npde_plugin_entry: $exports"

for dir in "$tmp/naive-cmake" "$tmp/naive-pc"; do
  NPDE_PLUGIN_PATH=$dir "$npde" plugins show naive | grep -q "plain C loops" || fail "naive not listed from $dir"
  NPDE_PLUGIN_PATH=$dir "$npde" -q run "$prefix/share/npde/configs/probe.yaml" backend=naive \
    stages.0.probe.points=20000 stages.0.probe.width=16 || fail "demo with backend=naive from $dir"
done
echo "test_install: ok (prefix $prefix)"
