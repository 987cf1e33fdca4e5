/* The cost of one reduction over the ranks (npde_comm_allreduce, i.e.
 * MPI_Allreduce of doubles, sum), against its length: the latency alpha and
 * the bandwidth term of the model in docs/scaling.md. Run it as
 *   mpirun -np 2 build/bin/bench_allreduce
 * Rank 0 prints, per length, the median seconds of one reduction over
 * repeated calls (CSV rows: ranks,doubles,seconds), then the model
 * t = alpha + 8 p / B with alpha the one-double time and B the bandwidth of
 * the longest reduction, against each measurement. On one rank (no mpirun) a reduction is free and
 * the program says so. */
#define BENCH_NAME "bench_allreduce"
#include <math.h>
#include <string.h>

#include "bench_util.h"

int main(int argc, char **argv) {
  CHECK(npde_comm_init(&argc, &argv));
  const int K = npde_comm_size(), rank = npde_comm_rank();
  if (K < 2) {
    printf("bench_allreduce: one rank: reductions cost nothing; start it with mpirun -np 2 (or more)\n");
    npde_comm_finalize();
    return 0;
  }
  static const int64_t lengths[] = {1, 16, 256, 1000, 4096, 10000, 46802, 100000, 1000000};
  const int nl = (int)(sizeof lengths / sizeof lengths[0]);
  double *buf = malloc(1000000 * sizeof *buf), t[64], sec[16];
  if (rank == 0) printf("ranks,doubles,seconds\n");
  for (int l = 0; l < nl; ++l) {
    const int64_t n = lengths[l];
    const int reps = n >= 100000 ? 20 : 64;
    for (int r = 0; r < reps; ++r) {
      for (int64_t i = 0; i < n; ++i) buf[i] = (double)(i % 7 + rank);
      const double t0 = now();
      CHECK(npde_comm_allreduce(buf, n, NPDE_COMM_SUM));
      t[r] = now() - t0;
    }
    /* the slowest rank's median is the reduction's cost */
    sec[l] = median(t, reps);
    CHECK(npde_comm_allreduce(&sec[l], 1, NPDE_COMM_MAX));
    if (rank == 0) printf("%d,%lld,%.4e\n", K, (long long)n, sec[l]);
  }
  /* the model's two constants: the latency (one double) and the bandwidth of the longest reduction */
  const double alpha = sec[0], bw = 8.0 * (double)lengths[nl - 1] / (sec[nl - 1] - alpha);
  if (rank == 0) {
    printf("bench_allreduce: %d ranks: alpha = %.2e s, bandwidth 8p / (t - alpha) = %.2f GB/s at p = %lld\n", K, alpha,
           1e-9 * bw, (long long)lengths[nl - 1]);
    for (int l = 0; l < nl; ++l)
      printf("bench_allreduce: p = %8lld: %.3e s measured, %.3e s modelled\n", (long long)lengths[l], sec[l],
             alpha + 8.0 * (double)lengths[l] / bw);
  }
  free(buf);
  npde_comm_finalize();
  return 0;
}
