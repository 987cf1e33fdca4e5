/* The explicit Runge-Kutta driver shared by every method of the rk plugin.
 *
 * An attempt from (t, y) with step h evaluates the stages
 *   k_i = f(t + c_i h, y + h sum_{j<i} a_ij k_j),
 * forms y_new = y + h sum b_j k_j and, with step-size control, the estimate
 * e = h sum (b_j - b_hat_j) k_j. No stage is carried over to the next
 * attempt (no FSAL, docs/methods/neural-ivp.md §5.1): begin_attempt may change f.
 *
 * An attempt is rejected, leaving (t, y) unchanged, when the rhs returns
 * NPDE_STEP_REJECTED or NPDE_ERR_NUMERIC, when a stage derivative or y_new
 * holds a NaN or Inf (seen through nrm2, which synchronises), or when the
 * estimate misses the tolerance. Any other negative status is fatal.
 *
 * Step-size control (error_norm):
 *   reference  docs/methods/neural-ivp.md §5.2 exactly: err = ||e||_2, E = rtol ||y(t0)||_2
 *              fixed for the run, accept iff err < E; accepted and not
 *              clipped: h <- 0.97 h (E/err)^(1/q); accepted and clipped to an
 *              output time: h unchanged; rejected: h <- 0.97 step (E/err)^(1/q).
 *   mixed      sc_i = atol + rtol max(|y_i|, |y_new_i|),
 *              err = sqrt(mean((e_i/sc_i)^2)), accept iff err <= 1,
 *              factor clamp(0.9 err^(-1/q), 0.2, 5), applied as above.
 * q = embedded order + 1. A failed rhs or a NaN/Inf halves the step.
 *
 * Output times are hit exactly: a step that would pass the next output time
 * (or fall short of it by a rounding-level sliver) is shortened (stretched)
 * to end on it, and the new time is set to that output time itself.
 *
 * All vector work is backend ops on buffers allocated once per integrate
 * call. The mixed norm needs |.|, max and a division per entry, which the
 * backend op set lacks; it downloads y, y_new and e to host scratch. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rk_impl.h"

/* ------------------------------------------------------------------ create */

static npde_status get_real(const npde_config *cfg, const char *key, double *out) {
  if (cfg && npde_config_get(cfg, key)) return npde_config_get_real(cfg, key, out);
  return NPDE_OK; /* not in this method's schema: keep the default */
}

npde_status rk_create(npde_integrator *in, const npde_config *cfg, npde_backend *be, const rk_tableau *tab) {
  rk_state *s = npde_integrator_state(in);
  s->tab = tab;
  s->be = be;
  if (!be) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: an integrator needs a backend (got NULL)", tab->name);
  s->adaptive = tab->embedded_order > 0;
  s->norm = RK_NORM_REFERENCE;
  s->rtol = 1e-3;
  s->atol = 1e-6;
  s->max_rejections = 50;
  if (cfg && npde_config_get(cfg, "adaptive")) NPDE_TRY(npde_config_get_bool(cfg, "adaptive", &s->adaptive));
  if (cfg && npde_config_get(cfg, "error_norm")) {
    const char *norm = NULL;
    NPDE_TRY(npde_config_get_string(cfg, "error_norm", &norm));
    s->norm = strcmp(norm, "mixed") == 0 ? RK_NORM_MIXED : RK_NORM_REFERENCE;
  }
  NPDE_TRY(get_real(cfg, "rtol", &s->rtol));
  NPDE_TRY(get_real(cfg, "atol", &s->atol));
  NPDE_TRY(get_real(cfg, "h0", &s->h0));
  NPDE_TRY(get_real(cfg, "dt", &s->dt));
  NPDE_TRY(get_real(cfg, "factor_min", &s->factor_min));
  NPDE_TRY(get_real(cfg, "factor_max", &s->factor_max));
  NPDE_TRY(get_real(cfg, "h_min", &s->h_min));
  if (cfg && npde_config_get(cfg, "max_rejections"))
    NPDE_TRY(npde_config_get_int(cfg, "max_rejections", &s->max_rejections));

#define RK_BAD(key, ...)                                                                                    \
  (cfg && npde_config_get(cfg, key) ? npde_config_error(npde_config_get(cfg, key), __VA_ARGS__)            \
                                    : NPDE_ERROR(NPDE_ERR_CONFIG, __VA_ARGS__))
  if (!s->adaptive && !(s->dt > 0 && isfinite(s->dt)))
    return RK_BAD("dt", "%s: 'dt' must be > 0 for %s (found %g)", tab->name,
                  tab->embedded_order > 0 ? "adaptive: false" : "a fixed-step method", s->dt);
  if (s->adaptive) {
    if (!(s->rtol > 0)) return RK_BAD("rtol", "%s: 'rtol' must be > 0 (found %g)", tab->name, s->rtol);
    if (s->norm == RK_NORM_MIXED && !(s->atol >= 0))
      return RK_BAD("atol", "%s: 'atol' must be >= 0 (found %g)", tab->name, s->atol);
    if (s->factor_min >= 1)
      return RK_BAD("factor_min", "%s: 'factor_min' must be < 1 (found %g)", tab->name, s->factor_min);
    if (s->factor_max != 0 && !(s->factor_max > 1))
      return RK_BAD("factor_max", "%s: 'factor_max' must be > 1, or 0 for the default (found %g)", tab->name,
                    s->factor_max);
  }
#undef RK_BAD
  return NPDE_OK;
}

void rk_destroy(npde_integrator *in) { (void)in; /* nothing owned between calls */ }

/* --------------------------------------------------------------- integrate */

/* One integrate call: its buffers and counters. */
typedef struct rk_run {
  const rk_state *s;
  const rk_tableau *tab;
  npde_backend *be;
  const npde_ode *ode;
  int64_t n;
  int stages;    /* stages evaluated per attempt */
  bool estimate; /* adaptive: compute the embedded estimate */
  double e[RK_MAX_STAGES]; /* b - b_hat */
  void *block;   /* backend memory: stages + 3 vectors */
  npde_mat k[RK_MAX_STAGES], ystage, ynew, err;
  void *host; /* mixed norm: host copies of y, y_new, e */
  npde_integrate_stats stats;
  char why[384]; /* why the last attempt was rejected */
} rk_run;

/* What an attempt came to. */
typedef enum rk_outcome { RK_FAILED = 0, RK_ESTIMATED = 1 } rk_outcome;

static bool is_retryable(npde_status st) { return st == NPDE_STEP_REJECTED || st == NPDE_ERR_NUMERIC; }

/* nrm2 of v into *out; false (with the reason in r->why) when not finite. */
static npde_status finite_norm(rk_run *r, const npde_mat *v, double *out, bool *finite, const char *what, double t) {
  NPDE_TRY(npde_backend_nrm2(r->be, v, out));
  *finite = isfinite(*out);
  if (!*finite) snprintf(r->why, sizeof r->why, "%s is not finite at t = %.17g", what, t);
  return NPDE_OK;
}

static double host_at(const void *base, npde_dtype dt, int64_t i) {
  return dt == NPDE_F32 ? (double)((const float *)base)[i] : ((const double *)base)[i];
}

/* sqrt(mean((e_i / (atol + rtol max(|y_i|, |y_new_i|)))^2)) on host copies. */
static npde_status mixed_norm(rk_run *r, const npde_mat *y, double *out) {
  size_t bytes = (size_t)r->n * npde_dtype_size(r->ode->dtype);
  char *h = r->host;
  NPDE_TRY(npde_backend_copy(r->be, y, &r->ystage)); /* contiguous (y may be strided) */
  NPDE_TRY(npde_backend_download(r->be, h, r->ystage.data, bytes));
  NPDE_TRY(npde_backend_download(r->be, h + bytes, r->ynew.data, bytes));
  NPDE_TRY(npde_backend_download(r->be, h + 2 * bytes, r->err.data, bytes));
  double sum = 0.0;
  for (int64_t i = 0; i < r->n; ++i) {
    double yi = fabs(host_at(h, r->ode->dtype, i)), yn = fabs(host_at(h + bytes, r->ode->dtype, i));
    double ei = host_at(h + 2 * bytes, r->ode->dtype, i);
    double sc = r->s->atol + r->s->rtol * (yi > yn ? yi : yn);
    double q = ei == 0.0 ? 0.0 : ei / sc; /* 0/0 (atol = 0, y = 0, e = 0) counts as 0 */
    sum += q * q;
  }
  *out = r->n > 0 ? sqrt(sum / (double)r->n) : 0.0;
  return NPDE_OK;
}

/* One attempt from (t, y) with step `step` ending at t_new. Fills r->ynew and,
 * with an estimate, *err. *outcome = RK_FAILED when the rhs refused or a value
 * was not finite (reason in r->why). Fatal statuses are returned. */
static npde_status attempt(rk_run *r, double t, double step, double t_new, const npde_mat *y, double *err,
                           rk_outcome *outcome) {
  const rk_tableau *tab = r->tab;
  const npde_ode *ode = r->ode;
  bool finite = true;
  double norm;
  *outcome = RK_FAILED;
  for (int i = 0; i < r->stages; ++i) {
    const npde_mat *yin = y;
    if (i > 0) {
      NPDE_TRY(npde_backend_copy(r->be, y, &r->ystage));
      for (int j = 0; j < i; ++j)
        if (tab->a[i][j] != 0.0) NPDE_TRY(npde_backend_axpy(r->be, step * tab->a[i][j], &r->k[j], &r->ystage));
      yin = &r->ystage;
    }
    double ti = tab->c[i] == 1.0 ? t_new : t + tab->c[i] * step;
    npde_status st = ode->rhs(ode->ctx, ti, yin, &r->k[i]);
    r->stats.rhs_evals++;
    if (is_retryable(st)) {
      /* npde_status_str is not in the host table: name the two statuses here */
      snprintf(r->why, sizeof r->why, "rhs at t = %.17g returned %s%s%s", ti,
               st == NPDE_STEP_REJECTED ? "NPDE_STEP_REJECTED" : "NPDE_ERR_NUMERIC",
               st < 0 && npde_last_error()[0] ? ": " : "", st < 0 ? npde_last_error() : "");
      return NPDE_OK;
    }
    if (st < 0) return npde_trace_error(st, __func__, __FILE__, __LINE__);
    char what[48];
    snprintf(what, sizeof what, "stage derivative k%d", i + 1);
    NPDE_TRY(finite_norm(r, &r->k[i], &norm, &finite, what, ti));
    if (!finite) return NPDE_OK;
  }
  NPDE_TRY(npde_backend_copy(r->be, y, &r->ynew));
  for (int j = 0; j < r->stages; ++j)
    if (tab->b[j] != 0.0) NPDE_TRY(npde_backend_axpy(r->be, step * tab->b[j], &r->k[j], &r->ynew));
  NPDE_TRY(finite_norm(r, &r->ynew, &norm, &finite, "the new state", t_new));
  if (!finite) return NPDE_OK;
  if (r->estimate) {
    NPDE_TRY(npde_backend_fill(r->be, &r->err, 0.0));
    for (int j = 0; j < r->stages; ++j)
      if (r->e[j] != 0.0) NPDE_TRY(npde_backend_axpy(r->be, step * r->e[j], &r->k[j], &r->err));
    if (r->s->norm == RK_NORM_REFERENCE) NPDE_TRY(npde_backend_nrm2(r->be, &r->err, err));
    else NPDE_TRY(mixed_norm(r, y, err));
    if (!isfinite(*err)) {
      snprintf(r->why, sizeof r->why, "the error estimate is not finite at t = %.17g", t_new);
      return NPDE_OK;
    }
  }
  *outcome = RK_ESTIMATED;
  return NPDE_OK;
}

static npde_status check_backend(const rk_run *r) {
  static const struct {
    npde_backend_op op;
    const char *name;
  } need[] = {{NPDE_OP_COPY, "copy"}, {NPDE_OP_AXPY, "axpy"}, {NPDE_OP_NRM2, "nrm2"}, {NPDE_OP_FILL, "fill"}};
  npde_dtype dt = r->ode->dtype;
  for (size_t i = 0; i < sizeof need / sizeof need[0]; ++i)
    if (!npde_backend_supports(r->be, need[i].op, dt))
      return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "%s: backend '%s' has no %s '%s', which the integrator needs",
                        r->tab->name, npde_backend_name(r->be), dt == NPDE_F32 ? "f32" : "f64", need[i].name);
  return NPDE_OK;
}

/* The step factor after an estimate err (> 0 or 0), without clamps for the reference norm unless set. */
static double step_factor(const rk_run *r, double err, double e_tgt) {
  const rk_state *s = r->s;
  double q = (double)(r->tab->embedded_order + 1);
  bool mixed = s->norm == RK_NORM_MIXED;
  double fmin = s->factor_min > 0 ? s->factor_min : (mixed ? 0.2 : 0.0);
  double fmax = s->factor_max > 0 ? s->factor_max : 5.0; /* reference: only used when err = 0 */
  if (err == 0.0) return fmax;
  double f = mixed ? 0.9 * pow(err, -1.0 / q) : 0.97 * pow(e_tgt / err, 1.0 / q);
  if (f < fmin) f = fmin;
  if ((mixed || s->factor_max > 0) && f > fmax) f = fmax;
  return f;
}

static npde_status run(rk_run *r, double t0, npde_mat *y, const double *t_out, int64_t n_out,
                       npde_output_fn output, void *octx, const npde_step_state *resume) {
  const rk_state *s = r->s;
  const npde_ode *ode = r->ode;
  double t = t0, t_comp = 0.0; /* Kahan-compensated time: no sliver steps after many steps */
  int64_t idx = 0, attempts = 0, consecutive = 0;
  double e_tgt = 0.0, h = 0.0;
  if (resume) {
    t = resume->t;
    t_comp = resume->t_comp;
    idx = resume->next_output;
    attempts = resume->attempts;
    e_tgt = resume->err_target;
    h = resume->h;
    r->stats.accepted = resume->accepted;
    r->stats.rejected = resume->rejected;
    r->stats.rhs_evals = resume->rhs_evals;
    if (!(h > 0) || !isfinite(h) || (r->estimate && s->norm == RK_NORM_REFERENCE && !(e_tgt > 0)))
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: cannot resume from a state with h = %g and error target %g",
                        r->tab->name, h, e_tgt);
  }
  r->stats.t_reached = t;
  r->stats.h_last = h;
  if (!resume && n_out > 0 && t_out[0] == t0) {
    if (output) NPDE_TRY(output(octx, 0, t0, y));
    idx = 1;
  }
  if (idx >= n_out) return NPDE_OK;
  const double t_end = t_out[n_out - 1];

  if (!resume && r->estimate && s->norm == RK_NORM_REFERENCE) {
    double y0;
    NPDE_TRY(npde_backend_nrm2(r->be, y, &y0));
    e_tgt = s->rtol * y0; /* fixed for the whole run, also after restarts (§5.2) */
    if (!(e_tgt > 0) || !isfinite(e_tgt))
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG,
                        "%s: the reference error norm targets rtol ||y(t0)||_2 = %g, which must be finite and > 0 "
                        "(||y(t0)||_2 = %g); use error_norm: mixed",
                        r->tab->name, e_tgt, y0);
  }
  if (!resume) h = !s->adaptive ? s->dt : s->h0 > 0 ? s->h0 : 20.0 * (t_end - t0) * s->rtol;
  r->stats.h_last = h;

  while (idx < n_out) {
    const double tn = t_out[idx], remaining = tn - t;
    /* Land on tn when h reaches it, or falls short by a sliver (rounding). */
    double slack = fmax(1e-8 * h, 16.0 * DBL_EPSILON * fmax(fabs(t), fabs(tn)));
    bool land = h >= remaining - slack;
    double step = land ? remaining : h;
    double t_new = land ? tn : t + (step - t_comp);
    if (!(step > 0) || (!land && t_new == t))
      return NPDE_ERROR(NPDE_ERR_NUMERIC, "%s: step size %g underflows at t = %.17g", r->tab->name, step, t);
    if (ode->begin_attempt) NPDE_TRY(ode->begin_attempt(ode->ctx, t, step, attempts));
    attempts++;

    double err = 0.0;
    rk_outcome outcome;
    NPDE_TRY(attempt(r, t, step, t_new, y, &err, &outcome));
    bool accepted = outcome == RK_ESTIMATED;
    if (accepted && r->estimate) {
      accepted = s->norm == RK_NORM_REFERENCE ? err < e_tgt : err <= 1.0;
      if (!accepted)
        snprintf(r->why, sizeof r->why, "error estimate %g %s %g at t = %.17g", err,
                 s->norm == RK_NORM_REFERENCE ? ">= target rtol ||y(t0)|| =" : "> (mixed norm)",
                 s->norm == RK_NORM_REFERENCE ? e_tgt : 1.0, t);
    }

    if (accepted) {
      NPDE_TRY(npde_backend_copy(r->be, &r->ynew, y));
      if (land) {
        t = tn;
        t_comp = 0.0;
      } else {
        double inc = step - t_comp;
        t_comp = (t_new - t) - inc;
        t = t_new;
      }
      consecutive = 0;
      r->stats.accepted++;
      r->stats.t_reached = t;
      if (!s->adaptive) h = s->dt;
      else if (step == h) h *= step_factor(r, err, e_tgt); /* a clipped step keeps h (§5.2) */
      if (h < s->h_min) h = s->h_min;
      r->stats.h_last = h;
      if (land) {
        if (output) NPDE_TRY(output(octx, idx, t, y));
        idx++;
      }
      if (ode->after_step) {
        npde_step_state state = {.struct_size = sizeof state, .t = t, .t_comp = t_comp, .h = h,
                                 .err_target = e_tgt, .attempts = attempts, .next_output = idx,
                                 .accepted = r->stats.accepted, .rejected = r->stats.rejected,
                                 .rhs_evals = r->stats.rhs_evals};
        NPDE_TRY(ode->after_step(ode->ctx, &state, y));
      }
      continue;
    }

    /* Rejected: (t, y) unchanged, retry with a smaller step. */
    r->stats.rejected++;
    consecutive++;
    h = outcome == RK_FAILED || !r->estimate ? 0.5 * step : step * step_factor(r, err, e_tgt);
    r->stats.h_last = h;
    npde_log(NPDE_LOG_DEBUG, "%s: rejected step %g at t = %.17g (%s); retrying with %g", r->tab->name, step, t,
             r->why, h);
    if (consecutive >= s->max_rejections)
      return NPDE_ERROR(NPDE_ERR_NUMERIC, "%s: %lld consecutive rejected steps at t = %.17g (last step h = %g, next "
                        "h = %g); last: %s", r->tab->name, (long long)consecutive, t, step, h, r->why);
    if (h < s->h_min)
      return NPDE_ERROR(NPDE_ERR_NUMERIC, "%s: step size %g fell below h_min = %g at t = %.17g; last rejection: %s",
                        r->tab->name, h, s->h_min, t, r->why);
  }
  return NPDE_OK;
}

npde_status rk_integrate(npde_integrator *in, const npde_ode *ode, double t0, npde_mat *y, const double *t_out,
                         int64_t n_out, npde_output_fn output, void *output_ctx, const npde_step_state *resume,
                         npde_integrate_stats *st) {
  rk_state *s = npde_integrator_state(in);
  if (st && st->struct_size < sizeof *st)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: npde_integrate_stats.struct_size is %u; set it to sizeof "
                      "(npde_integrate_stats) = %zu", s->tab->name, (unsigned)st->struct_size, sizeof *st);
  rk_run r = {.s = s, .tab = s->tab, .be = s->be, .ode = ode, .n = ode->n};
  r.estimate = s->adaptive && s->tab->embedded_order > 0;
  r.stages = s->tab->stages;
  if (!r.estimate) /* trailing stages with b_j = 0 only feed the estimate */
    while (r.stages > 1 && s->tab->b[r.stages - 1] == 0.0) r.stages--;
  for (int j = 0; j < s->tab->stages; ++j) r.e[j] = s->tab->b[j] - s->tab->b_hat[j];

  npde_status status = check_backend(&r);
  size_t bytes = (size_t)r.n * npde_dtype_size(ode->dtype);
  if (status == NPDE_OK) status = npde_backend_alloc(r.be, bytes * (size_t)(r.stages + 3), &r.block);
  if (status == NPDE_OK && r.estimate && s->norm == RK_NORM_MIXED) {
    r.host = npde_alloc(3 * bytes);
    if (!r.host) status = NPDE_ERROR(NPDE_ERR_NOMEM, "%s: cannot allocate %zu bytes", s->tab->name, 3 * bytes);
  }
  if (status == NPDE_OK) {
    /* work vectors have y's shape (n x 1 or 1 x n), contiguous */
    for (int i = 0; i < r.stages + 3; ++i) {
      npde_mat v = npde_mat_view((char *)r.block + (size_t)i * bytes, ode->dtype, y->rows, y->cols);
      if (i < r.stages) r.k[i] = v;
      else if (i == r.stages) r.ystage = v;
      else if (i == r.stages + 1) r.ynew = v;
      else r.err = v;
    }
    status = run(&r, t0, y, t_out, n_out, output, output_ctx, resume);
  }
  if (r.host) npde_free(r.host);
  if (r.block) npde_backend_free(r.be, r.block);
  if (st) {
    uint32_t size = st->struct_size;
    r.stats.struct_size = size;
    memcpy(st, &r.stats, size < sizeof r.stats ? size : sizeof r.stats);
  }
  return status;
}
