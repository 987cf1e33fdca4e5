/* The 3D wave packet of docs/methods/neural-ivp.md §7.2 (the paper's section
 * 4.1 fitting study), header only, for PDEs that use it as their initial phi
 * (wave-maps; the wave plugin keeps its own copy of the same formula in
 * wave.c):
 *
 *   phi0(y) = 30 (2 pi s1^2)^-1 exp(-|v|^2 / (2 s1^2)) cos(2 pi f y . n)
 *           + 24 (2 pi s2^2)^-1 exp(-|w|^2 / (2 s2^2)) cos(2 pi f y . m),
 *
 *   v = y - (e2 + e3)/2, w = y + (e1 + e2 + e3)/6, n = (e1 + e2)/sqrt(2),
 *   m = (e2 + e1/3)/2 (the reading of the paper's "x1 e1/3" in §7.2; m is not
 *   unit length, |m| = 0.527).
 *
 * s1, s2 and f are not given by the paper nor its code; s1 = 0.15, s2 = 0.25
 * and f = 1 are the placeholders of §7.2 (PDE_PACKET_PARAMS' defaults). With
 * these widths each term is e^-5.6, about 0.4% of its peak, at the nearest
 * face of [-1, 1]^3, so the packet is only approximately compatible with the
 * dirichlet envelope. Include after npde/plugin/npde_ext.h; brings
 * pde_gaussian.h (its finite-real reader). */
#ifndef NPDE_PLUGINS_PDE_PACKET_H
#define NPDE_PLUGINS_PDE_PACKET_H

#include <math.h>

#include "npde/plugin/npde_ext.h"

#include "pde_gaussian.h"

/* The packet's schema rows (prefix the docs' "packet:" where a PDE has other ICs). */
#define PDE_PACKET_PARAMS                                                                                     \
  {.name = "s1", .type = NPDE_PARAM_REAL, .default_value = "0.15",                                            \
   .doc = "packet: width of the first term (placeholder 0.15, docs/methods/neural-ivp.md §7.2)",              \
   .min = 1e-6,                                                                                               \
   .flags = NPDE_PARAM_HAS_MIN},                                                                              \
  {.name = "s2", .type = NPDE_PARAM_REAL, .default_value = "0.25",                                            \
   .doc = "packet: width of the second term (placeholder 0.25, docs/methods/neural-ivp.md §7.2)",             \
   .min = 1e-6,                                                                                               \
   .flags = NPDE_PARAM_HAS_MIN},                                                                              \
  {.name = "frequency", .type = NPDE_PARAM_REAL, .default_value = "1",                                        \
   .doc = "packet: f in its cosines cos(2 pi f x . n)"}

typedef struct pde_packet {
  double s1, s2, freq;
} pde_packet;

/* s1, s2, frequency from a node validated against PDE_PACKET_PARAMS. */
static inline npde_status pde_packet_read(const npde_config *cfg, const char *what, pde_packet *pk) {
  NPDE_TRY(pde_read_real(cfg, what, "s1", &pk->s1));
  NPDE_TRY(pde_read_real(cfg, what, "s2", &pk->s2));
  return pde_read_real(cfg, what, "frequency", &pk->freq);
}

/* phi0 at y (3 entries), the IC's own coordinates (a PDE that moves the packet passes x - x0). */
static inline double pde_packet_eval(const pde_packet *pk, const double *y) {
  const double inv_sqrt2 = 0.70710678118654752440084436210484903;
  const double v0 = y[0], v1 = y[1] - 0.5, v2 = y[2] - 0.5;
  const double w0 = y[0] + 1.0 / 6.0, w1 = y[1] + 1.0 / 6.0, w2 = y[2] + 1.0 / 6.0;
  const double yn = (y[0] + y[1]) * inv_sqrt2, ym = y[0] / 6.0 + 0.5 * y[1];
  const double s1sq = pk->s1 * pk->s1, s2sq = pk->s2 * pk->s2, k = PDE_TWO_PI * pk->freq;
  return 30.0 / (PDE_TWO_PI * s1sq) * exp(-(v0 * v0 + v1 * v1 + v2 * v2) / (2.0 * s1sq)) * cos(k * yn) +
         24.0 / (PDE_TWO_PI * s2sq) * exp(-(w0 * w0 + w1 * w1 + w2 * w2) / (2.0 * s2sq)) * cos(k * ym);
}

#endif
