#!/bin/sh
# CG iterations over time with and without restarts (the paper's Fig. 3
# left, docs/methods/neural-ivp.md §9 C5), on a Neural IVP pipeline (default: the 2D wave
# equation). Runs the pipeline twice, restarts off and fixed_count, and
# writes one CSV in long form: run,step,t,h,cg_iterations,cg_max,
# residual_true,lambda_max,restarts.
#   bench/cg_restarts.sh [CONFIG [OUT.csv [COUNT [key=value ...]]]]
# Defaults: configs/wave-2d.yaml, bench/cg_restarts.csv, 4 restarts.
set -eu
cd "$(dirname "$0")/.."
npde=${NPDE:-build/bin/npde}
config=${1:-configs/wave-2d.yaml}
out=${2:-bench/cg_restarts.csv}
count=${3:-4}
[ $# -gt 3 ] && shift 3 || set --
tmp=$(mktemp -d "${TMPDIR:-/tmp}/npde-cg-restarts.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
stage=$("$npde" check "$config" --print 2>/dev/null | awk '/^stages:/ {s = 1; i = -1} s && /^- / {i++; if ($0 ~ /^- evolve:/) {print i; exit}}')
echo "cg_restarts: $config, evolve is stage $stage; $(nproc) cores"
for run in none fixed_count; do
  start=$(date +%s)
  NPDE_PROGRESS=0 "$npde" -q run "$config" output="$tmp/$run" \
    "stages.$stage.evolve.restarts.policy=$run" "stages.$stage.evolve.restarts.count=$count" "$@"
  echo "cg_restarts: restarts $run: $(( $(date +%s) - start )) s, $(( $(wc -l < "$tmp/$run/metrics.csv") - 1 )) steps"
done
{
  echo "run,step,t,h,cg_iterations,cg_max,residual_true,lambda_max,restarts"
  for run in none fixed_count; do
    awk -F, -v run="$run" 'NR > 1 {print run "," $1 "," $2 "," $3 "," $4 "," $5 "," $6 "," $8 "," $11}' \
      "$tmp/$run/metrics.csv"
  done
} > "$out"
# a summary: CG iterations per RHS evaluation in the first and last quarter of the run
for run in none fixed_count; do
  awk -F, -v run="$run" '$1 == run {t[NR] = $3; c[NR] = $5; n++; last = $3}
    END {q1 = 0; q4 = 0; n1 = 0; n4 = 0
         for (i in t) { if (t[i] <= last / 4) {q1 += c[i]; n1++} if (t[i] >= 3 * last / 4) {q4 += c[i]; n4++} }
         printf "cg_restarts: %-11s CG iterations per step: first quarter %.0f, last quarter %.0f\n", run,
                n1 ? q1 / n1 : 0, n4 ? q4 / n4 : 0}' "$out"
done
echo "cg_restarts: wrote $out"
