/* CPU backend: Philox4x32-10 uniform and normal draws (npde_philox.h). */
#include <math.h>

#include "cpu_impl.h"
#include "npde/npde_philox.h"

/* Visit the view's elements in row-major order e = i * cols + j; each block
 * of the generator yields the values of elements 2b and 2b + 1. */
#define FILL_FROM_PAIRS(T, out, pair_fn)                                                     \
  do {                                                                                       \
    int64_t cols = (out)->cols, total = (out)->rows * cols;                                  \
    int par = total >= 32768;                                                                \
    _Pragma("omp parallel for schedule(static) if(par)")                                     \
    for (int64_t e = 0; e < total; e += 2) {                                                 \
      double v[2];                                                                           \
      pair_fn((uint64_t)e / 2, v);                                                           \
      for (int64_t q = 0; q < 2 && e + q < total; ++q) {                                     \
        int64_t idx = e + q;                                                                 \
        ((T *)cpu_row((out), idx / cols))[idx % cols] = (T)v[q];                             \
      }                                                                                      \
    }                                                                                        \
  } while (0)

npde_status cpu_rng_uniform(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t counter, double lo, double hi,
                            npde_mat *out) {
  (void)be;
  double span = hi - lo;
#define UNIFORM_PAIR(b, v)                                                                   \
  do {                                                                                       \
    uint32_t w[4];                                                                           \
    npde_philox_block(seed, stream, counter + (b), w);                                       \
    (v)[0] = lo + span * npde_philox_u01(w[0], w[1]);                                        \
    (v)[1] = lo + span * npde_philox_u01(w[2], w[3]);                                        \
  } while (0)
  if (out->dtype == NPDE_F64) FILL_FROM_PAIRS(double, out, UNIFORM_PAIR);
  else FILL_FROM_PAIRS(float, out, UNIFORM_PAIR);
#undef UNIFORM_PAIR
  return NPDE_OK;
}

npde_status cpu_rng_normal(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t counter, double mean, double std,
                           npde_mat *out) {
  (void)be;
#define NORMAL_PAIR(b, v)                                                                    \
  do {                                                                                       \
    uint32_t w[4];                                                                           \
    npde_philox_block(seed, stream, counter + (b), w);                                       \
    double u1 = npde_philox_u01(w[0], w[1]), u2 = npde_philox_u01(w[2], w[3]);               \
    double r = sqrt(-2.0 * log1p(-u1)); /* 1 - u1 lies in (0, 1] */                          \
    double angle = 2.0 * M_PI * u2;                                                          \
    (v)[0] = mean + std * r * cos(angle);                                                    \
    (v)[1] = mean + std * r * sin(angle);                                                    \
  } while (0)
  if (out->dtype == NPDE_F64) FILL_FROM_PAIRS(double, out, NORMAL_PAIR);
  else FILL_FROM_PAIRS(float, out, NORMAL_PAIR);
#undef NORMAL_PAIR
  return NPDE_OK;
}
