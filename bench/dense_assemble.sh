#!/bin/sh
# The dense solver's two ways to its matrix (docs/methods/neural-ivp.md §4.6) on the EDNN network of the wave-maps
# comparison (tanh 4 x 30 per output, two outputs, p = 5 882): `assemble: columns` (p operator columns) against
# `assemble: operator` (per-point gradients and a gemm per branch block) at network chunks of 1 024 and 128. One
# explicit Euler step, so one dense solve each; prints the solve's seconds (the `npde -v` debug line), the step's
# R_true (the projection's residual, which must agree), and each time as a ratio to the columns path's, measured in
# the same sitting.
#   bench/dense_assemble.sh [N [EPOCHS]]     (defaults: N = 10000 samples, 200 fit epochs)
set -eu
cd "$(dirname "$0")/.."
npde=${NPDE:-build/bin/npde}
n=${1:-10000}
epochs=${2:-200}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/npde-dense-assemble.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
printf '%-10s %6s %12s %16s %10s\n' assemble chunk "solve s" "R_true" "vs columns"
base=
for variant in "columns 1024" "operator 1024" "operator 128"; do
  set -- $variant
  NPDE_PROGRESS=0 "$npde" -v run configs/wave-maps-paper.yaml output="$tmp/$1-$2" samples.n="$n" precond=null \
    "network={envelope: dirichlet, chunk: $2, layers: [{type: mlp, width: 30, depth: 4, activation: tanh}]}" \
    "linsolver={type: dense, assemble: $1}" "integrator={type: euler, dt: 1e-3}" \
    "stages=[{fit: {epochs: $epochs, lr: 1e-3, batch: 5000, decay: cosine, head_tuning: false}}, {evolve: {t_end: 1e-3, restarts: {policy: none}}}]" \
    > "$tmp/$1-$2.log" 2>&1 || { echo "dense_assemble: $1 (chunk $2) failed:" >&2; tail -5 "$tmp/$1-$2.log" >&2; exit 1; }
  solve=$(sed -n 's/.*evolve: rhs 1: .* solve \([0-9.]*\) s.*/\1/p' "$tmp/$1-$2.log")
  rtrue=$(awk -F, 'NR == 1 {for (i = 1; i <= NF; ++i) col[$i] = i; next} {print $col["residual_true"]; exit}' \
    "$tmp/$1-$2/metrics.csv")
  [ -n "$base" ] || base=$solve
  printf '%-10s %6s %12s %16s %10s\n' "$1" "$2" "$solve" "$rtrue" "$(awk -v a="$solve" -v b="$base" 'BEGIN {printf "%.3f", a / b}')"
done
