#!/bin/sh
# Fokker-Planck in growing dimension (the paper's Fig. 5 left,
# docs/methods/neural-ivp.md §9 C8): for each d, the small pipeline configs/fokker-planck.yaml to
# t = T; reports the PDE residual R_true at the end and its largest value,
# the largest CG iteration count of a solve, and how many linear solves
# missed the CG tolerance (each rejects a step). CSV: d,parameters,steps,
# rejected,cg_misses,cg_max,residual_end,residual_max,wall_s,status.
#   bench/fp_dim_scan.sh [DIMS [OUT.csv [key=value ...]]]
# Defaults: "4 8 12 16 20 24 32", bench/fp_dim_scan.csv, T = 0.1.
set -eu
cd "$(dirname "$0")/.."
npde=${NPDE:-build/bin/npde}
dims=${1:-4 8 12 16 20 24 32}
out=${2:-bench/fp_dim_scan.csv}
[ $# -gt 2 ] && shift 2 || set --
tmp=$(mktemp -d "${TMPDIR:-/tmp}/npde-fp-scan.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "d,parameters,steps,rejected,cg_misses,cg_max,residual_end,residual_max,wall_s,status" > "$out"
for d in $dims; do
  start=$(date +%s)
  status=ok
  NPDE_PROGRESS=0 "$npde" run configs/fokker-planck.yaml output="$tmp/d$d" pde.dim="$d" stages.1.evolve.t_end=0.1 \
    "stages.1.evolve.snapshots=[0.05]" "$@" > "$tmp/d$d.log" 2>&1 || status=failed
  wall=$(( $(date +%s) - start ))
  p=$(sed -n 's/^network: \([0-9]*\) parameters.*/\1/p' "$tmp/d$d.log")
  misses=$(grep -c "missed its tolerance" "$tmp/d$d.log" || true)
  awk -F, -v d="$d" -v p="$p" -v m="$misses" -v w="$wall" -v s="$status" \
    'NR > 1 {n++; rej = $10; if ($5 > cg) cg = $5; r = $6; if ($6 > rmax) rmax = $6}
     END {printf "%s,%s,%d,%d,%d,%d,%.3e,%.3e,%d,%s\n", d, p, n, rej, m, cg, r, rmax, w, s}' \
    "$tmp/d$d/metrics.csv" | tee -a "$out"
done
echo "fp_dim_scan: wrote $out"
