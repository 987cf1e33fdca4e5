#!/bin/sh
# Coarse-to-fine Gauss-Newton on the NBM sphere benchmark with the corrected
# kernel (docs/methods/nbm.md §6.1 setting, the 982-parameter sine pair): one CSV row per
# train stage of CONFIG (N, steps, RMSE and Linf against the exact solution
# on the N^3 nodes, seconds, seconds per step) and one for the grid
# reference of the finest N; it prints the peak resident memory of the
# largest rank.
#   bench/nbm_gn_table.sh [CONFIG [OUT.csv [key=value ...]]]
# Defaults: configs/nbm-sphere-gn-128.yaml, bench/nbm_gn_table.csv. Set
# RANKS=K to run on K MPI ranks (mpirun -np K).
set -eu
cd "$(dirname "$0")/.."
npde=${NPDE:-build/bin/npde}
config=${1:-configs/nbm-sphere-gn-128.yaml}
out=${2:-bench/nbm_gn_table.csv}
[ $# -gt 2 ] && shift 2 || set --
ranks=${RANKS:-1}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/npde-nbm-gn.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
launch=""
[ "$ranks" -gt 1 ] && launch="mpirun --allow-run-as-root --oversubscribe -np $ranks"
start=$(date +%s)
NPDE_PROGRESS=0 $launch /usr/bin/time -a -o "$tmp/rss" -f "%M" "$npde" run "$config" output="$tmp/run" plots=false \
  "$@" > "$tmp/log" 2>&1 || {
  tail -20 "$tmp/log" >&2
  echo "nbm_gn_table: the run failed" >&2
  exit 1
}
wall=$(( $(date +%s) - start ))
echo "what,N,steps,rmse,linf,seconds,s_per_step,ranks" > "$out"
awk -v k="$ranks" '
  /^train: [0-9]+ epochs in / {
    n = ""; for (i = 1; i <= NF; ++i) {
      if ($i == "RMSE") r = $(i+1); if ($i == "Linf") l = $(i+1); if ($i == "grid") n = $(i-1)
    }
    gsub(",", "", r); gsub(",", "", l); sub(/\^3$/, "", n); s = $5; spe = $7; gsub(/[(]/, "", spe)
    printf "network,%s,%s,%s,%s,%s,%s,%s\n", n, $2, r, l, s, spe, k
  }
  /^eval: grid reference/ {
    for (i = 1; i <= NF; ++i) { if ($i == "RMSE" && !rr) rr = $(i+1); if ($i == "Linf" && !rl) rl = $(i+1);
                                if ($i == "unknowns,") u = $(i-1) }
    gsub(",", "", rr); gsub(",", "", rl); printf "grid_reference,%.0f,,%s,%s,,,%s\n", u ^ (1/3), rr, rl, k
  }' "$tmp/log" | tee -a "$out"
rss=$(sort -n "$tmp/rss" | tail -1)
echo "nbm_gn_table: wrote $out ($wall s; peak RSS of the largest rank $((rss / 1024)) MiB)"
