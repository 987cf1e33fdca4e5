/* The paper's "wave maps": a scalar wave on the Schwarzschild metric
 * (docs/methods/neural-ivp.md §7.3; §3.5: needs phi_t, grad phi and the full
 * Hessian of phi):
 *
 *   g^{mu nu} d_mu d_nu phi - Gamma^sigma d_sigma phi = 0,   Gamma^sigma = g^{ab} Gamma^sigma_{ab},
 *
 * on x in [-1, 1]^3, second order in time, solved as u = [phi, phi_t]
 * (K = 2): u_t = [u_1, phi_tt].
 *
 * Metric (static, in the paper's coordinates): with the black hole at c
 * (`center`, default -2 e1), y = x - c, r = |y|, n = y / r and
 * r_s = 2M (`rs`, default 1, i.e. M = 1/2),
 *
 *   g_00 = -(1 - r_s/r),   g_0i = 0,   g_ij = delta_ij + (r_s / (r - r_s)) n_i n_j.
 *
 * Closed forms (those of docs/methods/neural-ivp.md §7.3, checked there and
 * in this plugin's test against a numerically inverted metric and
 * finite-differenced Christoffels):
 * g^00 = -r / (r - r_s), g^ij = delta_ij - (r_s/r) n_i n_j, Gamma^0 = 0,
 * Gamma^i = r_s y_i / r^3. The equation solved for phi_tt (the reference
 * code's form; the g^0i and Gamma^0 terms vanish, so grad phi_t is unused),
 *
 *   phi_tt = (-g^ij d_ij phi + Gamma^i d_i phi) / g^00
 *          = (1 - r_s/r) [ lap phi - (r_s/r^3) y^T (hess phi) y - (r_s/r^3) y . grad phi ].
 *
 * With r_s = 0 this is the flat wave equation phi_tt = lap phi.
 *
 * The horizon r = r_s: with the defaults r ranges over [1, sqrt(11)] on the
 * cube and the horizon touches it at the single face point x = (-1, 0, 0).
 * There 1 - r_s/r -> 0 and phi_tt -> 0: every term stays bounded (the
 * closed forms are used because g_ij itself blows up there). create()
 * refuses a centre and r_s for which the horizon reaches further into the
 * cube (distance from c to the cube < r_s). Points with r < r_s can then
 * only come from outside the cube; rhs evaluates the same formula there and
 * refuses only r = 0 when r_s > 0 (with r_s = 0 the centre is an ordinary
 * point).
 *
 * Initial condition (the reference code has none; the paper says "a wave
 * packet", unverified): [phi0(x - x0), 0], x0 = `ic_center` (default 0), with
 *   initial: packet (default): the wave packet of docs/methods/neural-ivp.md §7.2 (see
 *     ../common/pde_packet.h; s1 = 0.15, s2 = 0.25, frequency 1), or
 *   initial: gaussian: the common Gaussian G of ../common/pde_gaussian.h
 *     (s = 0.05, scale = 1/30).
 * Neither has an exact solution (the paper's reference, docs/methods/neural-ivp.md
 * §7.3, is a 150^3 finite difference solve). dirichlet_zero: the packet is
 * about 0.4% of its peak at the nearest face, so only approximately
 * compatible with the envelope.
 *
 * YAML: {type: wave-maps, rs: 1, center: [-2, 0, 0], initial: packet|gaussian,
 * s1: 0.15, s2: 0.25, frequency: 1, s: 0.05, scale: 1/30, ic_center: [0]};
 * center and ic_center take 3 entries or one for every axis.
 */
#include <math.h>

#include "npde/plugin/npde_ext.h"

#include "../common/pde_gaussian.h"
#include "../common/pde_packet.h"

#define WM_DIM 3

typedef enum wm_ic { WM_PACKET, WM_GAUSSIAN } wm_ic;

static const char *const wm_ic_names[] = {"packet", "gaussian"};

typedef struct wm_state {
  double rs;
  double c[WM_DIM]; /* the black hole */
  wm_ic initial;
  pde_packet packet;
  pde_gaussian gauss; /* d = 3, s, scale, center = ic_center (the translation x0 of either IC) */
} wm_state;

static npde_status wm_create(npde_pde *p, const npde_config *cfg, npde_backend *be) {
  (void)be;
  wm_state *s = npde_pde_state(p);
  if (!cfg) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde 'wave-maps': created without a config node");
  NPDE_TRY(pde_read_real(cfg, "wave-maps", "rs", &s->rs));
  NPDE_TRY(pde_read_vector(cfg, "wave-maps", "center", WM_DIM, s->c));
  /* the horizon may touch the cube but not reach into it: distance from c to the cube >= r_s */
  double dist2 = 0.0;
  for (int j = 0; j < WM_DIM; ++j) {
    const double out = fabs(s->c[j]) - 1.0;
    if (out > 0.0) dist2 += out * out;
  }
  if (s->rs > 0.0 && sqrt(dist2) < s->rs)
    return npde_config_error(npde_config_get(cfg, "center"),
                             "wave-maps: the horizon r = rs = %g around center (%g, %g, %g) reaches into the domain "
                             "[-1, 1]^3 (the center is %g from the cube); the metric needs r >= rs on the cube, so "
                             "move the center out to a distance >= rs or lower rs",
                             s->rs, s->c[0], s->c[1], s->c[2], sqrt(dist2));
  int initial = 0;
  NPDE_TRY(npde_config_get_enum(cfg, "initial", wm_ic_names, sizeof wm_ic_names / sizeof *wm_ic_names, &initial));
  s->initial = (wm_ic)initial;
  NPDE_TRY(pde_packet_read(cfg, "wave-maps", &s->packet));
  s->gauss.d = WM_DIM;
  NPDE_TRY(pde_read_real(cfg, "wave-maps", "s", &s->gauss.s));
  NPDE_TRY(pde_read_real(cfg, "wave-maps", "scale", &s->gauss.scale));
  return pde_read_vector(cfg, "wave-maps", "ic_center", WM_DIM, s->gauss.center);
}

static void wm_destroy(npde_pde *p) { (void)p; }

static npde_status wm_info(const npde_pde *p, npde_pde_info *info) {
  (void)p;
  info->dim = WM_DIM;
  info->outputs = 2;
  info->order = NPDE_JET_HESSIAN;
  info->has_exact = false;
  info->dirichlet_zero = true;
  return NPDE_OK;
}

static npde_status wm_initial(const npde_pde *p, const double *x, int64_t n, double *U) {
  const wm_state *s = npde_pde_state(p);
  const double amp = pde_gaussian_peak(&s->gauss), var = s->gauss.s * s->gauss.s;
  for (int64_t i = 0; i < n; ++i) {
    const double *xi = x + i * WM_DIM;
    if (s->initial == WM_GAUSSIAN) {
      U[2 * i] = pde_gaussian_eval(&s->gauss, amp, var, xi, NULL);
    } else {
      double y[WM_DIM];
      for (int j = 0; j < WM_DIM; ++j) y[j] = xi[j] - s->gauss.center[j];
      U[2 * i] = pde_packet_eval(&s->packet, y);
    }
    U[2 * i + 1] = 0.0;
  }
  return NPDE_OK;
}

static npde_status wm_rhs(const npde_pde *p, double t, const npde_pde_jets *jets, double *F) {
  (void)t;
  const wm_state *s = npde_pde_state(p);
  const int64_t n = jets->n;
  if (n > 0 && (jets->K != 2 || jets->d != WM_DIM || jets->order != NPDE_JET_HESSIAN || !jets->grad ||
                !jets->second))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "pde 'wave-maps': rhs needs K = 2, d = 3 and the full Hessian jets");
  for (int64_t i = 0; i < n; ++i) {
    const double *x = jets->x + i * WM_DIM;
    const double *g = jets->grad + 2 * i * WM_DIM;             /* grad phi (output 0) */
    const double *H = jets->second + 2 * i * WM_DIM * WM_DIM; /* hess phi */
    double y[WM_DIM], r2 = 0.0;
    for (int j = 0; j < WM_DIM; ++j) y[j] = x[j] - s->c[j], r2 += y[j] * y[j];
    const double lap = npde_jets_laplacian(jets, i, 0);
    double yHy = 0.0, yg = 0.0;
    for (int j = 0; j < WM_DIM; ++j) {
      yg += y[j] * g[j];
      for (int l = 0; l < WM_DIM; ++l) yHy += y[j] * H[j * WM_DIM + l] * y[l];
    }
    double lapse = 1.0, k = 0.0; /* 1 - r_s/r and r_s/r^3; flat for r_s = 0 */
    if (s->rs != 0.0) {
      if (!(r2 > 0.0))
        return NPDE_ERROR(NPDE_ERR_INVALID_ARG,
                          "pde 'wave-maps': rhs at point %lld, (%g, %g, %g), the black hole's centre (r = 0)",
                          (long long)i, x[0], x[1], x[2]);
      const double r = sqrt(r2);
      lapse = 1.0 - s->rs / r;
      k = s->rs / (r2 * r);
    }
    F[2 * i] = jets->value[2 * i + 1]; /* phi_t */
    F[2 * i + 1] = lapse * (lap - k * yHy - k * yg);
  }
  return NPDE_OK;
}

static const npde_pde_ops wm_ops = {
    .struct_size = sizeof(npde_pde_ops),
    .create = wm_create,
    .destroy = wm_destroy,
    .info = wm_info,
    .initial = wm_initial,
    .rhs = wm_rhs,
};

static const npde_param_spec wm_params[] = {
    {.name = "rs", .type = NPDE_PARAM_REAL, .default_value = "1",
     .doc = "Schwarzschild radius r_s = 2M (1: M = 1/2, the paper's); 0 gives the flat wave equation", .min = 0,
     .flags = NPDE_PARAM_HAS_MIN},
    {.name = "center", .type = NPDE_PARAM_REAL_LIST, .default_value = "[-2, 0, 0]",
     .doc = "position c of the black hole (r = |x - c|), at distance >= rs from the cube: 3 entries, or one for "
            "every axis"},
    {.name = "initial", .type = NPDE_PARAM_ENUM, .default_value = "packet", .choices = "packet|gaussian",
     .doc = "[phi, phi_t](x, 0) = [phi0(x - ic_center), 0]: packet, the wave packet of "
            "docs/methods/neural-ivp.md §7.2; gaussian, the common Gaussian G"},
    PDE_PACKET_PARAMS,
    {.name = "s", .type = NPDE_PARAM_REAL, .default_value = "0.05",
     .doc = "gaussian: width of G = scale exp(-|x - ic_center|^2/(2 s^2))/(2 pi s^2)", .min = 1e-6,
     .flags = NPDE_PARAM_HAS_MIN},
    {.name = "scale", .type = NPDE_PARAM_REAL, .default_value = "0.033333333333333333",
     .doc = "gaussian: factor of G (1/30 in docs/methods/neural-ivp.md §7)"},
    {.name = "ic_center", .type = NPDE_PARAM_REAL_LIST, .default_value = "[0]",
     .doc = "x0: the IC is phi0(x - x0) (the packet's origin, the Gaussian's centre): 3 entries, or one for every "
            "axis"},
    {0},
};

const npde_component_desc wave_maps_pde_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_PDE,
    .name = "wave-maps",
    .summary = "wave equation on Schwarzschild (docs/methods/neural-ivp.md §7.3) as u = [phi, phi_t], "
               "closed-form phi_tt, wave-packet or Gaussian IC, no exact solution",
    .ops = &wm_ops,
    .state_size = sizeof(wm_state),
    .params = wm_params,
};
