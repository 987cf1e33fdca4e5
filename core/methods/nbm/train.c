/* The `train` stage (docs/methods/nbm.md §4, §8.4): the Neural Bootstrapping Method.
 *
 * A discrete PDE returns, at each collocation point p and cell size h, its
 * residual as an affine function of network samples, r_p = sum_j w_pj v_j
 * + w0_p, v_j the value at x_j of the network of side j. The weights do not
 * depend on theta, so they are built once per resolution into a sparse
 * table over the distinct samples (dedupe across points), and a training
 * step is: evaluate the network at the batch's samples, r = W v + w0, the
 * loss mean(1/2 (m r)^2) with the domain-switching mask m, the cotangent
 * dL/dv = W^T (m^2 r) / B, one pull-back through the network (J^T), then
 * global-norm clipping and Adam with lr_k = lr d^(k / T) (§4.5).
 *
 * Gauss-Newton / Levenberg-Marquardt (optimizer: gauss-newton): the residual
 * is affine in v, so J_r = W J and each step solves
 * (J_r^T J_r / B + lambda I) d = -J_r^T r / B matrix-free with the
 * pipeline's linear solver and preconditioner (CG and Nystrom), accepting
 * the step when the loss falls (lambda / 3) and retrying otherwise
 * (lambda * 4).
 *
 * The network has one output per side (`outputs: 2`, two independent
 * branches: the inside and outside networks); a sample reads the output of
 * its side. Errors are measured at the nodes of the n^3 grid against the
 * PDE's exact solution. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comm_reduce.h"
#include "log_impl.h"
#include "npde/npde_comm.h"
#include "npde/npde_discrete.h"
#include "npde/npde_log.h"
#include "npde/npde_philox.h"
#include "nbm_impl.h"

static const npde_param_spec train_params[] = {
    {.name = "n", .type = NPDE_PARAM_INT, .default_value = "32", .min = 3, .max = 2048,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX,
     .doc = "nodes per axis of the grid (collocation and error points); cell size h0 = box / (n - 1)"},
    {.name = "points", .type = NPDE_PARAM_ENUM, .default_value = "grid", .choices = "grid|random",
     .doc = "collocation points: the grid nodes, or random interior points plus the grid's boundary nodes"},
    {.name = "random_points", .type = NPDE_PARAM_INT, .default_value = "0", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "points: random: interior points (uniform, at least h0 from the box); 0: as many as grid nodes"},
    {.name = "epochs", .type = NPDE_PARAM_INT, .default_value = "10000", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "passes over the collocation points"},
    {.name = "batch", .type = NPDE_PARAM_INT, .default_value = "0", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "points per optimiser step; 0: all (full batch)"},
    {.name = "shuffle", .type = NPDE_PARAM_BOOL, .default_value = "true",
     .doc = "reshuffle the points into new batches every epoch (Philox, reproducible)"},
    {.name = "optimizer", .type = NPDE_PARAM_ENUM, .default_value = "adam", .choices = "adam|gauss-newton",
     .doc = "Adam with clipping and exponential decay, or Levenberg-Marquardt Gauss-Newton"},
    {.name = "lr", .type = NPDE_PARAM_REAL, .default_value = "1e-2", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "Adam learning rate lr0 (beta1 0.9, beta2 0.999, eps 1e-8)"},
    {.name = "decay", .type = NPDE_PARAM_REAL, .default_value = "0.975", .min = 0, .max = 1,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX, .doc = "lr_k = lr0 decay^(k / decay_steps), k = steps taken"},
    {.name = "decay_steps", .type = NPDE_PARAM_REAL, .default_value = "100", .min = 1e-9,
     .flags = NPDE_PARAM_HAS_MIN, .doc = "T of the exponential learning-rate decay"},
    {.name = "clip", .type = NPDE_PARAM_REAL, .default_value = "1", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "clip the gradient to this global L2 norm (0: no clipping)"},
    {.name = "levels", .type = NPDE_PARAM_INT, .default_value = "1", .min = 1, .max = 12,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX,
     .doc = "resolutions h0, h0/2, ... (implicit refinement, docs/methods/nbm.md §4.3); 1: a single resolution"},
    {.name = "schedule", .type = NPDE_PARAM_ENUM, .default_value = "cycle", .choices = "cycle|quarters",
     .doc = "levels > 1: level = epoch mod levels (cycle), or sequential blocks of epochs / levels (quarters)"},
    {.name = "switching", .type = NPDE_PARAM_INT, .default_value = "1", .min = 1, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "domain switching period tau (docs/methods/nbm.md §4.4): epoch e trains the whole domain when "
            "e mod tau = 0, the "
            "inside only otherwise; 1: always the whole domain, unmasked"},
    {.name = "damping", .type = NPDE_PARAM_REAL, .default_value = "1e-3", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "gauss-newton: initial Levenberg-Marquardt lambda"},
    {.name = "divergence", .type = NPDE_PARAM_REAL, .default_value = "1e6", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "stop (exit 1, the last good epoch's parameters kept) when an epoch's loss is NaN or Inf or exceeds this "
            "many times the lowest so far; 0: never"},
    {.name = "error_every", .type = NPDE_PARAM_INT, .default_value = "100", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "epochs between error measurements against the exact solution (0: at the end only)"},
    {.name = "log_every", .type = NPDE_PARAM_REAL, .default_value = "2", .min = 0, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "seconds between progress lines"},
    {0},
};

typedef struct train_ctx {
  npde_run_ctx *rs;
  npde_backend *be;
  npde_network *net;
  const npde_pde *pde;
  npde_pde_info info;
  int64_t p;
  int64_t n_points;
  double *points;        /* n_points x 3 (host) */
  double *masks[2];      /* domain switching: the whole domain (1/2 each), the inside only */
  npde_grid grid;        /* the n^3 nodes: error points, and collocation points for points: grid */
  int64_t n_eval;
  double *eval_x, *eval_u, *eval_phi, *eval_net;
  bool exact; /* the PDE has an exact solution to measure errors against */
  int levels;
  npde_discrete_loss **loss; /* one per level */
  /* several ranks: each evaluates its slice of every batch, and the sums meet in MPI_Allreduce. With one
   * batch of all points each rank's losses hold only its own slice [slice_first, + slice_n) of the points. */
  bool sliced;
  int64_t slice_first, slice_n;
  double share;         /* this rank's rows / the batch's rows, of the last evaluation */
  npde__dist_op gn_all; /* the Gauss-Newton operator summed over the ranks */
  npde__comm_scratch reduce;
} train_ctx;

/* -------------------------------------------------------------- errors */

/* RMSE and Linf at the grid nodes; several ranks split the nodes. */
static npde_status grid_errors(train_ctx *c, double *rmse, double *linf) {
  if (!c->exact) {
    *rmse = *linf = NAN;
    return NPDE_OK;
  }
  int64_t first, mine;
  npde_comm_slice(c->n_eval, 1, &first, &mine);
  double sq = 0.0, mx = 0.0;
  if (mine > 0) {
    NPDE_TRY(npde__side_values(c->rs, c->eval_x + 3 * first, c->eval_phi + first, mine, c->eval_net + first));
    npde__sq_sum_max(c->eval_net + first, c->eval_u + first, mine, &sq, &mx);
  }
  NPDE_TRY(npde_comm_allreduce(&sq, 1, NPDE_COMM_SUM));
  NPDE_TRY(npde_comm_allreduce(&mx, 1, NPDE_COMM_MAX));
  *rmse = sqrt(sq / (double)c->n_eval);
  *linf = mx;
  return NPDE_OK;
}

/* The loss (and, with grad, its gradient) of a batch of nrows points (rows into the points; NULL: all), over
 * all ranks: each evaluates its slice of the rows, weighted by its share of them, and MPI_Allreduce sums. */
static npde_status batch_loss(train_ctx *c, npde_discrete_loss *L, const npde_mat *theta, const int64_t *rows,
                              int64_t nrows, const double *mask, double *value, npde_mat *grad) {
  if (npde_comm_size() == 1) {
    c->share = 1.0;
    return npde_discrete_loss_eval(L, theta, rows, nrows, mask, value, grad);
  }
  int64_t first, mine;
  npde_comm_slice(nrows, 1, &first, &mine);
  if (mine < 1)
    return NPDE_ERROR(NPDE_ERR_CONFIG, "train: a batch of %lld points leaves rank %d of %d without any: use larger "
                      "batches or fewer ranks", (long long)nrows, npde_comm_rank(), npde_comm_size());
  npde_status st;
  if (c->sliced) st = npde_discrete_loss_eval(L, theta, NULL, mine, mask ? mask + c->slice_first : NULL, value, grad);
  else st = npde_discrete_loss_eval(L, theta, rows + first, mine, mask, value, grad);
  /* a NaN on one rank must reach every rank: carry on to the reductions with it */
  if (st == NPDE_ERR_NUMERIC) {
    npde_clear_error();
    *value = NAN;
  } else NPDE_TRY(st);
  c->share = (double)mine / (double)nrows;
  *value *= c->share;
  NPDE_TRY(npde_comm_allreduce(value, 1, NPDE_COMM_SUM));
  if (grad) {
    NPDE_TRY(npde_backend_scal(c->be, c->share, grad));
    NPDE_TRY(npde__comm_allreduce_mat(c->be, grad, &c->reduce));
  }
  if (!isfinite(*value))
    return NPDE_ERROR(NPDE_ERR_NUMERIC, "train: the loss is %g (a NaN or an overflow in the network)", *value);
  return NPDE_OK;
}

/* ---------------------------------------------------------- the stage */

static int level_of(int64_t epoch, int64_t epochs, int levels, bool cycle) {
  if (levels <= 1) return 0;
  if (cycle) return (int)(epoch % levels);
  int64_t block = epochs / levels;
  if (block < 1) block = 1;
  int64_t l = epoch / block;
  return l >= levels ? levels - 1 : (int)l;
}

static npde_status make_points(train_ctx *c, int64_t N, bool random, int64_t n_random) {
  const int64_t n_grid = N * N * N;
  c->n_eval = n_grid;
  NPDE_TRY(npde__grid_points(&c->grid, &c->eval_x));
  c->eval_u = malloc((size_t)n_grid * sizeof(double));
  c->eval_phi = malloc((size_t)n_grid * sizeof(double));
  c->eval_net = malloc((size_t)n_grid * sizeof(double));
  if (!c->eval_u || !c->eval_phi || !c->eval_net) return NPDE_ERROR(NPDE_ERR_NOMEM, "train: out of memory");
  c->exact = npde_pde_get_info(c->pde).has_exact;
  if (c->exact) NPDE_TRY(npde_pde_exact(c->pde, 0.0, c->eval_x, n_grid, c->eval_u));
  NPDE_TRY(npde_pde_level_set(c->pde, c->eval_x, n_grid, c->eval_phi));
  const int64_t n_boundary = n_grid - (N - 2) * (N - 2) * (N - 2);
  if (!random) n_random = 0;
  else if (n_random == 0) n_random = n_grid - n_boundary;
  c->n_points = random ? n_random + n_boundary : n_grid;
  c->points = malloc((size_t)c->n_points * 3 * sizeof(double));
  if (!c->points) return NPDE_ERROR(NPDE_ERR_NOMEM, "train: out of memory");
  if (!random) {
    memcpy(c->points, c->eval_x, (size_t)n_grid * 3 * sizeof(double));
  } else {
    /* interior points at least h0 from the box, so every stencil stays inside; the boundary nodes impose g */
    const double *lo = c->grid.lo, *h0 = c->grid.spacing;
    for (int64_t i = 0; i < n_random; ++i)
      for (int a = 0; a < 3; ++a) {
        const double u01 = npde_philox_uniform_at(c->rs->seed, NPDE__STREAM_TRAIN, 0, (uint64_t)(3 * i + a));
        c->points[3 * i + a] = lo[a] + h0[a] + u01 * (double)(N - 3) * h0[a];
      }
    int64_t q = n_random;
    for (int64_t g = 0; g < n_grid; ++g) {
      const int64_t k = g % N, j = (g / N) % N, i = g / (N * N);
      if (i == 0 || j == 0 || k == 0 || i == N - 1 || j == N - 1 || k == N - 1)
        memcpy(c->points + 3 * q++, c->eval_x + 3 * g, 3 * sizeof(double));
    }
  }
  /* domain switching (docs/methods/nbm.md §4.4): the whole domain weighs every residual by 1/2, the inside
   * phase keeps phi < 0 */
  for (int k = 0; k < 2; ++k) {
    c->masks[k] = malloc((size_t)c->n_points * sizeof(double));
    if (!c->masks[k]) return NPDE_ERROR(NPDE_ERR_NOMEM, "train: out of memory");
  }
  NPDE_TRY(npde_pde_level_set(c->pde, c->points, c->n_points, c->masks[1]));
  for (int64_t i = 0; i < c->n_points; ++i) {
    c->masks[0][i] = 0.5;
    c->masks[1][i] = c->masks[1][i] < 0.0 ? 1.0 : 0.0;
  }
  return NPDE_OK;
}

static void ctx_free(train_ctx *c) {
  npde__comm_scratch_free(&c->reduce);
  npde__comm_scratch_free(&c->gn_all.scratch);
  for (int l = 0; c->loss && l < c->levels; ++l) npde_discrete_loss_destroy(&c->loss[l]);
  free(c->loss);
  free(c->points), free(c->eval_x), free(c->eval_u), free(c->eval_phi), free(c->eval_net);
  for (int k = 0; k < 2; ++k) free(c->masks[k]);
}

/* A reproducible permutation of 0..n-1 for epoch e (Fisher-Yates on Philox uniforms). */
static void shuffle(int64_t *perm, int64_t n, uint64_t seed, int64_t epoch) {
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    const double u = npde_philox_uniform_at(seed, NPDE__STREAM_TRAIN + 1, (uint64_t)epoch << 32, (uint64_t)i);
    const int64_t j = (int64_t)(u * (double)(i + 1));
    const int64_t s = perm[i];
    perm[i] = perm[j];
    perm[j] = s;
  }
}


/* One Levenberg-Marquardt step on the rows: solve (J_r^T J_r / B + lambda I) d = -J_r^T r / B with the
 * pipeline's solver, keep theta + d if the loss falls (lambda / 3), else retry with lambda * 4. loss is the
 * loss at theta on entry and the loss of the kept parameters on return. */
static npde_status gauss_newton_step(train_ctx *c, npde_discrete_loss *L, const int64_t *rows, int64_t nrows,
                                     const double *mask, npde_mat *theta, npde_mat *G, npde_mat *D, npde_mat *saved,
                                     uint64_t step, double *lambda, double *loss, int64_t *cg_iterations) {
  npde_run_ctx *rs = c->rs;
  NPDE_TRY(npde_backend_scal(c->be, -1.0, G)); /* G holds the gradient J_r^T r / B on entry */
  NPDE_TRY(npde_backend_copy(c->be, theta, saved));
  const npde_linop A = npde__dist_op_wrap(&c->gn_all, npde_discrete_loss_gauss_newton(L), c->share, c->be);
  if (rs->precond) {
    npde_precond_info pinfo = {.struct_size = sizeof pinfo};
    NPDE_TRY(npde_precond_setup(rs->precond, &A, rs->seed, NPDE__STREAM_TRAIN + 2, step << 20, &pinfo));
  }
  *cg_iterations = 0;
  for (int tries = 0; tries < 10; ++tries) {
    NPDE_TRY(npde_backend_fill(c->be, D, 0.0));
    npde_solve_stats ss = {.struct_size = sizeof ss};
    npde_status st = npde_linsolver_solve(rs->linsolver, &A, *lambda, rs->precond, G, D, &ss);
    if (st == NPDE_NOT_CONVERGED) {
      npde_clear_error(); /* an inexact step of CG on an SPD system still descends */
      st = NPDE_OK;
    }
    NPDE_TRY(st);
    *cg_iterations += ss.iterations;
    NPDE_TRY(npde_backend_axpy(c->be, 1.0, D, theta));
    double trial = INFINITY;
    st = batch_loss(c, L, theta, rows, nrows, mask, &trial, NULL);
    if (st == NPDE_ERR_NUMERIC) {
      npde_clear_error();
      st = NPDE_OK;
      trial = INFINITY;
    }
    NPDE_TRY(st);
    if (trial < *loss) {
      *loss = trial;
      *lambda = fmax(*lambda / 3.0, 1e-15);
      return NPDE_OK;
    }
    /* rejected: back to theta, and relinearise there, because the trial moved the operator A */
    *lambda *= 4.0;
    NPDE_TRY(npde_backend_copy(c->be, saved, theta));
    double back;
    NPDE_TRY(batch_loss(c, L, theta, rows, nrows, mask, &back, NULL));
  }
  return NPDE_OK; /* no decrease at any damping: theta is kept */
}

typedef struct history {
  int64_t n, cap;
  double *v; /* rows of: epoch, level, loss, rmse, linf, wall */
} history;

static npde_status history_add(history *h, const double row[6]) {
  if (h->n == h->cap) {
    int64_t cap = h->cap ? 2 * h->cap : 1024;
    double *v = realloc(h->v, (size_t)cap * 6 * sizeof *v);
    if (!v) return NPDE_ERROR(NPDE_ERR_NOMEM, "train: out of memory");
    h->v = v;
    h->cap = cap;
  }
  memcpy(h->v + 6 * h->n++, row, 6 * sizeof *row);
  return NPDE_OK;
}

/* ---------------------------------------------------------- checkpoints */

/* theta and Adam's moments into (to_theta, to_m, to_v), all p x 1 on the backend. */
static npde_status keep_good(npde_backend *be, const npde_mat *theta, const npde__adam *adam, npde_mat *to_theta,
                             npde_mat *to_m, npde_mat *to_v) {
  NPDE_TRY(npde_backend_copy(be, theta, to_theta));
  NPDE_TRY(npde_backend_copy(be, &adam->m, to_m));
  return npde_backend_copy(be, &adam->v, to_v);
}

typedef struct train_state {
  int64_t epoch, step, cg_total;
  double lambda, elapsed;
} train_state;

static npde_status checkpoint(train_ctx *c, const train_state *ts, const npde_mat *M, const npde_mat *V,
                              const history *h) {
  npde_npz_writer *w = NULL;
  NPDE_TRY(npde__checkpoint_begin(c->rs, c->rs->stage_index, &w));
  if (!w) return NPDE_OK;
  double *mv = malloc(2 * (size_t)c->p * sizeof *mv);
  npde_status st = mv ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK) st = npde_backend_download(c->be, mv, M->data, (size_t)c->p * sizeof *mv);
  if (st == NPDE_OK) st = npde_backend_download(c->be, mv + c->p, V->data, (size_t)c->p * sizeof *mv);
  const int64_t ints[3] = {ts->epoch, ts->step, ts->cg_total}, ni = 3, nr = 2, two[2] = {2, c->p},
                hs[2] = {h->n, 6};
  const double reals[2] = {ts->lambda, ts->elapsed};
  if (st == NPDE_OK) st = npde_npz_add(w, "train.ints", NPDE_NPY_I64, ints, 1, &ni);
  if (st == NPDE_OK) st = npde_npz_add(w, "train.reals", NPDE_NPY_F64, reals, 1, &nr);
  if (st == NPDE_OK) st = npde_npz_add(w, "train.adam", NPDE_NPY_F64, mv, 2, two);
  if (st == NPDE_OK) st = npde_npz_add(w, "train.history", NPDE_NPY_F64, h->v, 2, hs);
  free(mv);
  if (st == NPDE_OK) st = npde_npz_commit(&w);
  else npde_npz_abort(&w);
  return st;
}

/* The train part of the checkpoint being resumed, if it has one (*found). */
static npde_status load_checkpoint(train_ctx *c, train_state *ts, npde_mat *M, npde_mat *V, history *h,
                                   bool *found) {
  *found = false;
  const char *path = c->rs->resume_from;
  if (!path) return NPDE_OK;
  npde_npy_array in = {0}, re = {0}, ad = {0}, hi = {0};
  npde_status st = npde_npz_read(path, "train.ints", &in);
  if (st == NPDE_ERR_NOT_FOUND) {
    npde_clear_error();
    return NPDE_OK; /* checkpointed before this stage began */
  }
  if (st == NPDE_OK) st = npde_npz_read(path, "train.reals", &re);
  if (st == NPDE_OK) st = npde_npz_read(path, "train.adam", &ad);
  if (st == NPDE_OK) st = npde_npz_read(path, "train.history", &hi);
  if (st == NPDE_OK && (in.count != 3 || re.count != 2 || ad.count != 2 * c->p || in.type != NPDE_NPY_I64 ||
                        re.type != NPDE_NPY_F64 || ad.type != NPDE_NPY_F64 || hi.type != NPDE_NPY_F64 ||
                        hi.count % 6 != 0))
    st = NPDE_ERROR(NPDE_ERR_IO, "checkpoint '%s': the train state does not match this run (%lld parameters)", path,
                    (long long)c->p);
  if (st == NPDE_OK) {
    const int64_t *iv = in.data;
    const double *rv = re.data, *mv = ad.data;
    *ts = (train_state){.epoch = iv[0], .step = iv[1], .cg_total = iv[2], .lambda = rv[0], .elapsed = rv[1]};
    st = npde_backend_upload(c->be, M->data, mv, (size_t)c->p * sizeof(double));
    if (st == NPDE_OK) st = npde_backend_upload(c->be, V->data, mv + c->p, (size_t)c->p * sizeof(double));
    for (int64_t r = 0; st == NPDE_OK && r < hi.count / 6; ++r) st = history_add(h, (const double *)hi.data + 6 * r);
    *found = st == NPDE_OK;
  }
  npde_npy_array_free(&in);
  npde_npy_array_free(&re);
  npde_npy_array_free(&ad);
  npde_npy_array_free(&hi);
  return st;
}

static npde_status train_preflight(const npde_run_ctx *rs, const npde_config *params) {
  NPDE_TRY(npde__stage_needs(rs, params, "train", NPDE__NEEDS_NETWORK));
  if (npde_pde_get_info(rs->pde).sides != 2)
    return npde_config_error(params, "train: the pde is not a discrete interface PDE (train needs one such as "
                                     "nbm-interface; time-dependent PDEs use fit and evolve)");
  if (npde_network_outputs(rs->net) != 2 || npde_network_dim(rs->net) != 3)
    return npde_config_error(params, "train: the network needs 3 inputs and 2 outputs (inside, outside)");
  const char *optimizer;
  int64_t N, n_random;
  NPDE_TRY(npde_config_get_string(params, "optimizer", &optimizer));
  if (strcmp(optimizer, "gauss-newton") == 0 && !rs->linsolver)
    return npde_config_error(params, "train: optimizer gauss-newton solves its steps with the pipeline's linsolver: "
                                     "add 'linsolver: {type: cg}' (and optionally 'precond: {type: nystrom}')");
  NPDE_TRY(npde_config_get_int(params, "n", &N));
  NPDE_TRY(npde_config_get_int(params, "random_points", &n_random));
  /* the grid's nodes with their exact, level-set and network values; the training points and their linearisation */
  const double n_grid = (double)N * (double)N * (double)N, points = n_random > 0 ? (double)n_random : n_grid;
  return npde__memory_fits(npde_config_get(params, n_random > 0 ? "random_points" : "n"),
                           "train: the grid and the training points",
                           48.0 * n_grid + points * (24.0 + (double)npde_network_point_bytes(rs->net)));
}

static npde_status train_run(npde_run_ctx *rs, const npde_config *params) {
  train_ctx c = {.rs = rs, .be = rs->backend, .net = rs->net, .pde = rs->pde};
  c.info = npde_pde_get_info(rs->pde);
  int64_t N, n_random, epochs, batch, levels, switching, error_every;
  double lr, decay, decay_steps, clip, damping, log_every, divergence;
  bool shuffle_on;
  const char *points, *optimizer, *schedule;
  NPDE_TRY(npde_config_get_int(params, "n", &N));
  NPDE_TRY(npde_config_get_int(params, "random_points", &n_random));
  NPDE_TRY(npde_config_get_int(params, "epochs", &epochs));
  NPDE_TRY(npde_config_get_int(params, "batch", &batch));
  NPDE_TRY(npde_config_get_int(params, "levels", &levels));
  NPDE_TRY(npde_config_get_int(params, "switching", &switching));
  NPDE_TRY(npde_config_get_int(params, "error_every", &error_every));
  NPDE_TRY(npde_config_get_real(params, "lr", &lr));
  NPDE_TRY(npde_config_get_real(params, "decay", &decay));
  NPDE_TRY(npde_config_get_real(params, "decay_steps", &decay_steps));
  NPDE_TRY(npde_config_get_real(params, "clip", &clip));
  NPDE_TRY(npde_config_get_real(params, "divergence", &divergence));
  NPDE_TRY(npde_config_get_real(params, "damping", &damping));
  NPDE_TRY(npde_config_get_real(params, "log_every", &log_every));
  NPDE_TRY(npde_config_get_bool(params, "shuffle", &shuffle_on));
  NPDE_TRY(npde_config_get_string(params, "points", &points));
  NPDE_TRY(npde_config_get_string(params, "optimizer", &optimizer));
  NPDE_TRY(npde_config_get_string(params, "schedule", &schedule));
  const bool gn = strcmp(optimizer, "gauss-newton") == 0;
  c.p = npde_network_n_params(rs->net);
  c.levels = (int)levels;
  c.grid = npde_pde_box_grid(c.pde, N);
  const double t0 = npde__now_seconds();
  npde_status st = make_points(&c, N, strcmp(points, "random") == 0, n_random);
  if (batch <= 0 || batch > c.n_points) batch = c.n_points;
  const int64_t n_batches = (c.n_points + batch - 1) / batch;
  const bool full = n_batches == 1;
  /* one batch of all points on several ranks: each rank's stencils cover only its own slice */
  c.sliced = full && npde_comm_size() > 1;
  c.slice_first = 0;
  c.slice_n = c.n_points;
  if (c.sliced) npde_comm_slice(c.n_points, 1, &c.slice_first, &c.slice_n);
  if (st == NPDE_OK && c.slice_n < 1)
    st = npde_config_error(params, "train: %lld points leave rank %d of %d without any", (long long)c.n_points,
                           npde_comm_rank(), npde_comm_size());
  c.loss = st == NPDE_OK ? calloc((size_t)levels, sizeof *c.loss) : NULL;
  if (st == NPDE_OK && !c.loss) st = NPDE_ERROR(NPDE_ERR_NOMEM, "train: out of memory");
  for (int l = 0; st == NPDE_OK && l < c.levels; ++l) {
    const double *h0 = c.grid.spacing;
    const double h[3] = {h0[0] / (double)(1 << l), h0[1] / (double)(1 << l), h0[2] / (double)(1 << l)};
    st = npde_discrete_loss_create(c.pde, c.net, c.points + 3 * c.slice_first, c.slice_n, h, &c.loss[l]);
    int64_t samples = 0, crossed = 0, weights = 0;
    npde_discrete_loss_sizes(c.loss[l], &samples, &crossed, &weights);
    if (st == NPDE_OK)
      npde_log(NPDE_LOG_INFO, "train: level %d (h = %.4g): %lld points, %lld crossed stencils, %lld distinct samples, "
               "%lld weights%s", l, h[0], (long long)c.slice_n, (long long)crossed, (long long)samples,
               (long long)weights, c.sliced ? " (this rank's slice)" : "");
  }
  int64_t *perm = st == NPDE_OK ? malloc((size_t)c.n_points * sizeof *perm) : NULL;
  if (st == NPDE_OK && !perm) st = NPDE_ERROR(NPDE_ERR_NOMEM, "train: out of memory");
  for (int64_t i = 0; st == NPDE_OK && i < c.n_points; ++i) perm[i] = i;
  if (st == NPDE_OK)
    npde_log(NPDE_LOG_INFO, "train: %s, %lld collocation points in %lld batch%s, %lld epochs, %d level%s; set up in "
             "%.2f s", gn ? "Gauss-Newton" : "Adam", (long long)c.n_points, (long long)n_batches,
             n_batches == 1 ? "" : "es", (long long)epochs, c.levels, c.levels == 1 ? "" : "s",
             npde__now_seconds() - t0);

  /* optimiser state, and the last good epoch's parameters and moments (kept when the loss diverges) */
  void *g = NULL, *d = NULL, *th = NULL, *good_th = NULL, *good_m = NULL, *good_v = NULL;
  void **bufs[] = {&g, &d, &th, &good_th, &good_m, &good_v};
  npde__adam adam = {0};
  for (size_t i = 0; i < 6 && st == NPDE_OK; ++i) st = npde_backend_alloc(c.be, (size_t)c.p * sizeof(double), bufs[i]);
  if (st == NPDE_OK) st = npde__adam_init(&adam, c.be, c.p);
  npde_mat theta = npde_mat_view(rs->theta, NPDE_F64, c.p, 1), G = npde_mat_view(g, NPDE_F64, c.p, 1),
           D = npde_mat_view(d, NPDE_F64, c.p, 1), TH = npde_mat_view(th, NPDE_F64, c.p, 1);
  double lambda = damping > 0 ? damping : 1e-3;
  int64_t step = 0, cg_total = 0, e0 = 0;
  history hist = {0};
  double loss = NAN, rmse = NAN, linf = NAN, last_log = t0, last_live = 0.0, elapsed0 = 0.0;
  train_state ts = {0};
  bool resumed = false;
  if (st == NPDE_OK) st = load_checkpoint(&c, &ts, &adam.m, &adam.v, &hist, &resumed);
  if (resumed) {
    e0 = ts.epoch, step = ts.step, cg_total = ts.cg_total, lambda = ts.lambda, elapsed0 = ts.elapsed;
    if (hist.n > 0) loss = hist.v[6 * (hist.n - 1) + 2];
    npde_log(NPDE_LOG_INFO, "train: resuming after epoch %lld of %lld", (long long)e0, (long long)epochs);
  }
  const double train_t0 = npde__now_seconds() - elapsed0;
  double last_ckpt = npde__now_seconds();
  const bool live = npde__log_live();
  npde_mat GTH = npde_mat_view(good_th, NPDE_F64, c.p, 1), GM = npde_mat_view(good_m, NPDE_F64, c.p, 1),
           GV = npde_mat_view(good_v, NPDE_F64, c.p, 1);
  train_state good = {.epoch = e0, .step = step, .cg_total = cg_total, .lambda = lambda, .elapsed = elapsed0};
  double lowest = INFINITY;
  for (int64_t i = 0; i < hist.n; ++i) lowest = fmin(lowest, hist.v[6 * i + 2]);
  int64_t lowest_epoch = e0;
  if (st == NPDE_OK) st = keep_good(c.be, &theta, &adam, &GTH, &GM, &GV);
  for (int64_t e = e0; st == NPDE_OK && e < epochs; ++e) {
    const int level = level_of(e, epochs, c.levels, strcmp(schedule, "cycle") == 0);
    const double *mask = switching <= 1 ? NULL : c.masks[e % switching == 0 ? 0 : 1];
    if (shuffle_on && !full) shuffle(perm, c.n_points, rs->seed, e);
    double epoch_loss = 0.0;
    int64_t epoch_cg = 0;
    for (int64_t b = 0; st == NPDE_OK && b < n_batches; ++b) {
      const int64_t r0 = b * batch, nr = r0 + batch > c.n_points ? c.n_points - r0 : batch;
      const int64_t *rows = full ? NULL : perm + r0;
      double bl = 0.0;
      st = batch_loss(&c, c.loss[level], &theta, rows, nr, mask, &bl, &G);
      if (st == NPDE_OK && !gn) {
        const double lr_k = lr * pow(decay, (double)step / decay_steps);
        st = npde__adam_step(&adam, &theta, &G, lr_k, clip, step + 1);
      } else if (st == NPDE_OK) {
        int64_t cg = 0;
        st = gauss_newton_step(&c, c.loss[level], rows, nr, mask, &theta, &G, &D, &TH, (uint64_t)step, &lambda, &bl,
                               &cg);
        epoch_cg += cg;
      }
      epoch_loss += bl * (double)nr;
      step++;
    }
    if (st == NPDE_OK) st = npde__comm_check_replicated(c.be, &theta, &c.reduce, "parameters");
    if (st != NPDE_OK) break;
    cg_total += epoch_cg;
    loss = epoch_loss / (double)c.n_points;
    if (divergence > 0 && (!isfinite(loss) || loss > divergence * lowest)) {
      /* back to the last good epoch, which the checkpoint keeps for a resume with other settings */
      st = keep_good(c.be, &GTH, &(npde__adam){.m = GM, .v = GV}, &theta, &adam.m, &adam.v);
      if (st == NPDE_OK && rs->dir) st = checkpoint(&c, &good, &adam.m, &adam.v, &hist);
      if (st == NPDE_OK)
        st = NPDE_ERROR(NPDE_ERR_NO_RETRY, "train: the loss diverges at epoch %lld: %.3e, against %.3e at epoch %lld "
                        "(train.divergence: %g times the lowest stops the run); the parameters of epoch %lld are "
                        "kept%s. Lower train.lr (now %g), set train.clip (now %g; 0 is no clipping) or lower "
                        "train.decay (a faster decay)", (long long)(e + 1), loss, lowest, (long long)lowest_epoch, divergence,
                        (long long)good.epoch, rs->dir ? " in the checkpoint: `npde resume DIR train.lr=...` goes on" : "",
                        lr, clip);
      break;
    }
    if (loss < lowest) lowest = loss, lowest_epoch = e + 1;
    const bool measure = (error_every > 0 && (e + 1) % error_every == 0) || e + 1 == epochs;
    if (measure) st = grid_errors(&c, &rmse, &linf);
    const double now = npde__now_seconds(), wall = now - train_t0;
    const double row[6] = {(double)(e + 1), level, loss, measure ? rmse : NAN, measure ? linf : NAN, wall};
    if (st == NPDE_OK) st = history_add(&hist, row);
    if (st == NPDE_OK)
      st = npde__metrics_row(rs, "epoch,level,h,loss,rmse,linf,lambda,cg_iterations,wall_s",
                             "%lld,%d,%.9g,%.9e,%.9e,%.9e,%.3e,%lld,%.3f", (long long)(e + 1), level,
                             c.grid.spacing[0] / (double)(1 << level), loss, row[3], row[4], gn ? lambda : NAN,
                             (long long)epoch_cg, wall);
    if (st != NPDE_OK) break;
    const double per = wall / (double)(e + 1);
    char line[256];
    snprintf(line, sizeof line, "train: epoch %lld/%lld  loss %.3e  RMSE %.3e  Linf %.3e  %.3g s/epoch, ~%.0f s left",
             (long long)(e + 1), (long long)epochs, loss, rmse, linf, per, per * (double)(epochs - e - 1));
    if (live && now - last_live >= 0.2) {
      npde__log_progress("%s", line);
      last_live = now;
    }
    if (now - last_log >= log_every || e + 1 == epochs) {
      if (live) npde__log_file("%s", line);
      else npde_log(NPDE_LOG_INFO, "%s", line);
      last_log = now;
    }
    if (rs->dir && e + 1 < epochs && now - last_ckpt >= rs->checkpoint_every) {
      const train_state now_state = {.epoch = e + 1, .step = step, .cg_total = cg_total, .lambda = lambda,
                                     .elapsed = wall};
      st = checkpoint(&c, &now_state, &adam.m, &adam.v, &hist);
      last_ckpt = npde__now_seconds();
    }
    if (st == NPDE_OK) {
      good = (train_state){.epoch = e + 1, .step = step, .cg_total = cg_total, .lambda = lambda, .elapsed = wall};
      st = keep_good(c.be, &theta, &adam, &GTH, &GM, &GV);
    }
    if (st == NPDE_OK && e + 1 < epochs && npde__stop_requested()) {
      const train_state now_state = {.epoch = e + 1, .step = step, .cg_total = cg_total, .lambda = lambda,
                                     .elapsed = wall};
      if (rs->dir) st = checkpoint(&c, &now_state, &adam.m, &adam.v, &hist);
      if (st == NPDE_OK)
        st = NPDE_ERROR(NPDE_ERR_INTERRUPTED, "train: stopped on request after epoch %lld of %lld", (long long)(e + 1),
                        (long long)epochs);
    }
  }
  npde__log_progress_end();
  const double train_s = npde__now_seconds() - train_t0;
  if (st == NPDE_OK && (epochs == 0 || e0 >= epochs)) st = grid_errors(&c, &rmse, &linf);
  if (st == NPDE_OK) {
    npde__metric(rs, "train.n", (double)N);
    npde__metric(rs, "train.loss", loss);
    npde__metric(rs, "train.rmse", rmse);
    npde__metric(rs, "train.linf", linf);
    npde__metric(rs, "train.seconds", train_s);
    npde__metric(rs, "train.seconds_per_epoch", epochs > 0 ? train_s / (double)epochs : NAN);
    if (gn) npde__metric(rs, "train.cg_iterations", (double)cg_total);
    const int64_t shape[2] = {hist.n, 6};
    if (hist.n > 0) st = npde__result_put(rs, "train_history", NPDE_NPY_F64, hist.v, 2, shape);
    if (c.exact)
      npde_log(NPDE_LOG_INFO, "train: %lld epochs in %.1f s (%.3g s/epoch): loss %.3e, RMSE %.3e, Linf %.3e against "
               "the exact solution on the %lld^3 grid", (long long)epochs, train_s,
               epochs ? train_s / (double)epochs : 0.0, loss, rmse, linf, (long long)N);
    else
      npde_log(NPDE_LOG_INFO, "train: %lld epochs in %.1f s (%.3g s/epoch): loss %.3e (no exact solution: eval's "
               "reference: grid measures the error)", (long long)epochs, train_s,
               epochs ? train_s / (double)epochs : 0.0, loss);
  }
  free(hist.v);
  free(perm);
  for (size_t i = 0; i < 6; ++i) npde_backend_free(c.be, *bufs[i]);
  npde__adam_free(&adam);
  ctx_free(&c);
  return st;
}

const npde_stage npde__stage_train = {
    .name = "train",
    .summary = "Neural Bootstrapping Method: train the inside/outside networks on the discrete residual",
    .params = train_params,
    .run = train_run,
    .preflight = train_preflight,
};
