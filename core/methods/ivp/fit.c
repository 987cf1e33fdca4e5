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
    {.name = "zero_head", .type = NPDE_PARAM_ENUM, .default_value = "adam", .choices = "adam|ridge",
     .doc = "an output whose target is identically zero (phi_t of a wave at rest): its head keeps Adam's values "
            "(adam), or head tuning sets it to exactly zero as the reference code does (ridge), leaving that "
            "output's Jacobian only the head's directions"},
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

/* Target values U (n x K, backend) at points X (n x d, backend). */
static npde_status target_values(fit_ctx *c, const npde_mat *X, npde_mat *U) {
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
                             bool keep_zero_head) {
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
   * nothing else. Such a head keeps the small values Adam left. */
  const bool zero_target = st == NPDE_OK && keep_zero_head && gh[k1 * k1 + k1] == 0.0;
  if (zero_target)
    npde_log(NPDE_LOG_INFO, "fit: output %lld: the target is identically zero; its head keeps Adam's values (a zero "
             "head would leave its Jacobian only the head's directions)", (long long)o);
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
               .target_network = strcmp(target, "network") == 0};
  uint64_t fit_index = (uint64_t)rs->n_fits++;
  npde_backend *be = c.be;
  size_t pb = (size_t)c.p * sizeof(double);
  void *x = NULL, *u = NULL, *w = NULL, *g = NULL;
  npde__adam adam = {0};
  npde_linearization *lin = NULL;
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
  int64_t first = 0, mine = batch;
  npde__sample_slice(batch, c.d, &first, &mine);
  if (mine < 1 && st == NPDE_OK)
    st = npde_config_error(npde_config_get(params, "batch"), "fit: batch = %lld leaves rank %d of %d without points: "
                           "use at least %d", (long long)batch, npde_comm_rank(), npde_comm_size(),
                           2 * npde_comm_size());
  npde__sampler sampler = {0};
  void *sqrt_w = NULL;
  double *sqrt_wh = NULL;
  if (st == NPDE_OK) st = npde__sampler_read(&sampler, npde_config_get(params, "sampling"), "fit.sampling");
  if (st == NPDE_OK && sampler.adaptive) {
    st = npde_backend_alloc(be, (size_t)mine * sizeof(double), &sqrt_w);
    sqrt_wh = malloc((size_t)mine * sizeof(double));
    if (st == NPDE_OK && !sqrt_wh) st = NPDE_ERROR(NPDE_ERR_NOMEM, "fit: out of host memory");
  }
  npde__comm_scratch reduce = {0};
  void **bufs[] = {&x, &u, &w, &g};
  size_t sizes[] = {(size_t)(mine * c.d), (size_t)(mine * c.K), (size_t)(mine * c.K), (size_t)c.p};
  for (size_t i = 0; i < 4 && st == NPDE_OK; ++i) st = npde_backend_alloc(be, sizes[i] * sizeof(double), bufs[i]);
  npde_mat X = npde_mat_view(x, NPDE_F64, mine, c.d), U = npde_mat_view(u, NPDE_F64, mine, c.K),
           W = npde_mat_view(w, NPDE_F64, mine, c.K), G = npde_mat_view(g, NPDE_F64, c.p, 1);
  if (st == NPDE_OK) st = npde__adam_init(&adam, be, c.p);
  double t0 = npde__now_seconds(), last_log = t0, loss = NAN;
  /* the loss of every epoch, for results.npz (fit_loss, or refit_loss of the last restart) */
  double *history = epochs > 0 ? malloc((size_t)epochs * sizeof *history) : NULL;
  if (epochs > 0 && !history && st == NPDE_OK) st = NPDE_ERROR(NPDE_ERR_NOMEM, "fit: out of memory");
  for (int64_t e = 1; st == NPDE_OK && e <= epochs; ++e) {
    /* every 64 epochs: under MPI each look is a reduction, and an epoch takes a millisecond */
    if (e % 64 == 1 && npde__stop_requested()) {
      st = NPDE_ERROR(NPDE_ERR_INTERRUPTED, "fit: stopped on request at epoch %lld of %lld (fit keeps no checkpoint "
                      "of its own: a resume fits again from its start)", (long long)e, (long long)epochs);
      break;
    }
    if (sampler.adaptive) { /* the uniform draw's layout, resampled; the same draw for mix 0 */
      st = npde__sampler_draw(&sampler, rs->net, &theta, target_score, &c, rs->seed, NPDE__STREAM_FIT + fit_index,
                              (uint64_t)(e - 1), batch, first, mine, &X, sqrt_wh);
      if (st == NPDE_OK) st = npde_backend_upload(be, sqrt_w, sqrt_wh, (size_t)mine * sizeof(double));
    } else {
      st = npde__sample_uniform(be, rs->seed, NPDE__STREAM_FIT + fit_index, (uint64_t)(e - 1), batch, first, &X);
    }
    if (st == NPDE_OK) st = target_values(&c, &X, &U);
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
    loss = r2 / (double)(batch * c.K);
    history[e - 1] = loss;
    if (!isfinite(loss)) {
      st = NPDE_ERROR(NPDE_ERR_NUMERIC, "fit: the loss is %g at epoch %lld; lower lr (now %g)", loss, (long long)e, lr);
      break;
    }
    /* d loss / d theta = J^T (2 (N - u) / (b K)) */
    st = npde_linearization_vjp(lin, &W, 2.0 / (double)(batch * c.K), 0.0, &G);
    if (st == NPDE_OK) st = npde__comm_allreduce_mat(be, &G, &reduce);
    double lr_e = learning_rate(lr, decay, decay_rate, decay_every, e, epochs);
    if (st == NPDE_OK) st = npde__adam_step(&adam, &theta, &G, lr_e, 0.0, e);
    double now = npde__now_seconds();
    if (st == NPDE_OK && (now - last_log >= log_every || e == epochs)) {
      double rate = (double)e / (now - t0 > 0 ? now - t0 : 1e-9);
      npde_log(NPDE_LOG_INFO, "fit: epoch %lld/%lld  loss %.3e  lr %.2e  %.1f s, %.0f epochs/s, ~%.0f s left",
               (long long)e, (long long)epochs, loss, lr_e, now - t0, rate, (double)(epochs - e) / rate);
      last_log = now;
    }
  }
  npde_linearization_destroy(&lin);
  npde__sampler_free(&sampler, be);
  npde_backend_free(be, sqrt_w);
  free(sqrt_wh);
  npde__comm_scratch_free(&reduce);
  for (size_t i = 0; i < 4; ++i) npde_backend_free(be, *bufs[i]);
  npde__adam_free(&adam);
  double err_before = NAN, err_after = NAN, *parts = calloc((size_t)c.K, sizeof *parts);
  if (st == NPDE_OK && !parts) st = NPDE_ERROR(NPDE_ERR_NOMEM, "fit: out of memory");
  if (st == NPDE_OK) st = relative_error(&c, eval_points, &err_before, parts);
  if (st == NPDE_OK && head_tuning) {
    for (int64_t o = 0; st == NPDE_OK && o < c.K; ++o)
      st = tune_head(&c, o, head_points, head_lambda, NPDE__STREAM_HEAD + fit_index, !strcmp(zero_head, "adam"));
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
