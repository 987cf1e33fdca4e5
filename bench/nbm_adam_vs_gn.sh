#!/bin/sh
# Adam against Gauss-Newton (Levenberg-Marquardt with CG steps) on the NBM
# sphere benchmark, corrected kernel, 982-parameter sine pair, N^3 nodes:
# the error against the exact solution over epochs and wall time, next to
# the grid reference (the discrete solution both try to reach).
# CSV rows: optimizer,epoch,wall_s,loss,rmse,linf (every error_every epochs).
#   bench/nbm_adam_vs_gn.sh [N [OUT.csv]]     defaults: 16, bench/nbm_adam_vs_gn.csv
# ADAM_EPOCHS (10000) and GN_EPOCHS (100) set the lengths.
set -eu
cd "$(dirname "$0")/.."
npde=${NPDE:-build/bin/npde}
n=${1:-16}
out=${2:-bench/nbm_adam_vs_gn.csv}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/npde-nbm-opt.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
common="pde.variant=corrected stages.0.train.n=$n stages.0.train.switching=1 plots=false"
NPDE_PROGRESS=0 "$npde" run configs/nbm-sphere-paper.yaml output="$tmp/adam" $common \
  stages.0.train.epochs="${ADAM_EPOCHS:-10000}" stages.0.train.error_every=100 > "$tmp/adam.log" 2>&1
NPDE_PROGRESS=0 "$npde" run configs/nbm-sphere-paper.yaml output="$tmp/gn" $common \
  stages.0.train.epochs="${GN_EPOCHS:-100}" stages.0.train.error_every=1 stages.0.train.optimizer=gauss-newton \
  'linsolver={type: cg, tol: 1e-8, max_iters: 300}' > "$tmp/gn.log" 2>&1
echo "optimizer,epoch,wall_s,loss,rmse,linf" > "$out"
for opt in adam gn; do
  awk -F, -v o="$opt" 'NR > 1 && $5 != "nan" {printf "%s,%s,%s,%s,%s,%s\n", o, $1, $9, $4, $5, $6}' \
    "$tmp/$opt/metrics.csv" >> "$out"
done
grep -h "grid reference" "$tmp/adam.log" | sed 's/^/reference: /'
for opt in adam gn; do grep -h "train: [0-9]* epochs in" "$tmp/$opt.log" | sed "s/^/$opt: /"; done
echo "nbm_adam_vs_gn: wrote $out"
