#!/bin/sh
# Data-parallel runs on this machine (docs/scaling.md): seconds per accepted
# RK step (evolve, configs/heat-2d.yaml with n samples, to t = 0.004 with CG
# capped at 200 iterations so that each step does comparable work) and per NBM epoch
# (train, configs/nbm-sphere-paper.yaml, corrected kernel, N^3 nodes, full
# batch Adam), on 1 rank with 2 threads, 1 rank with 1 thread and 2 ranks
# with 1 thread each; the bytes each rank sends per M v; then the cost of
# one MPI_Allreduce against its length (bench_allreduce).
#   bench/mpi_scaling.sh [N_SAMPLES [NBM_N [OUT.csv]]]
# Defaults: 20000, 32, bench/mpi_scaling.csv. CSV: what,setup,ranks,threads,
# n,p,seconds_per_unit,units,bytes_per_mv.
set -eu
cd "$(dirname "$0")/.."
npde=${NPDE:-build/bin/npde}
bin=$(dirname "$npde")
n=${1:-20000}
nbm=${2:-32}
out=${3:-bench/mpi_scaling.csv}
mpirun=${MPIRUN:-mpirun}
command -v "$mpirun" > /dev/null || { echo "mpi_scaling: no mpirun (install openmpi-bin)"; exit 1; }
# Open MPI refuses root unless told (containers)
[ "$(id -u)" -eq 0 ] && mpirun="$mpirun --allow-run-as-root"
fail() { echo "mpi_scaling: $1 failed:"; tail -20 "$2"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/npde-mpi-scaling.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export NPDE_PROGRESS=0 OMP_WAIT_POLICY=passive
echo "what,setup,ranks,threads,n,p,seconds_per_unit,units,bytes_per_mv" > "$out"
"$npde" --version
# setup: ranks threads
for setup in "1 2" "1 1" "2 1"; do
  set -- $setup
  k=$1 th=$2 tag="k$1-t$2"
  env OMP_NUM_THREADS="$th" OPENBLAS_NUM_THREADS="$th" $mpirun -np "$k" --oversubscribe "$npde" run \
    configs/heat-2d.yaml output="$tmp/evolve-$tag" samples.n="$n" stages.0.fit.epochs=500 \
    stages.1.evolve.t_end=0.004 'stages.1.evolve.snapshots=[]' stages.1.evolve.residual_points=0 \
    linsolver.max_iters=200 stages.1.evolve.on_cg_failure=accept \
    'stages.2.eval.grid=[33, 33]' plots=false > "$tmp/evolve-$tag.log" 2>&1 || fail "evolve ($tag)" "$tmp/evolve-$tag.log"
  awk -v k="$k" -v th="$th" -v n="$n" -v tag="$tag" '
    /network: [0-9]+ parameters/ {p = $2}
    /evolve: done in/ {for (i = 1; i <= NF; ++i) {if ($i == "in") s = $(i+1); if ($i == "accepted") a = $(i-1)}}
    /M v products, each summed/ {for (i = 1; i <= NF; ++i) if ($i == "bytes") b = $(i-1)}
    END {gsub("s:", "", s); printf "evolve,%s,%d,%d,%d,%d,%.4f,%d,%s\n", tag, k, th, n, p, s / a, a, b ? b : 0}' \
    "$tmp/evolve-$tag.log" | tee -a "$out"
  env OMP_NUM_THREADS="$th" OPENBLAS_NUM_THREADS="$th" $mpirun -np "$k" --oversubscribe "$npde" run \
    configs/nbm-sphere-paper.yaml output="$tmp/train-$tag" pde.variant=corrected stages.0.train.n="$nbm" \
    stages.0.train.epochs=200 stages.0.train.error_every=0 'stages.1.eval.reference=none' plots=false \
    > "$tmp/train-$tag.log" 2>&1 || fail "train ($tag)" "$tmp/train-$tag.log"
  awk -v k="$k" -v th="$th" -v n="$nbm" -v tag="$tag" '
    /network: [0-9]+ parameters/ {p = $2}
    /train: [0-9]+ epochs in/ {e = $2; for (i = 1; i <= NF; ++i) if ($i ~ /^\(/) {s = substr($i, 2)}}
    END {printf "train,%s,%d,%d,%d,%d,%s,%d,0\n", tag, k, th, n * n * n, p, s, e}' \
    "$tmp/train-$tag.log" | tee -a "$out"
done
grep -h "data-parallel:" "$tmp"/evolve-k2-t1.log "$tmp"/train-k2-t1.log || true
if [ -x "$bin/bench_allreduce" ]; then
  OMP_NUM_THREADS=1 $mpirun -np 2 --oversubscribe "$bin/bench_allreduce" | tee "$tmp/allreduce.txt"
  sed -n 's/^\([0-9]*\),\([0-9]*\),\([0-9.e+-]*\)$/allreduce,k\1,\1,1,\2,0,\3,1,0/p' "$tmp/allreduce.txt" >> "$out"
fi
echo "mpi_scaling: wrote $out"
