/* The `fit` stage (docs/methods/neural-ivp.md §6.1-6.2): Adam on fresh batches (uniform, or adaptive, §1.4) of
 * a target (the PDE's initial condition, or the network's own current
 * prediction as restarts use), then head tuning: a ridge regression of each
 * output's head on the envelope-weighted last-layer features, solved with
 * LAPACK. Reports the relative L2 error on held-out points before and after
 * head tuning. */
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm_reduce.h"
#include "npde/npde_comm.h"
#include "npde/npde_log.h"
#include "ivp_impl.h"
#include "sampler.h"

static const npde_param_spec fit_params[] = {
    {.name = "epochs", .type = NPDE_PARAM_INT, .default_value = "20000", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "Adam steps, each on a fresh batch"},
    {.name = "lr", .type = NPDE_PARAM_REAL, .default_value = "1e-3", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "Adam learning rate (beta1 0.9, beta2 0.999, eps 1e-8)"},
    {.name = "batch", .type = NPDE_PARAM_INT, .default_value = "1000", .min = 1, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "uniform points per Adam step"},
    {.name = "decay", .type = NPDE_PARAM_ENUM, .default_value = "none", .choices = "none|cosine|step",
     .doc = "learning-rate schedule: constant, cosine to 0 over the epochs, or step"},
    {.name = "decay_rate", .type = NPDE_PARAM_REAL, .default_value = "0.5", .min = 0, .max = 1,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX, .doc = "step decay: factor applied every decay_every epochs"},
    {.name = "decay_every", .type = NPDE_PARAM_INT, .default_value = "5000", .min = 1, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "step decay: epochs between reductions"},
    {.name = "head_tuning", .type = NPDE_PARAM_BOOL, .default_value = "true",
     .doc = "ridge-regress each head on the last-layer features after Adam"},
    {.name = "head_points", .type = NPDE_PARAM_INT, .default_value = "200000", .min = 1, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "points of the head regression"},
    {.name = "head_lambda", .type = NPDE_PARAM_REAL, .default_value = "-1",
     .doc = "ridge regulariser; negative: the reference rule 1e-5 head_points / (features + 1)"},
    {.name = "target", .type = NPDE_PARAM_ENUM, .default_value = "initial", .choices = "initial|network",
     .doc = "fit the PDE's initial condition, or refit to the network's current prediction from the initial "
            "parameters (a restart)"},
    {.name = "eval_points", .type = NPDE_PARAM_INT, .default_value = "10000", .min = 1, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "held-out points of the reported relative L2 error"},
    {.name = "zero_head", .type = NPDE_PARAM_ENUM, .default_value = "adam", .choices = "adam|ridge|rhs",
     .doc = "an output whose target is identically zero (phi_t of a wave at rest): its head keeps Adam's values "
            "(adam); head tuning sets it to exactly zero as the reference code does (ridge), leaving that "
            "output's Jacobian only the head's directions; or (rhs) its branch is fitted, with the stage's Adam "
            "settings, to that output's initial time derivative L[N]_k at t = 0 and its head then set to zero, so "
            "that the head's directions span the first step's right-hand side (docs/methods/neural-ivp.md §6.2)"},
    {.name = "log_every", .type = NPDE_PARAM_REAL, .default_value = "1", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "seconds between progress lines"},
    {.name = "sampling", .type = NPDE_PARAM_ANY, .default_value = "{type: uniform}",
     .doc = "each batch's points (docs/methods/neural-ivp.md §1.4): {type: uniform}, or {type: adaptive, mix: 0.5, "
            "candidates: 4}: a share `mix` resampled from `candidates` x batch uniform points by the target's "
            "sum_k u_k^2, the loss weighted by p/q"},
    {0},
};


typedef struct fit_ctx {
  npde_run_ctx *rs;
  npde_backend *be;
  npde_network *net;
  int64_t d, K, p;
  bool target_network;
  void *theta_target; /* target: network; the parameters being fitted to */
  double *xh, *uh;    /* host scratch (chunk x d, chunk x K) */
  int64_t host_rows;
  void *score_u;      /* sampling adaptive: the candidates' targets (backend, host) */
  double *score_uh;
  int64_t score_rows;
  /* zero_head rhs: while fitting the zero outputs' branches to their initial time derivatives, the target is
   * the frozen network's own values, and L[N]_k / rhs_scale[k] for the outputs with zero[k] */
  bool rhs_target;
  void *theta_frozen;
  const bool *zero;
  double *rhs_scale;
  npde_jet_order order;
  double *jet_val, *jet_grad, *jet_sec, *jet_f;
  int64_t jet_rows;
} fit_ctx;

static npde_status host_scratch(fit_ctx *c, int64_t rows) {
  if (rows <= c->host_rows) return NPDE_OK;
  free(c->xh);
  free(c->uh);
  c->xh = malloc((size_t)(rows * c->d) * sizeof(double));
  c->uh = malloc((size_t)(rows * c->K) * sizeof(double));
  c->host_rows = c->xh && c->uh ? rows : 0;
  return c->host_rows ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "fit: out of host memory");
}

/* f = L[N](x, 0) of the frozen network at X (host, n x K in c->jet_f); its values in c->jet_val. */
static npde_status frozen_rhs(fit_ctx *c, const npde_mat *X) {
  const int64_t n = X->rows, K = c->K, d = c->d;
  const int64_t sec = npde_jet_second_width(c->order, d) > 0 ? npde_jet_second_width(c->order, d) : 1;
  if (n > c->jet_rows) {
    free(c->jet_val);
    free(c->jet_grad);
    free(c->jet_sec);
    free(c->jet_f);
    c->jet_val = malloc((size_t)(n * K) * sizeof(double));
    c->jet_grad = malloc((size_t)(n * K * d) * sizeof(double));
    c->jet_sec = malloc((size_t)(n * K * sec) * sizeof(double));
    c->jet_f = malloc((size_t)(n * K) * sizeof(double));
    c->jet_rows = c->jet_val && c->jet_grad && c->jet_sec && c->jet_f ? n : 0;
    if (!c->jet_rows) return NPDE_ERROR(NPDE_ERR_NOMEM, "fit: out of host memory for the jets of %lld points",
                                        (long long)n);
  }
  NPDE_TRY(host_scratch(c, n));
  NPDE_TRY(npde_backend_download(c->be, c->xh, X->data, (size_t)(n * d) * sizeof(double)));
  npde_mat t = npde_mat_view(c->theta_frozen, NPDE_F64, c->p, 1);
  NPDE_TRY(npde_network_jet(c->net, &t, X, c->order, c->jet_val, c->jet_grad, c->jet_sec));
  npde_pde_jets jets = {.n = n, .d = d, .K = K, .order = c->order, .x = c->xh, .value = c->jet_val,
                        .grad = c->jet_grad, .second = c->jet_sec};
  return npde_pde_rhs(c->rs->pde, 0.0, &jets, c->jet_f);
}

/* Target values U (n x K, backend) at points X (n x d, backend). */
static npde_status target_values(fit_ctx *c, const npde_mat *X, npde_mat *U) {
  if (c->rhs_target) {
    NPDE_TRY(frozen_rhs(c, X));
    for (int64_t i = 0; i < X->rows; ++i)
      for (int64_t k = 0; k < c->K; ++k)
        c->uh[i * c->K + k] = c->zero[k] ? c->jet_f[i * c->K + k] / c->rhs_scale[k] : c->jet_val[i * c->K + k];
    return npde_backend_upload(c->be, U->data, c->uh, (size_t)(X->rows * c->K) * sizeof(double));
  }
  if (c->target_network) {
    npde_mat t = npde_mat_view(c->theta_target, NPDE_F64, c->p, 1);
    return npde_network_eval(c->net, &t, X, U);
  }
  int64_t n = X->rows;
  NPDE_TRY(host_scratch(c, n));
  NPDE_TRY(npde_backend_download(c->be, c->xh, X->data, (size_t)(n * c->d) * sizeof(double)));
  NPDE_TRY(npde_pde_initial(c->rs->pde, c->xh, n, c->uh));
  NPDE_TRY(npde_pde_add_lift(c->rs->pde, 0.0, c->xh, n, -1.0, c->uh, NULL)); /* the network carries u - g */
  return npde_backend_upload(c->be, U->data, c->uh, (size_t)(n * c->K) * sizeof(double));
}

/* sampling adaptive: the candidates' proposal, g = sum_k u_k^2 of the target. */
static npde_status target_score(void *ctx, const npde_mat *X, const double *xh, double *g) {
  fit_ctx *c = ctx;
  const int64_t m = X->rows, K = c->K;
  (void)xh;
  if (m > c->score_rows) {
    npde_backend_free(c->be, c->score_u);
    free(c->score_uh);
    c->score_u = NULL;
    c->score_uh = malloc((size_t)(m * K) * sizeof(double));
    c->score_rows = 0;
    NPDE_TRY(npde_backend_alloc(c->be, (size_t)(m * K) * sizeof(double), &c->score_u));
    if (!c->score_uh) return NPDE_ERROR(NPDE_ERR_NOMEM, "fit: out of host memory for %lld candidates", (long long)m);
    c->score_rows = m;
  }
  npde_mat U = npde_mat_view(c->score_u, NPDE_F64, m, K);
  NPDE_TRY(target_values(c, X, &U));
  NPDE_TRY(npde_backend_download(c->be, c->score_uh, c->score_u, (size_t)(m * K) * sizeof(double)));
  for (int64_t i = 0; i < m; ++i) {
    g[i] = 0.0;
    for (int64_t k = 0; k < K; ++k) g[i] += c->score_uh[i * K + k] * c->score_uh[i * K + k];
  }
  return NPDE_OK;
}

/* npde__relative_errors of the network against the target on n held-out points. */
static npde_status relative_error(fit_ctx *c, int64_t n, double *err, double *per_output) {
  npde__heldout h;
  void *u = NULL;
  const size_t bytes = (size_t)(n * c->K) * sizeof(double);
  double *net = malloc(bytes), *target = malloc(bytes);
  npde_status st = npde__heldout_eval(c->rs, n, &h); /* h.U: the network */
  if (st == NPDE_OK && (!net || !target)) st = NPDE_ERROR(NPDE_ERR_NOMEM, "fit: out of memory");
  if (st == NPDE_OK) st = npde_backend_alloc(c->be, bytes, &u);
  npde_mat U = npde_mat_view(u, NPDE_F64, n, c->K);
  if (st == NPDE_OK) st = target_values(c, &h.X, &U);
  if (st == NPDE_OK) st = npde_backend_download(c->be, target, u, bytes);
  if (st == NPDE_OK) st = npde_backend_download(c->be, net, h.u, bytes);
  if (st == NPDE_OK) npde__relative_errors(net, target, n, c->K, err, per_output);
  npde_backend_free(c->be, u);
  npde__heldout_free(&h);
  free(net);
  free(target);
  return st;
}

/* Ridge regression of output o's head on B [1, Phi] (docs/methods/neural-ivp.md §6.2), on
 * n_points fixed points, accumulating the normal equations chunk by chunk. */
static npde_status tune_head(fit_ctx *c, int64_t o, int64_t n_points, double lambda_in, uint64_t stream,
                             bool keep_zero_head, bool *target_is_zero) {
  const int64_t chunk = 4096;
  int64_t k = npde_network_feature_dim(c->net, o), k1 = k + 1;
  double lambda = lambda_in >= 0 ? lambda_in : 1e-5 * (double)n_points / (double)k1;
  /* on several ranks, each accumulates the normal equations over its slice of the points */
  int64_t first, mine;
  npde__sample_slice(n_points, c->d, &first, &mine);
  int64_t rows = mine < chunk ? (mine > 0 ? mine : 1) : chunk;
  void *x = NULL, *u = NULL, *phi = NULL, *a = NULL, *g = NULL, *r = NULL, *b = NULL;
  npde_status st = NPDE_OK;
  void **bufs[] = {&x, &u, &phi, &a, &g, &r, &b};
  size_t sizes[] = {(size_t)(rows * c->d), (size_t)(rows * c->K), (size_t)(rows * k), (size_t)(rows * k1),
                    (size_t)(k1 * k1), (size_t)k1, (size_t)rows};
  for (size_t i = 0; i < 7 && st == NPDE_OK; ++i) st = npde_backend_alloc(c->be, sizes[i] * sizeof(double), bufs[i]);
  npde_mat G = npde_mat_view(g, NPDE_F64, k1, k1), R = npde_mat_view(r, NPDE_F64, k1, 1);
  npde_mat t = npde_mat_view(c->rs->theta, NPDE_F64, c->p, 1);
  if (st == NPDE_OK) st = npde_backend_fill(c->be, &G, 0.0);
  if (st == NPDE_OK) st = npde_backend_fill(c->be, &R, 0.0);
  double *bh = st == NPDE_OK ? malloc((size_t)rows * sizeof *bh) : NULL, target_sq = 0.0;
  if (st == NPDE_OK && !bh) st = NPDE_ERROR(NPDE_ERR_NOMEM, "fit: out of memory");
  for (int64_t r0 = first; st == NPDE_OK && r0 < first + mine; r0 += chunk) {
    int64_t nc = first + mine - r0 < chunk ? first + mine - r0 : chunk;
    npde_mat X = npde_mat_view(x, NPDE_F64, nc, c->d), U = npde_mat_view(u, NPDE_F64, nc, c->K);
    npde_mat Phi = npde_mat_view(phi, NPDE_F64, nc, k), A = npde_mat_view(a, NPDE_F64, nc, k1);
    npde_mat Bv = npde_mat_view(b, NPDE_F64, nc, 1);
    st = npde__sample_uniform(c->be, c->rs->seed, stream, 0, first + mine, r0, &X);
    if (st == NPDE_OK) st = target_values(c, &X, &U);
    if (st == NPDE_OK) st = npde_network_features(c->net, &t, &X, o, &Phi);
    if (st == NPDE_OK) st = npde_network_envelope(c->net, &X, bh);
    if (st == NPDE_OK) st = npde_backend_upload(c->be, b, bh, (size_t)nc * sizeof(double));
    npde_mat A0 = npde_mat_sub(A, 0, 0, nc, 1), A1 = npde_mat_sub(A, 0, 1, nc, k), y = npde_mat_sub(U, 0, o, nc, 1);
    if (st == NPDE_OK) st = npde_backend_copy(c->be, &Bv, &A0);
    if (st == NPDE_OK) st = npde_backend_row_scale(c->be, &Bv, &Phi, &A1, 1);
    if (st == NPDE_OK) st = npde_backend_gemm(c->be, NPDE_TRANS, NPDE_NO_TRANS, 1.0, &A, &A, 1.0, &G);
    if (st == NPDE_OK) st = npde_backend_gemv(c->be, NPDE_TRANS, 1.0, &A, &y, 1.0, &R);
    double norm = 0.0;
    if (st == NPDE_OK) st = npde_backend_nrm2(c->be, &y, &norm);
    target_sq += norm * norm;
  }
  double *gh = st == NPDE_OK ? malloc((size_t)(k1 * k1 + k1 + 1) * sizeof *gh) : NULL;
  if (st == NPDE_OK && !gh) st = NPDE_ERROR(NPDE_ERR_NOMEM, "fit: out of memory");
  if (st == NPDE_OK) st = npde_backend_download(c->be, gh, g, (size_t)(k1 * k1) * sizeof(double));
  if (st == NPDE_OK) st = npde_backend_download(c->be, gh + k1 * k1, r, (size_t)k1 * sizeof(double));
  if (st == NPDE_OK) gh[k1 * k1 + k1] = target_sq;
  if (st == NPDE_OK) st = npde_comm_allreduce(gh, k1 * k1 + k1 + 1, NPDE_COMM_SUM);
  /* An output whose target is identically zero (phi_t of a wave at rest) would get a head of exactly zero, and
   * while it is zero that output's Jacobian spans only the head's directions: the first steps could move
   * nothing else. With keep_zero_head such a head is left as it is, for the caller (fit.zero_head). */
  const bool zero_target = st == NPDE_OK && keep_zero_head && gh[k1 * k1 + k1] == 0.0;
  *target_is_zero = zero_target;
  if (st == NPDE_OK && !zero_target) {
    for (int64_t i = 0; i < k1; ++i) gh[i * k1 + i] += lambda;
    lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', (lapack_int)k1, 1, gh, (lapack_int)k1, gh + k1 * k1, 1);
    if (info != 0)
      st = NPDE_ERROR(NPDE_ERR_NUMERIC, "fit: head %lld: the ridge system is not positive definite (LAPACK info "
                      "%d); raise head_lambda", (long long)o, (int)info);
  }
  if (st == NPDE_OK && !zero_target) {
    /* solution order [bias, w_1..w_k]; theta stores w then b */
    double *sol = gh + k1 * k1, *wb = malloc((size_t)k1 * sizeof *wb);
    if (!wb) st = NPDE_ERROR(NPDE_ERR_NOMEM, "fit: out of memory");
    else {
      memcpy(wb, sol + 1, (size_t)k * sizeof *wb);
      wb[k] = sol[0];
      int64_t off = npde_network_head_offset(c->net, o);
      st = npde_backend_upload(c->be, (char *)c->rs->theta + (size_t)off * sizeof(double), wb,
                               (size_t)k1 * sizeof(double));
      free(wb);
    }
  }
  npde_log(NPDE_LOG_DEBUG, "fit: head %lld tuned on %lld points, lambda %g", (long long)o, (long long)n_points,
           lambda);
  free(gh);
  free(bh);
  for (size_t i = 0; i < 7; ++i) npde_backend_free(c->be, *bufs[i]);
  return st;
}

static double learning_rate(double lr, const char *decay, double rate, int64_t every, int64_t epoch,
                            int64_t epochs) {
  if (strcmp(decay, "cosine") == 0) return 0.5 * lr * (1.0 + cos(M_PI * (double)(epoch - 1) / (double)epochs));
  if (strcmp(decay, "step") == 0) return lr * pow(rate, (double)((epoch - 1) / every));
  return lr;
}

static npde_status fit_preflight(const npde_run_ctx *rs, const npde_config *params) {
  NPDE_TRY(npde__stage_needs(rs, params, "fit", NPDE__NEEDS_NETWORK));
  int64_t batch, eval_points, epochs;
  NPDE_TRY(npde_config_get_int(params, "batch", &batch));
  NPDE_TRY(npde_config_get_int(params, "eval_points", &eval_points));
  NPDE_TRY(npde_config_get_int(params, "epochs", &epochs));
  const double d = (double)npde_network_dim(rs->net), K = (double)npde_network_outputs(rs->net);
  /* a batch's points, targets, residuals and linearisation; the held-out points; the loss history */
  const double batch_bytes = (double)batch * (8.0 * (d + 2.0 * K) + (double)npde_network_point_bytes(rs->net));
  return npde__memory_fits(npde_config_get(params, "batch"), "fit: a batch, the held-out points and the loss history",
                           batch_bytes + 8.0 * (double)eval_points * (d + K) + 8.0 * (double)epochs);
}

/* One Adam run: `epochs` steps, each on a fresh batch (this rank's rows [first, first + mine) of `batch`) of
 * stream `stream`, against target_values. */
typedef struct adam_plan {
  int64_t epochs, batch, first, mine, decay_every;
  double lr, decay_rate, log_every;
  const char *decay, *what;
  uint64_t stream;
  const npde_config *sampling;
} adam_plan;

static npde_status adam_phase(fit_ctx *c, const adam_plan *a, double *history, double *loss_out) {
  npde_run_ctx *rs = c->rs;
  npde_backend *be = c->be;
  const int64_t batch = a->batch, mine = a->mine;
  void *x = NULL, *u = NULL, *w = NULL, *g = NULL;
  npde__adam adam = {0};
  npde_linearization *lin = NULL;
  npde_mat theta = npde_mat_view(rs->theta, NPDE_F64, c->p, 1);
  npde__sampler sampler = {0};
  void *sqrt_w = NULL;
  double *sqrt_wh = NULL;
  npde_status st = npde__sampler_read(&sampler, a->sampling, "fit.sampling");
  if (st == NPDE_OK && sampler.adaptive) {
    st = npde_backend_alloc(be, (size_t)mine * sizeof(double), &sqrt_w);
    sqrt_wh = malloc((size_t)mine * sizeof(double));
    if (st == NPDE_OK && !sqrt_wh) st = NPDE_ERROR(NPDE_ERR_NOMEM, "fit: out of host memory");
  }
  npde__comm_scratch reduce = {0};
  void **bufs[] = {&x, &u, &w, &g};
  size_t sizes[] = {(size_t)(mine * c->d), (size_t)(mine * c->K), (size_t)(mine * c->K), (size_t)c->p};
  for (size_t i = 0; i < 4 && st == NPDE_OK; ++i) st = npde_backend_alloc(be, sizes[i] * sizeof(double), bufs[i]);
  npde_mat X = npde_mat_view(x, NPDE_F64, mine, c->d), U = npde_mat_view(u, NPDE_F64, mine, c->K),
           W = npde_mat_view(w, NPDE_F64, mine, c->K), G = npde_mat_view(g, NPDE_F64, c->p, 1);
  if (st == NPDE_OK) st = npde__adam_init(&adam, be, c->p);
  double t0 = npde__now_seconds(), last_log = t0, loss = NAN;
  for (int64_t e = 1; st == NPDE_OK && e <= a->epochs; ++e) {
    /* every 64 epochs: under MPI each look is a reduction, and an epoch takes a millisecond */
    if (e % 64 == 1 && npde__stop_requested()) {
      st = NPDE_ERROR(NPDE_ERR_INTERRUPTED, "%s: stopped on request at epoch %lld of %lld (fit keeps no checkpoint "
                      "of its own: a resume fits again from its start)", a->what, (long long)e, (long long)a->epochs);
      break;
    }
    if (sampler.adaptive) { /* the uniform draw's layout, resampled; the same draw for mix 0 */
      st = npde__sampler_draw(&sampler, rs->net, &theta, target_score, c, rs->seed, a->stream, (uint64_t)(e - 1),
                              batch, a->first, mine, &X, sqrt_wh);
      if (st == NPDE_OK) st = npde_backend_upload(be, sqrt_w, sqrt_wh, (size_t)mine * sizeof(double));
    } else {
      st = npde__sample_uniform(be, rs->seed, a->stream, (uint64_t)(e - 1), batch, a->first, &X);
    }
    if (st == NPDE_OK) st = target_values(c, &X, &U);
    if (st == NPDE_OK) st = lin ? npde_linearization_update(lin, &theta, &X)
                                : npde_linearization_create(rs->net, &theta, &X, &lin);
    if (st == NPDE_OK && sampler.adaptive) { /* W = sqrt(w) (N - u): the loss and its gradient weighted by p/q */
      npde_mat S = npde_mat_view(sqrt_w, NPDE_F64, mine, 1);
      st = npde_linearization_scale_rows(lin, &S);
      if (st == NPDE_OK) st = npde_backend_row_scale(be, &S, &U, &U, 1);
    }
    if (st == NPDE_OK) st = npde_linearization_values(lin, &W);
    if (st == NPDE_OK) st = npde_backend_axpy(be, -1.0, &U, &W); /* W = N - u */
    double r = 0;
    if (st == NPDE_OK) st = npde_backend_nrm2(be, &W, &r);
    double r2 = r * r;
    if (st == NPDE_OK) st = npde_comm_allreduce(&r2, 1, NPDE_COMM_SUM);
    if (st != NPDE_OK) break;
    loss = r2 / (double)(batch * c->K);
    if (history) history[e - 1] = loss;
    if (!isfinite(loss)) {
      st = NPDE_ERROR(NPDE_ERR_NUMERIC, "%s: the loss is %g at epoch %lld; lower lr (now %g)", a->what, loss,
                      (long long)e, a->lr);
      break;
    }
    /* d loss / d theta = J^T (2 (N - u) / (b K)) */
    st = npde_linearization_vjp(lin, &W, 2.0 / (double)(batch * c->K), 0.0, &G);
    if (st == NPDE_OK) st = npde__comm_allreduce_mat(be, &G, &reduce);
    double lr_e = learning_rate(a->lr, a->decay, a->decay_rate, a->decay_every, e, a->epochs);
    if (st == NPDE_OK) st = npde__adam_step(&adam, &theta, &G, lr_e, 0.0, e);
    double now = npde__now_seconds();
    if (st == NPDE_OK && (now - last_log >= a->log_every || e == a->epochs)) {
      double rate = (double)e / (now - t0 > 0 ? now - t0 : 1e-9);
      npde_log(NPDE_LOG_INFO, "%s: epoch %lld/%lld  loss %.3e  lr %.2e  %.1f s, %.0f epochs/s, ~%.0f s left",
               a->what, (long long)e, (long long)a->epochs, loss, lr_e, now - t0, rate,
               (double)(a->epochs - e) / rate);
      last_log = now;
    }
  }
  *loss_out = loss;
  npde_linearization_destroy(&lin);
  npde__sampler_free(&sampler, be);
  npde_backend_free(be, sqrt_w);
  free(sqrt_wh);
  npde__comm_scratch_free(&reduce);
  for (size_t i = 0; i < 4; ++i) npde_backend_free(be, *bufs[i]);
  npde__adam_free(&adam);
  return st;
}

/* zero_head rhs (docs/methods/neural-ivp.md §6.2): the outputs whose target is identically zero get features
 * for their first step. Their branches are fitted to L[N]_k(x, 0) of the fitted network, scaled to unit RMS,
 * while every other output's target is its own current value; then their heads are set to zero, so these
 * outputs stay exactly zero and the head's directions, the fitted features, span the first step's RHS. */
static npde_status fit_zero_outputs_to_rhs(fit_ctx *c, adam_plan plan, const bool *zero) {
  const int64_t K = c->K, n_scale = 4096;
  npde_status st = npde_backend_alloc(c->be, (size_t)c->p * sizeof(double), &c->theta_frozen);
  npde_mat theta = npde_mat_view(c->rs->theta, NPDE_F64, c->p, 1),
           frozen = npde_mat_view(c->theta_frozen, NPDE_F64, c->p, 1);
  if (st == NPDE_OK) st = npde_backend_copy(c->be, &theta, &frozen);
  c->rhs_scale = calloc((size_t)K, sizeof(double));
  void *x = NULL;
  if (st == NPDE_OK && !c->rhs_scale) st = NPDE_ERROR(NPDE_ERR_NOMEM, "fit: out of memory");
  /* the scale: the RMS of L[N]_k on n_scale points, each rank its slice */
  int64_t first, mine;
  npde__sample_slice(n_scale, c->d, &first, &mine);
  if (st == NPDE_OK) st = npde_backend_alloc(c->be, (size_t)((mine > 0 ? mine : 1) * c->d) * sizeof(double), &x);
  npde_mat X = npde_mat_view(x, NPDE_F64, mine, c->d);
  if (st == NPDE_OK && mine > 0) st = npde__sample_uniform(c->be, c->rs->seed, plan.stream, UINT64_MAX, n_scale, first, &X);
  if (st == NPDE_OK && mine > 0) st = frozen_rhs(c, &X);
  for (int64_t i = 0; st == NPDE_OK && i < mine; ++i)
    for (int64_t k = 0; k < K; ++k) c->rhs_scale[k] += c->jet_f[i * K + k] * c->jet_f[i * K + k];
  if (st == NPDE_OK) st = npde_comm_allreduce(c->rhs_scale, K, NPDE_COMM_SUM);
  for (int64_t k = 0; st == NPDE_OK && k < K; ++k) {
    c->rhs_scale[k] = sqrt(c->rhs_scale[k] / (double)n_scale);
    if (zero[k] && !(c->rhs_scale[k] > 0.0 && isfinite(c->rhs_scale[k])))
      st = NPDE_ERROR(NPDE_ERR_NUMERIC, "fit: zero_head: rhs: output %lld's initial time derivative has RMS %g on "
                      "%lld points, so there is nothing to fit its features to; use zero_head: adam",
                      (long long)k, c->rhs_scale[k], (long long)n_scale);
    else if (zero[k])
      npde_log(NPDE_LOG_INFO, "fit: output %lld: the target is identically zero; fitting its branch to its initial "
               "time derivative (RMS %.3e) over %lld epochs, then setting its head to zero", (long long)k,
               c->rhs_scale[k], (long long)plan.epochs);
  }
  npde_backend_free(c->be, x);
  double loss = NAN;
  c->zero = zero;
  c->rhs_target = true;
  if (st == NPDE_OK) st = adam_phase(c, &plan, NULL, &loss);
  c->rhs_target = false;
  int64_t n_zero = 0;
  for (int64_t k = 0; k < K; ++k) n_zero += zero[k];
  if (st == NPDE_OK) /* the other outputs' residuals are zero where branches are separate; then this is exact */
    npde_log(NPDE_LOG_INFO, "fit: the zero outputs' features represent their initial time derivative to a relative "
             "RMS residual of about %.3e (last batch)", sqrt(loss * (double)K / (double)n_zero));
  if (st == NPDE_OK) npde__metric(c->rs, "fit.rhs_feature_residual", sqrt(loss * (double)K / (double)n_zero));
  for (int64_t k = 0; st == NPDE_OK && k < K; ++k) {
    if (!zero[k]) continue;
    const int64_t k1 = npde_network_feature_dim(c->net, k) + 1;
    npde_mat head = npde_mat_sub(theta, npde_network_head_offset(c->net, k), 0, k1, 1);
    st = npde_backend_fill(c->be, &head, 0.0);
  }
  npde_backend_free(c->be, c->theta_frozen);
  c->theta_frozen = NULL;
  free(c->rhs_scale);
  c->rhs_scale = NULL;
  return st;
}

static npde_status fit_run(npde_run_ctx *rs, const npde_config *params) {
  int64_t epochs, batch, head_points, eval_points, decay_every;
  double lr, decay_rate, head_lambda, log_every;
  bool head_tuning;
  const char *decay, *target;
  NPDE_TRY(npde_config_get_int(params, "epochs", &epochs));
  NPDE_TRY(npde_config_get_int(params, "batch", &batch));
  NPDE_TRY(npde_config_get_int(params, "head_points", &head_points));
  NPDE_TRY(npde_config_get_int(params, "eval_points", &eval_points));
  NPDE_TRY(npde_config_get_int(params, "decay_every", &decay_every));
  NPDE_TRY(npde_config_get_real(params, "lr", &lr));
  NPDE_TRY(npde_config_get_real(params, "decay_rate", &decay_rate));
  NPDE_TRY(npde_config_get_real(params, "head_lambda", &head_lambda));
  NPDE_TRY(npde_config_get_real(params, "log_every", &log_every));
  NPDE_TRY(npde_config_get_bool(params, "head_tuning", &head_tuning));
  NPDE_TRY(npde_config_get_string(params, "decay", &decay));
  NPDE_TRY(npde_config_get_string(params, "target", &target));
  const char *zero_head;
  NPDE_TRY(npde_config_get_string(params, "zero_head", &zero_head));

  fit_ctx c = {.rs = rs, .be = rs->backend, .net = rs->net, .d = npde_network_dim(rs->net),
               .K = npde_network_outputs(rs->net), .p = npde_network_n_params(rs->net),
               .target_network = strcmp(target, "network") == 0, .order = npde_pde_get_info(rs->pde).order};
  uint64_t fit_index = (uint64_t)rs->n_fits++;
  npde_backend *be = c.be;
  size_t pb = (size_t)c.p * sizeof(double);
  npde_status st = NPDE_OK;
  npde_mat theta = npde_mat_view(rs->theta, NPDE_F64, c.p, 1);
  if (c.target_network) {
    /* refit from the initial parameters to the current prediction */
    st = npde_backend_alloc(be, pb, &c.theta_target);
    npde_mat tt = npde_mat_view(c.theta_target, NPDE_F64, c.p, 1);
    if (st == NPDE_OK) st = npde_backend_copy(be, &theta, &tt);
    if (st == NPDE_OK) st = npde_network_init(rs->net, &theta, rs->seed);
  }
  /* on several ranks, each takes its slice of every batch; the loss and gradient are summed over the ranks */
  adam_plan plan = {.epochs = epochs, .batch = batch, .decay_every = decay_every, .lr = lr, .decay_rate = decay_rate,
                    .log_every = log_every, .decay = decay, .what = "fit", .stream = NPDE__STREAM_FIT + fit_index,
                    .sampling = npde_config_get(params, "sampling")};
  npde__sample_slice(batch, c.d, &plan.first, &plan.mine);
  if (plan.mine < 1 && st == NPDE_OK)
    st = npde_config_error(npde_config_get(params, "batch"), "fit: batch = %lld leaves rank %d of %d without points: "
                           "use at least %d", (long long)batch, npde_comm_rank(), npde_comm_size(),
                           2 * npde_comm_size());
  double t0 = npde__now_seconds(), loss = NAN;
  /* the loss of every epoch, for results.npz (fit_loss, or refit_loss of the last restart) */
  double *history = epochs > 0 ? malloc((size_t)epochs * sizeof *history) : NULL;
  if (epochs > 0 && !history && st == NPDE_OK) st = NPDE_ERROR(NPDE_ERR_NOMEM, "fit: out of memory");
  if (st == NPDE_OK) st = adam_phase(&c, &plan, history, &loss);
  double err_before = NAN, err_after = NAN, *parts = calloc((size_t)c.K, sizeof *parts);
  bool *zero = calloc((size_t)c.K, sizeof *zero), any_zero = false;
  if (st == NPDE_OK && (!parts || !zero)) st = NPDE_ERROR(NPDE_ERR_NOMEM, "fit: out of memory");
  if (st == NPDE_OK) st = relative_error(&c, eval_points, &err_before, parts);
  if (st == NPDE_OK && head_tuning) {
    for (int64_t o = 0; st == NPDE_OK && o < c.K; ++o) {
      st = tune_head(&c, o, head_points, head_lambda, NPDE__STREAM_HEAD + fit_index, strcmp(zero_head, "ridge") != 0,
                     &zero[o]);
      any_zero = any_zero || zero[o];
      if (st == NPDE_OK && zero[o] && !strcmp(zero_head, "adam"))
        npde_log(NPDE_LOG_INFO, "fit: output %lld: the target is identically zero; its head keeps Adam's values (a "
                 "zero head would leave its Jacobian only the head's directions)", (long long)o);
    }
    if (st == NPDE_OK && any_zero && !strcmp(zero_head, "rhs")) {
      adam_plan rhs_plan = plan;
      rhs_plan.what = "fit (zero outputs' features)";
      rhs_plan.stream = NPDE__STREAM_FIT_RHS + fit_index;
      st = fit_zero_outputs_to_rhs(&c, rhs_plan, zero);
    }
    if (st == NPDE_OK) st = relative_error(&c, eval_points, &err_after, parts);
  }
  if (st == NPDE_OK) {
    /* a refit (restart) reports apart from the initial fit */
    const char *what = c.target_network ? "refit" : "fit";
    char name[48];
    snprintf(name, sizeof name, "%s.loss", what);
    npde__metric(rs, name, loss);
    snprintf(name, sizeof name, "%s.rel_error_before_head", what);
    npde__metric(rs, name, err_before);
    snprintf(name, sizeof name, "%s_loss", what);
    if (epochs > 0) st = npde__result_put(rs, name, NPDE_NPY_F64, history, 1, &epochs);
    snprintf(name, sizeof name, "%s.seconds", what);
    npde__metric(rs, name, npde__now_seconds() - t0);
    snprintf(name, sizeof name, "%s.rel_error", what);
    npde__metric(rs, name, head_tuning ? err_after : err_before);
    if (head_tuning)
      npde_log(NPDE_LOG_INFO, "fit: relative L2 error on %lld held-out points: %.3e after Adam, %.3e after head "
               "tuning", (long long)eval_points, err_before, err_after);
    else
      npde_log(NPDE_LOG_INFO, "fit: relative L2 error on %lld held-out points: %.3e", (long long)eval_points,
               err_before);
    for (int64_t o = 0; c.K > 1 && o < c.K; ++o) {
      npde_log(NPDE_LOG_INFO, "fit: output %lld alone: relative L2 error %.3e", (long long)o, parts[o]);
      snprintf(name, sizeof name, "%s.rel_error_output%lld", what, (long long)o);
      npde__metric(rs, name, parts[o]);
    }
  }
  free(parts);
  free(zero);
  free(c.jet_val);
  free(c.jet_grad);
  free(c.jet_sec);
  free(c.jet_f);
  npde_backend_free(be, c.theta_target);
  free(history);
  free(c.xh);
  free(c.uh);
  npde_backend_free(be, c.score_u);
  free(c.score_uh);
  return st;
}

static npde_status fit_check(const npde_config *params) {
  npde__sampler sampler = {0};
  const char *zero_head;
  bool head_tuning;
  NPDE_TRY(npde_config_get_string(params, "zero_head", &zero_head));
  NPDE_TRY(npde_config_get_bool(params, "head_tuning", &head_tuning));
  if (!strcmp(zero_head, "rhs") && !head_tuning) /* the zero outputs are found, and their heads set, by head tuning */
    return npde_config_error(npde_config_get(params, "zero_head"), "fit: zero_head: rhs needs head_tuning: true");
  return npde__sampler_read(&sampler, npde_config_get(params, "sampling"), "fit.sampling");
}

const npde_stage npde__stage_fit = {
    .check = fit_check,
    .name = "fit",
    .summary = "Adam on the initial condition (or the current network), then head tuning",
    .params = fit_params,
    .run = fit_run,
    .preflight = fit_preflight,
};
