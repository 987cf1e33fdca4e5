#!/bin/sh
# The three layers of core/ (docs/architecture.md) only point downward:
#   kernel (core/src, libnpde) <- run engine (core/run, libnpde_run)
#   <- methods (core/methods/<m>, libnpde_methods) <- the npde command (core/cli)
# and plugins see the kernel alone. Fails, naming the file and what it takes,
# on an #include or a call that goes the wrong way, or from one method into
# another.
#   check_layers.sh SOURCE_DIR BUILD_DIR
set -u
src=$1 build=$2
fail=0
bad() { echo "layering: $*"; fail=1; }

# Public headers by layer (core/include/npde): the run engine's and the methods';
# every other npde_*.h is the kernel's (npde.h, the umbrella, is for applications).
run_headers="npde_pipeline.h npde_io.h npde_model.h npde_plot.h npde_mpi.h"
method_headers="npde_discrete.h npde_methods.h"
# Private headers by layer
run_private="run_context.h comm_reduce.h io_impl.h"
method_private="ivp_impl.h nbm_impl.h"

# includes_of FILE: the header names FILE includes (basename only)
includes_of() { sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1/p' "$1" | sed 's|.*/||'; }

check_includes() { # LAYER FORBIDDEN-HEADERS FILES...
  layer=$1 forbidden=$2
  shift 2
  for f in "$@"; do
    [ -f "$f" ] || continue
    for h in $(includes_of "$f"); do
      for x in $forbidden; do
        [ "$h" = "$x" ] && bad "${f#"$src"/} ($layer) includes $h, a header of a layer above it or of another method"
      done
    done
  done
}

kernel_files=$(find "$src/core/src" -name '*.[ch]')
kernel_headers=$(find "$src/core/include/npde" -name '*.h' ! -name npde.h $(for h in $run_headers $method_headers; do printf ' ! -name %s' "$h"; done))
run_files=$(find "$src/core/run" -name '*.[ch]')
plugin_files=$(find "$src/plugins" "$src/examples" -name '*.[ch]' -o -name '*.cu' -o -name '*.cuh')
check_includes kernel "$run_headers $method_headers npde.h $run_private $method_private" $kernel_files $kernel_headers
check_includes "run engine" "$method_headers npde.h $method_private" $run_files
for h in $run_headers; do
  check_includes "run engine header" "$method_headers npde.h" "$src/core/include/npde/$h"
done
check_includes plugin "$run_headers $method_headers npde.h $run_private $method_private" $plugin_files
# The plugin SDK headers (plugin/*.h) show a plugin its ops tables, the types
# they use and the host entries, and nothing of the application API (creating
# components, running pipelines, files).
sdk_allowed="npde_plugin.h npde_ext.h npde_host_map.h npde_backend_ops.h npde_layer_ops.h npde_pde_ops.h
  npde_linsolver_ops.h npde_precond_ops.h npde_integrator_ops.h npde_backend.h npde_config.h npde_error.h
  npde_npy.h npde_expr.h npde_export.h npde_log.h npde_mat.h npde_linop.h stdbool.h stddef.h stdint.h string.h"
for f in "$src"/core/include/npde/plugin/*.h; do
  for h in $(includes_of "$f"); do
    case " $(echo $sdk_allowed) " in *" $h "*) ;; *) bad "${f#"$src"/} (plugin SDK) includes $h, which is not part of the SDK";; esac
  done
done
# one method never reaches into another
for m in $(ls "$src/core/methods"); do
  [ -d "$src/core/methods/$m" ] || continue
  others=$(for o in $(ls "$src/core/methods"); do [ -d "$src/core/methods/$o" ] && [ "$o" != "$m" ] && echo "${o}_impl.h"; done)
  check_includes "method $m" "$others" $(find "$src/core/methods/$m" -name '*.[ch]')
done

# Calls: what each library needs and takes from the others.
lib=$build/lib
for l in libnpde.so libnpde_run.so libnpde_methods.so; do
  [ -f "$lib/$l" ] || { bad "$lib/$l is missing (build first)"; exit 1; }
done
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
defined() { nm -D --defined-only "$1" | awk '{print $3}' | sort -u; }
undefined() { nm -D --undefined-only "$1" | awk '{print $2}' | sort -u; }
for n in $(needed "$lib/libnpde.so"); do
  case $n in libnpde_run.so*|libnpde_methods.so*) bad "libnpde.so (kernel) needs $n";; esac
done
for n in $(needed "$lib/libnpde_run.so"); do
  case $n in libnpde_methods.so*) bad "libnpde_run.so (run engine) needs $n";; esac
done
upward() { # LOWER-LIB UPPER-LIB
  defined "$2" > "$tmp/up"
  undefined "$1" > "$tmp/down"
  comm -12 "$tmp/up" "$tmp/down" | while read -r s; do
    echo "layering: ${1##*/} calls $s, defined by ${2##*/} above it"
  done
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
  upward "$lib/libnpde.so" "$lib/libnpde_run.so"
  upward "$lib/libnpde.so" "$lib/libnpde_methods.so"
  upward "$lib/libnpde_run.so" "$lib/libnpde_methods.so"
} > "$tmp/calls"
[ -s "$tmp/calls" ] && { cat "$tmp/calls"; fail=1; }
# The methods' objects: none calls a function another method defines.
objdir=$build/core/CMakeFiles
for m in $(ls "$src/core/methods"); do
  [ -d "$objdir/npde_$m.dir" ] || continue
  find "$objdir/npde_$m.dir" -name '*.o' -exec nm --undefined-only {} + | awk 'NF {print $NF}' | sort -u > "$tmp/$m.undef"
  find "$objdir/npde_$m.dir" -name '*.o' -exec nm --defined-only {} + | awk 'NF == 3 && $2 ~ /[TDBR]/ {print $3}' | sort -u > "$tmp/$m.def"
done
for m in $(ls "$tmp" | sed -n 's/\.undef$//p'); do
  for o in $(ls "$tmp" | sed -n 's/\.def$//p'); do
    [ "$m" = "$o" ] && continue
    comm -12 "$tmp/$m.undef" "$tmp/$o.def" | while read -r s; do bad "method $m calls $s, defined by method $o"; done
  done
done
n_methods=$(ls "$tmp" | grep -c '\.def$' || true)
[ "$n_methods" -ge 2 ] || bad "found the objects of $n_methods methods under $objdir (expected ivp and nbm)"

[ $fail -eq 0 ] && echo "layering: kernel <- run engine <- methods ($n_methods) <- cli: every include and call points downward"
exit $fail
