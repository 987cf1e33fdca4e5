/* Shared by the benchmark programs: a monotonic clock, medians, and a check
 * that stops the program with npde's error message. */
#ifndef NPDE_BENCH_UTIL_H
#define NPDE_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "npde/npde.h"

static inline double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of v[0..n) (v is sorted in place). */
static inline double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* BENCH_NAME must be defined before including this header. */
#define CHECK(call)                                                              \
  do {                                                                           \
    npde_status st_ = (call);                                                    \
    if (st_ != NPDE_OK) {                                                        \
      fprintf(stderr, BENCH_NAME ": %s: %s\n", #call, npde_last_error());        \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

#endif
