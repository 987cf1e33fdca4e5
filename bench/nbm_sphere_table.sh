#!/bin/sh
# The NBM sphere benchmark in the layout of the paper's Table 1 (docs/methods/nbm.md §6.1):
# for each kernel variant (faithful = JAX-DIPS as published, corrected) and
# grid N, configs/nbm-sphere-paper.yaml (982-parameter sine pair, N^3 nodes,
# full-batch Adam, 10000 epochs, domain switching 2), then the grid reference
# of the same kernel on the same nodes. CSV: variant,N,epochs,rmse,linf,
# ref_rmse,ref_linf,s_per_epoch,peak_rss_mib,wall_s,status.
#   bench/nbm_sphere_table.sh [NS [OUT.csv [key=value ...]]]
# Defaults: "8 16 32", bench/nbm_sphere_table.csv, EPOCHS=10000,
# VARIANTS="faithful corrected". Orders are computed from the CSV
# (bench/README.md).
set -eu
cd "$(dirname "$0")/.."
npde=${NPDE:-build/bin/npde}
ns=${1:-8 16 32}
out=${2:-bench/nbm_sphere_table.csv}
epochs=${EPOCHS:-10000}
variants=${VARIANTS:-faithful corrected}
[ $# -gt 2 ] && shift 2 || set --
tmp=$(mktemp -d "${TMPDIR:-/tmp}/npde-nbm-table.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "variant,N,epochs,rmse,linf,ref_rmse,ref_linf,s_per_epoch,peak_rss_mib,wall_s,status" > "$out"
for v in $variants; do
  for n in $ns; do
    run="$tmp/$v-$n"
    start=$(date +%s)
    status=ok
    NPDE_PROGRESS=0 /usr/bin/time -f "%M" -o "$run.rss" "$npde" run configs/nbm-sphere-paper.yaml output="$run" \
      pde.variant="$v" stages.0.train.n="$n" stages.0.train.epochs="$epochs" plots=false "$@" \
      > "$run.log" 2>&1 || status=failed
    wall=$(( $(date +%s) - start ))
    rss=$(tail -1 "$run.rss")
    sed -n 's/.*train: [0-9]* epochs in .* (\([0-9.e+-]*\) s\/epoch).*/\1/p' "$run.log" > "$run.spe"
    awk -v v="$v" -v n="$n" -v e="$epochs" -v rss="$rss" -v w="$wall" -v s="$status" -v spe="$(cat "$run.spe")" '
      /eval: network against the exact solution/ {for (i = 1; i <= NF; ++i) {if ($i == "RMSE") r = $(i+1); if ($i == "Linf") l = $(i+1)}}
      /eval: grid reference/ {for (i = 1; i <= NF; ++i) {if ($i == "RMSE" && !rr) rr = $(i+1); if ($i == "Linf" && !rl) rl = $(i+1)}}
      END {gsub(",", "", r); gsub(",", "", l); gsub(",", "", rr); gsub(",", "", rl);
           printf "%s,%s,%s,%s,%s,%s,%s,%s,%.0f,%d,%s\n", v, n, e, r, l, rr, rl, spe, rss / 1024, w, s}' \
      "$run.log" | tee -a "$out"
  done
done
echo "nbm_sphere_table: wrote $out"
