/**
 * The per-element arithmetic of the fused backend kernels, header-only so
 * that the CPU and CUDA backends compile the very same formulas (as
 * npde_philox.h does for the RNG). All in double; a backend rounds to its
 * element type on store.
 */
#ifndef NPDE_KERNEL_MATH_H
#define NPDE_KERNEL_MATH_H

#include <math.h>

#include "npde_backend.h"
#include "npde_export.h"

/** s(z), s'(z), s''(z) of an activation; NaN for an unknown one. */
static inline NPDE_HOSTDEVICE void npde_activation_eval(npde_activation act, double z, double *s0, double *s1,
                                                        double *s2) {
  switch (act) {
    case NPDE_ACT_IDENTITY: *s0 = z; *s1 = 1.0; *s2 = 0.0; return;
    case NPDE_ACT_SWISH: {
      double sg = 1.0 / (1.0 + exp(-z));
      *s0 = z * sg;
      *s1 = sg + z * sg * (1.0 - sg);
      *s2 = sg * (1.0 - sg) * (2.0 + z * (1.0 - 2.0 * sg));
      return;
    }
    case NPDE_ACT_TANH: {
      double t = tanh(z);
      *s0 = t;
      *s1 = 1.0 - t * t;
      *s2 = -2.0 * t * (1.0 - t * t);
      return;
    }
    case NPDE_ACT_SIN: *s0 = sin(z); *s1 = cos(z); *s2 = -*s0; return;
    default: *s0 = *s1 = *s2 = NAN; return;
  }
}

/** Frequency k of the sinusoidal embedding: w_k = (pi/2) 2^k (the literal is 0.5 * M_PI exactly). */
static inline NPDE_HOSTDEVICE double npde_sinusoidal_frequency(int64_t k) {
  return 1.5707963267948966 * ldexp(1.0, (int)k);
}

/** The factor amp w^(order - alpha) of a feature's derivative `order`. */
static inline NPDE_HOSTDEVICE double npde_sinusoidal_scale(double w, double amp, int order, double alpha) {
  return amp * pow(w, (double)order - alpha);
}

/** Derivative `order` (0, 1, 2) of sin and cos, from sn = sin(a), cs = cos(a). */
static inline NPDE_HOSTDEVICE void npde_sincos_derivative(int order, double sn, double cs, double *fs, double *fc) {
  switch (order) {
    case 0: *fs = sn; *fc = cs; return;
    case 1: *fs = cs; *fc = -sn; return;
    default: *fs = -sn; *fc = -cs; return;
  }
}

/** One Adam update of one element (npde_backend_adam); c1, c2 = 1 - b^step. */
static inline NPDE_HOSTDEVICE void npde_adam_element(double g, double *m, double *v, double *theta, double lr,
                                                     double b1, double b2, double eps, double c1, double c2) {
  *m = b1 * *m + (1.0 - b1) * g;
  *v = b2 * *v + (1.0 - b2) * g * g;
  *theta -= lr * (*m / c1) / (sqrt(*v / c2) + eps);
}

#endif
