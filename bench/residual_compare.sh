#!/bin/sh
# The paper's residual comparisons (Figs. 3-4; docs/methods/neural-ivp.md §9 C6, C7): R_true over t for Neural
# IVP with the paper's network against the EDNN configuration (docs/methods/neural-ivp.md §2.5, §5.5: raw
# coordinates, tanh 4 x 30, no head tuning, the dense solver, no preconditioner), both run by npde from the same
# config, seed, samples per step and integrator. For each config it runs both and prints the median and last
# R_true of each; the per-step rows go to OUT.csv (config,variant,parameters,step,t,h,R_true).
#   bench/residual_compare.sh [CONFIGS [OUT.csv [T [EPOCHS [key=value ...]]]]]
# Defaults: "fokker-planck-paper vlasov-paper wave-maps-paper", bench/residual_compare.csv, T = 0.25, 5000 fit
# epochs. Both variants evolve without restarts (the paper's ten would each refit from scratch). The Neural IVP
# variant uses the f32 sketch and the mixed solve (bench/README.md: the same R_true, in less time) and fits an
# output whose initial data are zero (wave maps' phi_t) to the first step's RHS (fit.zero_head: rhs, §6.2); the EDNN
# variant's dense solver assembles M from per-point gradients over chunks of 128 points (docs/methods/neural-ivp.md
# §4.6; the chunk changes no result beyond rounding).
set -eu
cd "$(dirname "$0")/.."
npde=${NPDE:-build/bin/npde}
configs=${1:-fokker-planck-paper vlasov-paper wave-maps-paper}
out=${2:-bench/residual_compare.csv}
t_end=${3:-0.25}
epochs=${4:-5000}
[ $# -gt 4 ] && shift 4 || set --
tmp=$(mktemp -d "${TMPDIR:-/tmp}/npde-residual-compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fit="epochs: $epochs, lr: 1e-3, batch: 5000, decay: cosine"
evolve="t_end: $t_end, restarts: {policy: none}"
echo "config,variant,parameters,step,t,h,R_true" > "$out"
printf '%-22s %-10s %10s %6s %12s %12s %9s\n' config variant parameters steps "R_true med" "R_true end" wall_s
for cfg in $configs; do
  for variant in neural-ivp ednn; do
    start=$(date +%s)
    status=0
    if [ "$variant" = ednn ]; then
      NPDE_PROGRESS=0 "$npde" run "configs/$cfg.yaml" output="$tmp/$cfg-$variant" \
        "network={envelope: dirichlet, chunk: 128, layers: [{type: mlp, width: 30, depth: 4, activation: tanh}]}" \
        "linsolver={type: dense}" "precond=null" "stages=[{fit: {$fit, head_tuning: false}}, {evolve: {$evolve}}]" \
        "$@" > "$tmp/$cfg-$variant.log" 2>&1 || status=$?
    else
      NPDE_PROGRESS=0 "$npde" run "configs/$cfg.yaml" output="$tmp/$cfg-$variant" \
        "stages=[{fit: {$fit, zero_head: rhs}}, {evolve: {$evolve, sketch_precision: f32, solve_precision: mixed}}]" \
        "$@" > "$tmp/$cfg-$variant.log" 2>&1 || status=$?
    fi
    if [ "$status" -ne 0 ]; then
      echo "residual_compare: $cfg ($variant) failed; its log ends:" >&2
      tail -5 "$tmp/$cfg-$variant.log" >&2
      exit 1
    fi
    wall=$(( $(date +%s) - start ))
    p=$(sed -n 's/^network: \([0-9]*\) parameters.*/\1/p' "$tmp/$cfg-$variant.log")
    # metrics.csv's columns by name: the step's R_true is residual_true (empty when it was not measured)
    awk -F, -v c="$cfg" -v v="$variant" -v p="$p" -v w="$wall" -v rows="$out" '
      NR == 1 {for (i = 1; i <= NF; ++i) col[$i] = i; next}
      $col["residual_true"] != "" {
        printf "%s,%s,%s,%s,%s,%s,%s\n", c, v, p, $col["step"], $col["t"], $col["h"], $col["residual_true"] >> rows
        r[++n] = $col["residual_true"]; last = r[n]
      }
      END {
        for (i = 1; i <= n; ++i) for (j = i + 1; j <= n; ++j) if (r[j] < r[i]) {x = r[i]; r[i] = r[j]; r[j] = x}
        med = n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
        printf "%-22s %-10s %10s %6d %12.3e %12.3e %9d\n", c, v, p, n, med, last, w
      }' "$tmp/$cfg-$variant/metrics.csv"
  done
done
echo "residual_compare: wrote $out"
