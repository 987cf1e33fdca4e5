/* The wave equation (docs/methods/neural-ivp.md §1.1, §7 "Wave 2D / 3D",
 * §7.1, §7.2; §3.5: needs lap u_0 and u_1):
 *
 *   phi_tt = c^2 lap phi   on [-1, 1]^d,
 *
 * second order in time, solved as the first-order system u = [phi, phi_t]
 * (K = 2):
 *
 *   u_t = F(u) = [u_1, c^2 lap u_0].
 *
 * The paper's 3D wave has c = 1; its 2D wave has c^2 = 0.1, i.e.
 * `c: 0.31622776601683794`. Every IC below is translated by `center` (x0,
 * default 0): u(x, 0) = u0(x - x0).
 *
 * initial: gaussian (the code's IC, any dim): [G, 0] with the common Gaussian
 *   G of ../common/pde_gaussian.h (params s, scale, center). The paper's
 *   reference is a finite-difference solve; in 3D there is a closed form in
 *   free space, exact here: G is radial, G = g(r), r = |x - x0|, and
 *   w = r phi solves w_tt = c^2 w_rr with w(0, t) = 0, so with the odd
 *   h(u) = u g(u) (d'Alembert, w_t(r, 0) = 0):
 *
 *     phi   = [h(r + ct) + h(r - ct)] / (2r) = [h(ct + r) - h(ct - r)] / (2r),
 *     phi_t = c [h'(ct + r) - h'(ct - r)] / (2r),   h'(u) = g(u) (1 - u^2/s^2),
 *
 *   at r -> 0: phi = h'(ct), phi_t = c h''(ct), h''(u) = g(u) u (u^2/s^4 - 3/s^2).
 *   The free-space solution differs from the cube's (zero Dirichlet) only
 *   by what reaches the faces: g(1 - ct)/g(0) <= e^{-50} for t <= 0.5 with
 *   s = 0.05. In 2D, the solution on the square with phi = 0 on its faces
 *   (the problem solved) as a sine series: with X_m(x) = sin(m pi (x + 1)/2),
 *   which vanish at x = +-1 and are orthonormal on [-1, 1], G = amp g1(x)
 *   g2(y) separates, b^j_m = int g_j X_m (composite Simpson, 8192 intervals:
 *   200 or more per s for s >= 0.05... its error far below the truncation),
 *   and
 *     phi   = amp sum_{m,n <= M} b^1_m b^2_n X_m(x) X_n(y) cos(c k_mn t),
 *     phi_t = -amp sum c k_mn b^1_m b^2_n X_m(x) X_n(y) sin(c k_mn t),
 *   k_mn = (pi/2) sqrt(m^2 + n^2). Truncation: b_m falls like
 *   exp(-(m pi s / 2)^2 / 2); M = ceil(18 / (pi s)) + 1 leaves out modes
 *   below e^-40 of the first (M = 116 for s = 0.05; at most 600, s >= 0.01).
 *   At t = 0 exact() returns the IC itself, which the series matches to the
 *   truncation and to G's own value on the faces (e^-200 of its peak for
 *   s = 0.05). In other dimensions no exact solution.
 *
 * initial: radial (dim 3 only; docs/methods/neural-ivp.md §7.1, the paper's
 *   App. B.1 outgoing wave):
 *   with r = |x - x0| and f(s) = 2 s^2 e^{-200 s^2},
 *
 *     phi0   = f(-r)/r   = 2 r e^{-200 r^2},
 *     phi_t0 = c f'(-r)/r = c (800 r^2 - 4) e^{-200 r^2}
 *
 *   (the data of §7.1 for c = 1; for other c the same outgoing profile moving
 *   at speed c). phi0 is cone-shaped at r = 0 (|x| is not smooth there) and
 *   phi_t0(0) = -4c. On the faces r >= 1, so both are below 800 e^{-200}:
 *   "zero" for the dirichlet envelope, though not exactly.
 *
 *   Exact solution (source-free, docs/methods/neural-ivp.md §7.1): with
 *   s = r - c t,
 *
 *     phi   = f(s) H(s) / r,
 *     phi_t = d/dt [f(r - c t)/r] = -c f'(s) H(s) / r = c (800 s^2 - 4) s e^{-200 s^2} H(s) / r,
 *
 *   since f'(s) = (4 s - 800 s^3) e^{-200 s^2}; zero inside the ball r < c t.
 *   Derivation: for radial phi, lap phi = (r phi)_rr / r, so w = r phi solves
 *   the 1D wave equation w_tt = c^2 w_rr on r > 0 with w(0, t) = 0 (phi stays
 *   bounded). Extend w oddly in r: W0(r) = sign(r) f(r) (f is even), and
 *   W1(r) = -c f'(r) (f' is odd, so it already is). d'Alembert gives
 *   w = [W0(r + ct) + W0(r - ct)]/2 - [f(r + ct) - f(r - ct)]/2, which is
 *   f(r - ct) for r > ct and 0 for 0 < r < ct (t >= 0). The paper's
 *   f(t - r)/r is a different function: f is even, so it also holds the
 *   pulse of a point source at the origin (singular like f(t)/r there).
 *   f(0) = f'(0) = 0, so phi and phi_t are continuous across the front
 *   r = c t, but f''(0) = 4: second derivatives jump there and at r = 0.
 *   exact() is for t >= 0 (time starts at 0; before it the reflection at
 *   the origin would appear), and exact(0) == initial bit for bit.
 *
 * initial: packet (dim 3 only; docs/methods/neural-ivp.md §7.2, the paper's
 *   section 4.1 fitting study):
 *
 *   phi0 = 30 (2 pi s1^2)^-1 exp(-|v|^2 / (2 s1^2)) cos(2 pi f x . n)
 *        + 24 (2 pi s2^2)^-1 exp(-|w|^2 / (2 s2^2)) cos(2 pi f x . m),   phi_t0 = 0,
 *
 *   v = x - (e2 + e3)/2, w = x + (e1 + e2 + e3)/6, n = (e1 + e2)/sqrt(2),
 *   m = (e2 + e1/3)/2 (the reading of §7.2; not unit length), x here already
 *   translated by -x0. s1 = 0.15, s2 = 0.25 and f = `frequency` are the
 *   placeholders of §7.2 (the paper gives none). No exact solution. With these
 *   widths each term is e^{-5.6}, about 0.4% of its peak, at the nearest face.
 *
 * info: order LAPLACIAN (a HESSIAN jet is accepted, its diagonal used),
 * dirichlet_zero true, has_exact for radial and for the 3D gaussian.
 *
 * YAML: {type: wave, dim: 3, c: 1, initial: gaussian|radial|packet, s: 0.05,
 * scale: 1/30, center: [0], s1: 0.15, s2: 0.25, frequency: 1}.
 */
#include <math.h>

#include "npde/plugin/npde_ext.h"

#include "../common/pde_gaussian.h"
#include "../common/pde_packet.h"

#define WAVE_MAX_DIM 8

typedef enum wave_ic { WAVE_GAUSSIAN, WAVE_RADIAL, WAVE_PACKET } wave_ic;

static const char *const wave_ic_names[] = {"gaussian", "radial", "packet"};

typedef struct wave_state {
  pde_gaussian ic; /* dim, s, scale, center (the translation x0 of every IC) */
  double c;
  wave_ic initial;
  pde_packet packet;
  int series_m;     /* the 2D Gaussian's sine series: modes per axis (0: none) */
  double *series_b; /* 2 x series_m coefficients b^1_m, b^2_m */
} wave_state;

#define SERIES_MAX_MODES 600
#define SERIES_INTERVALS 8192

/* b_m = int_{-1}^{1} exp(-(x - x0)^2 / (2 s^2)) sin(m pi (x + 1) / 2) dx, m = 1..M, by composite Simpson. */
static void series_coefficients(double x0, double s, int M, double *b) {
  const double h = 2.0 / SERIES_INTERVALS;
  for (int m = 1; m <= M; ++m) {
    double sum = 0.0;
    for (int k = 0; k <= SERIES_INTERVALS; ++k) {
      const double x = -1.0 + k * h, w = k == 0 || k == SERIES_INTERVALS ? 1.0 : k % 2 ? 4.0 : 2.0;
      sum += w * exp(-(x - x0) * (x - x0) / (2.0 * s * s)) * sin(m * M_PI * (x + 1.0) / 2.0);
    }
    b[m - 1] = sum * h / 3.0;
  }
}

static npde_status wave_create(npde_pde *p, const npde_config *cfg, npde_backend *be) {
  (void)be;
  wave_state *s = npde_pde_state(p);
  NPDE_TRY(pde_gaussian_read(cfg, "wave", &s->ic));
  NPDE_TRY(pde_read_real(cfg, "wave", "c", &s->c));
  int initial = 0;
  NPDE_TRY(npde_config_get_enum(cfg, "initial", wave_ic_names, sizeof wave_ic_names / sizeof *wave_ic_names, &initial));
  s->initial = (wave_ic)initial;
  if (s->initial != WAVE_GAUSSIAN && s->ic.d != 3)
    return npde_config_error(npde_config_get(cfg, "initial"),
                             "wave: initial '%s' is a 3D initial condition; it needs dim = 3, found dim = %lld",
                             wave_ic_names[initial], (long long)s->ic.d);
  NPDE_TRY(pde_packet_read(cfg, "wave", &s->packet));
  if (s->initial == WAVE_GAUSSIAN && s->ic.d == 2) {
    const double m = ceil(18.0 / (M_PI * s->ic.s)) + 1.0;
    s->series_m = m > SERIES_MAX_MODES ? SERIES_MAX_MODES : (int)m;
    s->series_b = npde_alloc((size_t)(2 * s->series_m) * sizeof *s->series_b);
    if (!s->series_b) return NPDE_ERROR(NPDE_ERR_NOMEM, "pde 'wave': out of memory for the 2D sine series");
    for (int j = 0; j < 2; ++j) series_coefficients(s->ic.center[j], s->ic.s, s->series_m, s->series_b + j * s->series_m);
    if (m > SERIES_MAX_MODES)
      npde_log(NPDE_LOG_WARN, "pde 'wave': s = %g needs %.0f sine modes per axis for an exact 2D solution; using %d, "
               "so the reference is truncated above e^-40", s->ic.s, m, SERIES_MAX_MODES);
  }
  return NPDE_OK;
}

static void wave_destroy(npde_pde *p) {
  wave_state *s = npde_pde_state(p);
  npde_free(s->series_b);
}

/* Radial, the 3D Gaussian and the 2D Gaussian's series on the square (see the top). */
static bool wave_has_exact(const wave_state *s) {
  return s->initial == WAVE_RADIAL || (s->initial == WAVE_GAUSSIAN && (s->ic.d == 3 || s->ic.d == 2));
}

/* The 2D Gaussian's sine series [phi, phi_t] at n points, time t (see the top). */
static npde_status wave_series(const wave_state *s, double t, const double *x, int64_t n, double *U) {
  const int M = s->series_m;
  double *cs = npde_alloc((size_t)(2 * M * M + 2 * M) * sizeof *cs);
  if (!cs) return NPDE_ERROR(NPDE_ERR_NOMEM, "pde 'wave': out of memory for the 2D sine series");
  double *sn = cs + M * M, *bx = sn + M * M, *by = bx + M;
  for (int m = 1; m <= M; ++m)
    for (int q = 1; q <= M; ++q) {
      const double w = s->c * (M_PI / 2.0) * sqrt((double)(m * m + q * q));
      cs[(m - 1) * M + q - 1] = cos(w * t);
      sn[(m - 1) * M + q - 1] = -w * sin(w * t);
    }
  const double amp = pde_gaussian_peak(&s->ic);
  for (int64_t i = 0; i < n; ++i) {
    for (int m = 1; m <= M; ++m) {
      bx[m - 1] = s->series_b[m - 1] * sin(m * M_PI * (x[2 * i] + 1.0) / 2.0);
      by[m - 1] = s->series_b[M + m - 1] * sin(m * M_PI * (x[2 * i + 1] + 1.0) / 2.0);
    }
    double phi = 0.0, phit = 0.0;
    for (int m = 0; m < M; ++m) {
      double a = 0.0, b = 0.0;
      for (int q = 0; q < M; ++q) a += by[q] * cs[m * M + q], b += by[q] * sn[m * M + q];
      phi += bx[m] * a, phit += bx[m] * b;
    }
    U[2 * i] = amp * phi;
    U[2 * i + 1] = amp * phit;
  }
  npde_free(cs);
  return NPDE_OK;
}

static npde_status wave_info(const npde_pde *p, npde_pde_info *info) {
  const wave_state *s = npde_pde_state(p);
  info->dim = s->ic.d;
  info->outputs = 2;
  info->order = NPDE_JET_LAPLACIAN;
  info->has_exact = wave_has_exact(s);
  info->dirichlet_zero = true;
  return NPDE_OK;
}

/* The radial wave [phi, phi_t] at distance r from x0 and time t >= 0 (see the top); t = 0 is the IC. */
static void wave_radial(double c, double r, double t, double *U) {
  const double s = r - c * t; /* the retarded radius */
  if (t != 0.0 && !(s > 0.0)) {
    U[0] = U[1] = 0.0; /* inside the front: still at rest */
    return;
  }
  const double q = t == 0.0 ? 1.0 : s / r; /* s / r; at t = 0 exactly 1, also in the limit r -> 0 */
  const double e = exp(-200.0 * s * s);
  U[0] = 2.0 * s * q * e;
  U[1] = c * (800.0 * s * s - 4.0) * q * e;
}

/* The 3D Gaussian's free-space solution [phi, phi_t] at distance r from x0, time t > 0 (see the top); g(u) =
 * amp e^{-u^2/(2 var)}. Below r = 1e-6 the differences over 2r would cancel: the r -> 0 limits are within
 * O(r^2 / s^2) there. */
static void wave_gaussian3(double c, double amp, double var, double r, double t, double *U) {
  const double a = c * t;
  if (r < 1e-6) {
    const double g = amp * exp(-a * a / (2.0 * var));
    U[0] = g * (1.0 - a * a / var);
    U[1] = c * g * a * (a * a / (var * var) - 3.0 / var);
    return;
  }
  const double p = a + r, m = a - r, gp = amp * exp(-p * p / (2.0 * var)), gm = amp * exp(-m * m / (2.0 * var));
  U[0] = (p * gp - m * gm) / (2.0 * r);
  U[1] = c * (gp * (1.0 - p * p / var) - gm * (1.0 - m * m / var)) / (2.0 * r);
}

static npde_status wave_initial(const npde_pde *p, const double *x, int64_t n, double *U) {
  const wave_state *s = npde_pde_state(p);
  const int64_t d = s->ic.d;
  switch (s->initial) {
  case WAVE_GAUSSIAN: {
    const double amp = pde_gaussian_peak(&s->ic), var = s->ic.s * s->ic.s;
    for (int64_t i = 0; i < n; ++i) {
      U[2 * i] = pde_gaussian_eval(&s->ic, amp, var, x + i * d, NULL);
      U[2 * i + 1] = 0.0;
    }
    break;
  }
  case WAVE_RADIAL:
    for (int64_t i = 0; i < n; ++i) wave_radial(s->c, sqrt(pde_dist2(&s->ic, x + i * d, NULL)), 0.0, U + 2 * i);
    break;
  case WAVE_PACKET:
    for (int64_t i = 0; i < n; ++i) {
      double y[3];
      for (int j = 0; j < 3; ++j) y[j] = x[i * d + j] - s->ic.center[j];
      U[2 * i] = pde_packet_eval(&s->packet, y);
      U[2 * i + 1] = 0.0;
    }
    break;
  }
  return NPDE_OK;
}

static npde_status wave_exact(const npde_pde *p, double t, const double *x, int64_t n, double *U) {
  const wave_state *s = npde_pde_state(p);
  if (!wave_has_exact(s))
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "pde 'wave': initial '%s' in %lld dimensions has no exact solution "
                      "(radial and the 2D and 3D gaussian have)", wave_ic_names[s->initial], (long long)s->ic.d);
  if (!(t >= 0.0))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde 'wave': exact(t = %g) is defined for t >= 0 (time starts at 0)", t);
  if (t == 0.0) return wave_initial(p, x, n, U); /* exact(0) is the IC bit for bit */
  if (s->series_m > 0) return wave_series(s, t, x, n, U);
  const int64_t d = s->ic.d;
  const double amp = pde_gaussian_peak(&s->ic), var = s->ic.s * s->ic.s;
  for (int64_t i = 0; i < n; ++i) {
    const double r = sqrt(pde_dist2(&s->ic, x + i * d, NULL));
    if (s->initial == WAVE_GAUSSIAN) wave_gaussian3(s->c, amp, var, r, t, U + 2 * i);
    else wave_radial(s->c, r, t, U + 2 * i);
  }
  return NPDE_OK;
}

static npde_status wave_rhs(const npde_pde *p, double t, const npde_pde_jets *jets, double *F) {
  (void)t;
  const wave_state *s = npde_pde_state(p);
  const int64_t n = jets->n;
  if (n > 0 && (!jets->second || jets->K != 2))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde 'wave': rhs needs K = 2 outputs and the second-derivative jets");
  const double c2 = s->c * s->c;
  for (int64_t i = 0; i < n; ++i) {
    F[2 * i] = jets->value[2 * i + 1];               /* phi_t */
    F[2 * i + 1] = c2 * npde_jets_laplacian(jets, i, 0); /* c^2 lap phi */
  }
  return NPDE_OK;
}

static const npde_pde_ops wave_ops = {
    .struct_size = sizeof(npde_pde_ops),
    .create = wave_create,
    .destroy = wave_destroy,
    .info = wave_info,
    .initial = wave_initial,
    .exact = wave_exact,
    .rhs = wave_rhs,
};

static const npde_param_spec wave_params[] = {
    {.name = "dim", .type = NPDE_PARAM_INT, .default_value = "3", .doc = "d: the domain is [-1, 1]^d",
     .min = 1, .max = WAVE_MAX_DIM, .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX},
    {.name = "c", .type = NPDE_PARAM_REAL, .default_value = "1",
     .doc = "wave speed in phi_tt = c^2 lap phi (the paper's 2D wave: c^2 = 0.1, c = 0.31622776601683794)",
     .min = 0, .flags = NPDE_PARAM_HAS_MIN},
    {.name = "initial", .type = NPDE_PARAM_ENUM, .default_value = "gaussian", .choices = "gaussian|radial|packet",
     .doc = "[phi, phi_t](x, 0): gaussian [G, 0] (exact in free space for dim 3); radial: the outgoing wave of "
            "docs/methods/neural-ivp.md §7.1 (dim 3, exact); packet: the wave packet of §7.2 (dim 3)"},
    /* PDE_GAUSSIAN_PARAMS with this PDE's docs: center moves every IC */
    {.name = "s", .type = NPDE_PARAM_REAL, .default_value = "0.05",
     .doc = "gaussian: width of G = scale exp(-|x - center|^2/(2 s^2))/(2 pi s^2)", .min = 1e-6,
     .flags = NPDE_PARAM_HAS_MIN},
    {.name = "scale", .type = NPDE_PARAM_REAL, .default_value = "0.033333333333333333",
     .doc = "gaussian: factor of G (1/30 in docs/methods/neural-ivp.md §7)"},
    {.name = "center", .type = NPDE_PARAM_REAL_LIST, .default_value = "[0]",
     .doc = "x0: every IC is u0(x - x0) (the Gaussian's center, the radial wave's origin): dim entries, or one "
            "for every axis"},
    PDE_PACKET_PARAMS,
    {0},
};

const npde_component_desc wave_pde_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_PDE,
    .name = "wave",
    .summary = "phi_tt = c^2 lap phi as u = [phi, phi_t]; Gaussian (exact in 3D), radial (exact) or wave-packet IC",
    .ops = &wave_ops,
    .state_size = sizeof(wave_state),
    .params = wave_params,
};
