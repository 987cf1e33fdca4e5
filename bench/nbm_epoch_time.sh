#!/bin/sh
# Seconds per NBM epoch and peak memory of the train stage alone (no eval,
# no grid reference) on the sphere benchmark with the 982-parameter pair,
# full batch, Adam, for each grid N. CSV: N,points,epochs,s_per_epoch,peak_rss_mib.
#   bench/nbm_epoch_time.sh [NS [OUT.csv]]     defaults: "8 16 32 64", bench/nbm_epoch_time.csv
set -eu
cd "$(dirname "$0")/.."
npde=${NPDE:-build/bin/npde}
ns=${1:-8 16 32 64}
out=${2:-bench/nbm_epoch_time.csv}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/npde-nbm-epoch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "N,points,epochs,s_per_epoch,peak_rss_mib" > "$out"
for n in $ns; do
  epochs=$(( 2000000 / (n * n * n) )); [ "$epochs" -gt 500 ] && epochs=500; [ "$epochs" -lt 20 ] && epochs=20
  NPDE_PROGRESS=0 /usr/bin/time -f "%M" -o "$tmp/rss" "$npde" run configs/nbm-sphere-paper.yaml --no-output \
    "stages=[{train: {n: $n, epochs: $epochs, error_every: 0, switching: 2}}]" > "$tmp/log" 2>&1
  spe=$(sed -n 's/.*train: [0-9]* epochs in .* (\([0-9.e+-]*\) s\/epoch).*/\1/p' "$tmp/log")
  echo "$n,$((n * n * n)),$epochs,$spe,$(( $(tail -1 "$tmp/rss") / 1024 ))" | tee -a "$out"
done
echo "nbm_epoch_time: wrote $out"
