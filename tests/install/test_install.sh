#!/bin/sh
# Install npde into a temporary prefix, build the out-of-tree example plugins
# (examples/naive-backend, examples/third-party-pde) against the installed
# SDK twice each (CMake package and pkg-config), load them through
# NPDE_PLUGIN_PATH and run pipelines with them.
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

# A plugin calls the core only through the host table (npde_ext.h). An
# undefined npde_* symbol resolves from libnpde's global symbols: it works in
# the npde command and fails wherever libnpde is loaded RTLD_LOCAL (an
# embedding in another language). nm is binutils (build-essential).
no_core_symbols() {
  for so in "$@"; do
    [ -f "$so" ] || fail "no plugin file $so"
    nm -D --undefined-only "$so" >"$tmp/nm.out" || fail "nm -D --undefined-only $so"
    und=$(awk '$NF ~ /^npde_/ {print $NF}' "$tmp/nm.out" | tr '\n' ' ')
    [ -z "$und" ] || fail "$so leaves libnpde symbols undefined: $und(call the core through the host table, npde_ext.h)"
  done
}
no_core_symbols "$prefix"/lib/npde/plugins/*.so

# The installed command finds the installed plugins, not the build tree's.
out=$(env -u NPDE_PLUGIN_PATH "$npde" plugins)
echo "$out" | grep -q "$prefix/lib/npde/plugins/npde_cpu.so" || fail "installed npde did not load its own plugins: $out"

# Out of tree with the CMake package.
cmake -S "$src/examples/naive-backend" -B "$tmp/naive-cmake" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null \
  || fail "configuring the example against the installed SDK"
cmake --build "$tmp/naive-cmake" >/dev/null || fail "building the example plugin with find_package(npde)"
[ -f "$tmp/naive-cmake/npde_naive.so" ] || fail "no npde_naive.so from the CMake build"
no_core_symbols "$tmp/naive-cmake/npde_naive.so"

# Out of tree with pkg-config and a bare compiler.
mkdir -p "$tmp/naive-pc"
cflags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags npde)
plugindir=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --variable=plugindir npde)
[ "$(cd "$plugindir" && pwd -P)" = "$(cd "$prefix/lib/npde/plugins" && pwd -P)" ] \
  || fail "pkg-config plugindir is '$plugindir'"
# shellcheck disable=SC2086
cc -std=gnu11 -shared -fPIC -fvisibility=hidden -Wall -Wextra -Werror $cflags \
  "$src/examples/naive-backend/naive.c" -o "$tmp/naive-pc/npde_naive.so" -lm || fail "pkg-config build"
no_core_symbols "$tmp/naive-pc/npde_naive.so"

# Only the entry point is exported.
exports=$(nm -D --defined-only "$tmp/naive-pc/npde_naive.so" | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -v '^_' || true)
[ "$exports" = "npde_plugin_entry" ] || fail "the plugin exports more than npde_plugin_entry: $exports"

for dir in "$tmp/naive-cmake" "$tmp/naive-pc"; do
  NPDE_PLUGIN_PATH=$dir "$npde" plugins show naive | grep -q "plain C loops" || fail "naive not listed from $dir"
  NPDE_PLUGIN_PATH=$dir "$npde" -q run "$prefix/share/npde/configs/probe.yaml" backend=naive \
    stages.0.probe.points=20000 stages.0.probe.width=16 || fail "demo with backend=naive from $dir"
done
# A third-party PDE (examples/third-party-pde, the Allen-Cahn equation), the
# way an outside scientist builds it: with the CMake package, then with
# pkg-config and a bare compiler; its unit test (rhs against hand-derived
# values, through the installed public API) from both builds; then the
# installed command lists it and runs the example pipeline with it.
ex=$src/examples/third-party-pde
libdir=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --variable=libdir npde)
# An application linking a sanitized libnpde (scripts/test's build-asan) must
# load the ASan runtime first: instrument test_rhs (and the plugin) the same way.
san=
if readelf -d "$libdir/libnpde.so" | grep -q 'libasan'; then san=-fsanitize=address,undefined; fi
cmake -S "$ex" -B "$tmp/ac-cmake" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="$san" >/dev/null \
  || fail "configuring examples/third-party-pde against the installed SDK"
cmake --build "$tmp/ac-cmake" >/dev/null || fail "building the PDE plugin with find_package(npde)"
[ -f "$tmp/ac-cmake/npde_allen_cahn.so" ] || fail "no npde_allen_cahn.so from the CMake build"
no_core_symbols "$tmp/ac-cmake/npde_allen_cahn.so"
"$tmp/ac-cmake/test_rhs" "$tmp/ac-cmake/npde_allen_cahn.so" >/dev/null || fail "test_rhs of the CMake build"

mkdir -p "$tmp/ac-pc"
libs=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --libs npde)
# shellcheck disable=SC2086
cc -std=gnu11 -shared -fPIC -fvisibility=hidden -Wall -Wextra -Werror $cflags \
  "$ex/allen_cahn.c" -o "$tmp/ac-pc/npde_allen_cahn.so" -lm || fail "pkg-config build of the PDE plugin"
no_core_symbols "$tmp/ac-pc/npde_allen_cahn.so"
# shellcheck disable=SC2086
cc -std=gnu11 -Wall -Wextra -Werror $san $cflags "$ex/test_rhs.c" -o "$tmp/ac-pc/test_rhs" $libs \
  -Wl,-rpath,"$libdir" -lm || fail "pkg-config build of test_rhs (an application: pkg-config --cflags --libs)"
"$tmp/ac-pc/test_rhs" "$tmp/ac-pc/npde_allen_cahn.so" >/dev/null || fail "test_rhs of the pkg-config build"
exports=$(nm -D --defined-only "$tmp/ac-pc/npde_allen_cahn.so" | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -v '^_' || true)
[ "$exports" = "npde_plugin_entry" ] || fail "the PDE plugin exports more than npde_plugin_entry: $exports"

for dir in "$tmp/ac-cmake" "$tmp/ac-pc"; do
  # KIND NAME VERSION PLUGIN FILE
  row=$(NPDE_PLUGIN_PATH=$dir "$npde" plugins | awk '$1 == "pde" && $2 == "allen-cahn"')
  [ "$(echo "$row" | awk '{print $3, $4}')" = "0.1.0 allen-cahn" ] || fail "npde plugins from $dir: '$row'"
  [ "$(echo "$row" | awk '{print $5}')" = "$(cd "$dir" && pwd -P)/npde_allen_cahn.so" ] \
    || fail "npde plugins names another file: '$row'"
done
NPDE_PLUGIN_PATH=$tmp/ac-pc "$npde" plugins show pde/allen-cahn | grep -q "eps .*default 0.1" \
  || fail "npde plugins show pde/allen-cahn lacks the eps parameter"
NPDE_PLUGIN_PATH=$tmp/ac-pc "$npde" -q check "$ex/allen-cahn.yaml" || fail "npde check of the example with the pkg-config build"
NPDE_PLUGIN_PATH=$tmp/ac-cmake "$npde" -q run "$ex/allen-cahn.yaml" output="$tmp/run" \
  || fail "npde run examples/third-party-pde/allen-cahn.yaml"
[ -s "$tmp/run/results.npz" ] || fail "the example run wrote no results.npz"
[ "$(wc -l <"$tmp/run/metrics.csv")" -ge 2 ] || fail "the example run's metrics.csv has no step rows"

echo "test_install: ok (prefix $prefix)"
