#!/bin/sh
# Wall time per accepted Runge-Kutta step of Neural IVP at the paper's size
# (configs/wave-3d-paper.yaml: 46 802 parameters, n = 20 000 samples,
# Nystrom rank 200, RK45), on this machine. The fit is cut to a few epochs
# (it does not change the cost of a step) and the integrator takes fixed
# steps, so the figure is the cost of one step: 6 RHS evaluations, each a
# jet pass, a rank-200 sketch, a CG solve and the residual metric. The
# config's linear algebra is docs/methods/neural-ivp.md §4.8's (f32 block sketch, mixed
# solve); the plain f64 one is
#   bench/step_time.sh 3 stages.evolve.sketch_precision=f64 \
#     stages.evolve.sketch_blocks=joint stages.evolve.solve_precision=f64
# Besides the time it prints R_true per step and the error at the last step.
# --config runs another pipeline the same way (its first stage a fit, its
# second the evolve stage), e.g. the paper advection at the settings of the
# reference code's timing (bench/README.md):
#   bench/step_time.sh --config configs/advection-2d-paper.yaml 3 samples.n=5000 \
#     linsolver.max_iters=100 stages.evolve.on_cg_failure=accept
#   bench/step_time.sh [--config FILE] [STEPS [key=value ...]]
set -eu
cd "$(dirname "$0")/.."
npde=${NPDE:-build/bin/npde}
config=configs/wave-3d-paper.yaml
if [ "${1:-}" = "--config" ]; then
  config=$2
  shift 2
fi
steps=${1:-2}
[ $# -gt 0 ] && shift || true
tmp=$(mktemp -d "${TMPDIR:-/tmp}/npde-step-time.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dt=0.001
t_end=$(awk -v s="$steps" -v dt="$dt" 'BEGIN {printf "%.6f", s * dt}')
echo "step_time: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
NPDE_PROGRESS=0 "$npde" run "$config" output="$tmp/run" stages.0.fit.epochs=200 \
  stages.0.fit.head_points=20000 "stages.1.evolve.snapshots=[]" stages.1.evolve.t_end="$t_end" \
  stages.1.evolve.restarts.policy=none stages.1.evolve.trajectory_every=0 integrator.adaptive=false \
  integrator.dt="$dt" "$@" 2>&1 |
  grep -E "^(backend|network|evolve: done|evolve: t = [0-9.]+: relative L2 error)" | grep -v "evolve: t = 0:" || true
# columns by name (metrics.csv gains columns over time)
awk -F, 'NR == 1 {for (i = 1; i <= NF; ++i) col[$i] = i; next}
  {w = $col["wall_s"]; printf "step_time: step %d: %.1f s wall, %d CG iterations (largest solve %d), lambda_max %.3e, R_true %.4g\n",
   $col["step"], w - prev, $col["cg_iterations"], $col["cg_max"], $col["lambda_max"], $col["residual_true"]; prev = w; n++}
  END {if (n) printf "step_time: %.1f s per accepted step (mean of %d)\n", prev / n, n}' "$tmp/run/metrics.csv"
