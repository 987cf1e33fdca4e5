#!/bin/sh
# Wall time per accepted Runge-Kutta step of Neural IVP at the paper's size
# (configs/wave-3d-paper.yaml: 46 802 parameters, n = 20 000 samples,
# Nystrom rank 200, RK45), on this machine. The fit is cut to a few epochs
# (it does not change the cost of a step) and the integrator takes fixed
# steps, so the figure is the cost of one step: 6 RHS evaluations, each a
# jet pass, a rank-200 sketch, a CG solve and the residual metric.
#   bench/step_time.sh [STEPS [key=value ...]]
set -eu
cd "$(dirname "$0")/.."
npde=${NPDE:-build/bin/npde}
steps=${1:-2}
[ $# -gt 0 ] && shift || true
tmp=$(mktemp -d "${TMPDIR:-/tmp}/npde-step-time.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dt=0.001
t_end=$(awk -v s="$steps" -v dt="$dt" 'BEGIN {printf "%.6f", s * dt}')
echo "step_time: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
NPDE_PROGRESS=0 "$npde" run configs/wave-3d-paper.yaml output="$tmp/run" stages.0.fit.epochs=200 \
  stages.0.fit.head_points=20000 "stages.1.evolve.snapshots=[]" stages.1.evolve.t_end="$t_end" \
  stages.1.evolve.restarts.policy=none integrator.adaptive=false integrator.dt="$dt" "$@" 2>&1 |
  grep -E "^(backend|network|evolve: done)" || true
awk -F, 'NR == 2 {w0 = 0} NR > 1 {printf "step_time: step %d: %.1f s wall, %d CG iterations (largest solve %d), lambda_max %.3e\n", $1, $13 - w, $4, $5, $8; w = $13}' \
  "$tmp/run/metrics.csv"
awk -F, 'NR > 1 {n++; last = $13} END {if (n) printf "step_time: %.1f s per accepted step (mean of %d)\n", last / n, n}' \
  "$tmp/run/metrics.csv"
