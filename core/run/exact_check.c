/* Every "exact" is exact: before a run reports errors against a PDE's exact
 * solution, it checks that the solution satisfies the PDE (u_t against
 * rhs, both from differences of exact() in t and x at random interior
 * points) and its boundary condition: on a Dirichlet axis it equals the
 * lift g on the faces (0 without dirichlet:), on a periodic axis it takes
 * the same values on the two faces. With a lift the check works on w =
 * exact - g, the network's part, for which npde_pde_rhs is written: w_t =
 * F(g + w) - g_t, and w vanishes on the Dirichlet faces. A solution that fails is still used, but logged with its
 * figures and named "the reference" in every error line after. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde_log.h"
#include "npde/npde_philox.h"

#include "run_context.h"

#define CHECK_POINTS 32
#define STEP 1e-3       /* of the differences in x and t (fourth order for u_t, u_x, u_xx; second for u_xy) */
#define RESIDUAL_TOL 1e-4 /* max |u_t - rhs| relative to max |u_t| (truncation of the differences: ~1e-8) */
#define BOUNDARY_TOL 1e-8 /* max |u - g| on the Dirichlet faces, max |u(lo) - u(hi)| across periodic ones, relative
                             to max |u| inside */
#define CHECK_TIMES 2
#define INITIAL_TOL 1e-8 /* max |exact(0) - initial| relative to max |initial| */

typedef struct probe {
  const npde_pde *pde;
  int64_t n, d, K;
  double *x, *u; /* n x d; n x K */
} probe;

/* u = exact(t) at x + sum_q c_q h e_{a_q} for up to two axes a (negative: unused). */
static npde_status exact_at(probe *p, const double *x0, double t, int a, double ca, int b, double cb) {
  memcpy(p->x, x0, (size_t)(p->n * p->d) * sizeof *p->x);
  for (int64_t i = 0; i < p->n; ++i) {
    if (a >= 0) p->x[i * p->d + a] += ca * STEP;
    if (b >= 0) p->x[i * p->d + b] += cb * STEP;
  }
  NPDE_TRY(npde_pde_exact(p->pde, t, p->x, p->n, p->u));
  return npde_pde_add_lift(p->pde, t, p->x, p->n, -1.0, p->u, NULL);
}

/* out[i K + k] = sum_s w_s exact(t + dt_s, x + dx_s) / scale over a 1-D difference stencil along axis a (-1: t). */
static npde_status derivative(probe *p, const double *x0, double t, int a, const double *w, double scale,
                              double *out) {
  static const double offsets[5] = {-2, -1, 0, 1, 2};
  memset(out, 0, (size_t)(p->n * p->K) * sizeof *out);
  for (int s = 0; s < 5; ++s) {
    if (w[s] == 0.0) continue;
    NPDE_TRY(a < 0 ? exact_at(p, x0, t + offsets[s] * STEP, -1, 0, -1, 0) : exact_at(p, x0, t, a, offsets[s], -1, 0));
    for (int64_t e = 0; e < p->n * p->K; ++e) out[e] += w[s] * p->u[e] / scale;
  }
  return NPDE_OK;
}

/* "dirichlet on axis 1, periodic on axis 2" */
static const char *boundary_words(const npde_boundary_kind *kinds, int64_t d, bool lifted, char *text, size_t size) {
  static const char *const names[] = {"none", "dirichlet", "periodic"};
  size_t used = 0;
  text[0] = 0;
  for (int64_t j = 0; j < d && used < size; ++j) {
    if (kinds[j] == NPDE_BOUNDARY_NONE) continue;
    int w = snprintf(text + used, size - used, "%s%s%s on axis %lld", used ? ", " : "", names[kinds[j]],
                     kinds[j] == NPDE_BOUNDARY_DIRICHLET ? (lifted ? " u = g" : " u = 0") : "", (long long)j + 1);
    if (w < 0) break;
    used += (size_t)w;
  }
  return text;
}

npde_status npde__exact_check(npde_run_ctx *rs) {
  if (!rs->pde) return NPDE_OK;
  const npde_pde_info info = npde_pde_get_info(rs->pde);
  if (!info.has_exact || info.sides != 0) return NPDE_OK;
  const int64_t n = CHECK_POINTS, d = info.dim, K = info.outputs;
  const npde_jet_order order = info.order < NPDE_JET_GRAD ? NPDE_JET_GRAD : info.order;
  const int64_t second = npde_jet_second_width(order, d);
  probe p = {.pde = rs->pde, .n = n, .d = d, .K = K};
  npde_boundary_kind kinds[64] = {NPDE_BOUNDARY_NONE};
  bool faces = false;
  if (d <= 64) npde_pde_boundary(rs->pde, kinds);
  for (int64_t j = 0; j < d && j < 64; ++j) faces = faces || kinds[j] != NPDE_BOUNDARY_NONE;
  double *x0 = malloc((size_t)(n * d) * sizeof *x0), *value = malloc((size_t)(n * K) * sizeof *value);
  double *grad = malloc((size_t)(n * K * d) * sizeof *grad), *sec = calloc((size_t)(n * K * (second ? second : 1)), sizeof *sec);
  double *ut = malloc((size_t)(n * K) * sizeof *ut), *F = malloc((size_t)(n * K) * sizeof *F);
  double *tmp = malloc((size_t)(n * K) * sizeof *tmp), *tmp2 = malloc((size_t)(n * K) * sizeof *tmp2);
  p.x = malloc((size_t)(n * d) * sizeof *p.x);
  double *xf = malloc((size_t)(n * d) * sizeof *xf);
  p.u = malloc((size_t)(n * K) * sizeof *p.u);
  npde_status st = x0 && value && grad && sec && ut && F && tmp && tmp2 && p.x && p.u && xf
                       ? NPDE_OK
                       : NPDE_ERROR(NPDE_ERR_NOMEM, "exact-solution check: out of memory");
  static const double first[5] = {1.0 / 12, -8.0 / 12, 0, 8.0 / 12, -1.0 / 12};
  static const double pure[5] = {-1.0 / 12, 16.0 / 12, -30.0 / 12, 16.0 / 12, -1.0 / 12};
  double worst = 0.0, scale = 0.0, worst_t = 0.0, inside = 0.0, face = 0.0, face_t = 0.0;
  for (int q = 0; st == NPDE_OK && q < CHECK_TIMES; ++q) {
    const double t = 0.05 + 0.2 * q; /* within every PDE's interval of interest, away from t = 0 */
    for (int64_t e = 0; e < n * d; ++e)
      x0[e] = -0.9 + 1.8 * npde_philox_uniform_at(rs->seed, NPDE__STREAM_EXACT, 0, (uint64_t)(q * n * d + e));
    st = exact_at(&p, x0, t, -1, 0, -1, 0);
    if (st == NPDE_OK) memcpy(value, p.u, (size_t)(n * K) * sizeof *value);
    if (st == NPDE_OK) st = derivative(&p, x0, t, -1, first, STEP, ut);
    for (int a = 0; st == NPDE_OK && a < d; ++a) {
      st = derivative(&p, x0, t, a, first, STEP, tmp);
      for (int64_t e = 0; st == NPDE_OK && e < n * K; ++e) grad[e * d + a] = tmp[e];
      if (st == NPDE_OK && second) st = derivative(&p, x0, t, a, pure, STEP * STEP, tmp);
      for (int64_t e = 0; st == NPDE_OK && second && e < n * K; ++e)
        sec[order == NPDE_JET_HESSIAN ? (e * d + a) * d + a : e * d + a] = tmp[e];
      for (int b = a + 1; st == NPDE_OK && order == NPDE_JET_HESSIAN && b < d; ++b) {
        /* (u(+,+) - u(+,-) - u(-,+) + u(-,-)) / 4h^2 */
        static const double sa[4] = {1, 1, -1, -1}, sb[4] = {1, -1, 1, -1};
        memset(tmp2, 0, (size_t)(n * K) * sizeof *tmp2);
        for (int c = 0; st == NPDE_OK && c < 4; ++c) {
          st = exact_at(&p, x0, t, a, sa[c], b, sb[c]);
          for (int64_t e = 0; st == NPDE_OK && e < n * K; ++e) tmp2[e] += sa[c] * sb[c] * p.u[e] / (4 * STEP * STEP);
        }
        for (int64_t e = 0; st == NPDE_OK && e < n * K; ++e)
          sec[(e * d + a) * d + b] = sec[(e * d + b) * d + a] = tmp2[e];
      }
    }
    npde_pde_jets jets = {.n = n, .d = d, .K = K, .order = order, .x = x0, .value = value, .grad = grad,
                          .second = second ? sec : NULL};
    if (st == NPDE_OK) st = npde_pde_rhs(rs->pde, t, &jets, F);
    for (int64_t e = 0; st == NPDE_OK && e < n * K; ++e) {
      scale = fmax(scale, fabs(ut[e]));
      if (fabs(ut[e] - F[e]) > worst) worst = fabs(ut[e] - F[e]), worst_t = t;
    }
    if (st != NPDE_OK || !faces) continue;
    /* the faces: every point moved to a face of [-1, 1]^d, its axis and side by turns; periodic axes compare the
     * two faces (w at the side -1 minus w at +1) */
    for (int64_t e = 0; e < n * K; ++e) inside = fmax(inside, fabs(value[e]));
    for (int side = 0; st == NPDE_OK && side < 2; ++side) {
      memcpy(xf, x0, (size_t)(n * d) * sizeof *xf);
      for (int64_t i = 0; i < n; ++i)
        xf[i * d + i % d] = kinds[i % d] == NPDE_BOUNDARY_PERIODIC ? (side ? 1.0 : -1.0) : (i / d) % 2 ? 1.0 : -1.0;
      st = exact_at(&p, xf, t, -1, 0, -1, 0);
      for (int64_t e = 0; st == NPDE_OK && e < n * K; ++e)
        tmp[e] = side == 0 ? p.u[e] : kinds[(e / K) % d] == NPDE_BOUNDARY_PERIODIC ? tmp[e] - p.u[e] : p.u[e];
    }
    for (int64_t e = 0; st == NPDE_OK && e < n * K; ++e)
      if (kinds[(e / K) % d] != NPDE_BOUNDARY_NONE && fabs(tmp[e]) > face) face = fabs(tmp[e]), face_t = t;
  }
  /* exact(0) is the initial condition the run starts from */
  double ic_gap = 0.0, ic_scale = 0.0;
  for (int64_t e = 0; st == NPDE_OK && e < n * d; ++e)
    x0[e] = -1.0 + 2.0 * npde_philox_uniform_at(rs->seed, NPDE__STREAM_EXACT, 1, (uint64_t)e);
  if (st == NPDE_OK) st = npde_pde_initial(rs->pde, x0, n, tmp);
  if (st == NPDE_OK) st = npde_pde_exact(rs->pde, 0.0, x0, n, tmp2);
  for (int64_t e = 0; st == NPDE_OK && e < n * K; ++e)
    ic_gap = fmax(ic_gap, fabs(tmp[e] - tmp2[e])), ic_scale = fmax(ic_scale, fabs(tmp[e]));
  if (st == NPDE_OK) {
    char words[256];
    const bool ic_ok = ic_gap <= INITIAL_TOL * ic_scale + 1e-300;
    const bool pde_ok = worst <= RESIDUAL_TOL * scale + 1e-12, faces_ok = face <= BOUNDARY_TOL * inside;
    rs->exact_is_reference = !(pde_ok && faces_ok && ic_ok);
    if (!ic_ok)
      npde_log(NPDE_LOG_WARN, "pde: the exact solution at t = 0 is not the initial condition: max |exact(0) - "
               "initial| = %.3e against max |initial| %.3e, at %d random points: errors are against it as the "
               "reference, not the solution of this problem", ic_gap, ic_scale, CHECK_POINTS);
    if (!pde_ok)
      npde_log(NPDE_LOG_WARN, "pde: the exact solution does not satisfy the PDE: max |u_t - rhs| = %.3e at t = %g "
               "(max |u_t| %.3e, tolerance %.0e relative), by differences at %d random points: errors are against "
               "it as the reference, not an exact solution", worst, worst_t, scale, RESIDUAL_TOL, CHECK_POINTS);
    if (!faces_ok)
      npde_log(NPDE_LOG_WARN, "pde: the exact solution does not meet the boundary condition (%s): max |%s| on the "
               "faces %.3e (at t = %g) against %.3e inside: errors are against it as the reference, not the "
               "solution of this problem", boundary_words(kinds, d, npde_pde_lifted(rs->pde), words, sizeof words),
               npde_pde_lifted(rs->pde) ? "u - g" : "u", face, face_t, inside);
    if (!rs->exact_is_reference)
      npde_log(NPDE_LOG_INFO, "pde: exact solution checked: max |u_t - rhs| / max |u_t| = %.1e at %d points%s",
               scale > 0 ? worst / scale : worst, CHECK_POINTS, faces ? ", and the boundary condition" : "");
  }
  free(x0), free(value), free(grad), free(sec), free(ut), free(F), free(tmp), free(tmp2), free(p.x), free(p.u), free(xf);
  return st;
}
