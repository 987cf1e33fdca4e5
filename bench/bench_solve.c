/* Time to tolerance for the linear solve of docs/methods/neural-ivp.md §4: the dense
 * Cholesky baseline (linsolver dense) against Nystrom-preconditioned CG
 * (precond nystrom + linsolver cg) and plain CG, on (A + mu_a I) x = b.
 *
 * Families (b ~ N(0, I), mu_a = mu * lambda_max with mu = 1e-8 relative, the
 * advection script's value, and p = 5000 once more with mu = 1e-6, the
 * solver API's default; lambda_max from a rank-200 sketch):
 *   explicit, p = 2000, 5000: A = Q diag(lambda) Q^T stored densely on the
 *     backend and applied by gemv/gemm, lambda_i = 10^(-6 i/200): the
 *     10^(-6 i/p) family of the tests with a fixed decay length (6 decades
 *     over the first 200 eigenvalues, then the same geometric decay), so that
 *     about 270 eigenvalues lie above mu_a, like the fast-decaying spectra of
 *     M-hat. Q is a product of 4 Householder reflectors (built in O(p^2));
 *     CG, the Gaussian sketch and Cholesky are rotation invariant, so only
 *     the spectrum and the cost of a product matter.
 *   low-rank plus decay, p = 20000, matrix-free: A = G diag(s) G^T + diag(t),
 *     G p x 400 Gaussian / sqrt(p), s_i = 10^(-6 i/200), t_j in
 *     [0.5, 1.5] 1e-9 (below mu_a); no p^2 storage. The dense solver is
 *     given max_memory_mb = 2048 and refuses (its message is printed).
 * Every method's time includes all of its operator products (dense: p
 * columns, Cholesky, solve, residual check; PCG: the sketch of l columns,
 * the factorisation and the iterations). Medians of --reps repeats; the
 * residual is the true ||b - (A + mu_a I) x|| / ||b||, recomputed after
 * timing.
 *
 * CG runs stop at --max-iters (2000); a run that hits the cap is reported
 * NOT CONVERGED with the residual it reached, and is not repeated.
 *
 * Network section (the real operator, as Neural IVP solves it): M = J^T J / n
 * of a network at its initialisation (npde_network_init, seed 0) on n = 5000
 * uniform points of [-1, 1]^d (npde_linearization_operator), and the system
 * (M + mu_a I) x = F, F = J^T f / n (npde_linearization_vjp with alpha 1/n)
 * for a per-point f: by default the smooth
 *   f_k(x) = exp(-|x|^2 / 2) sin(pi (x_0 + k / 2)) + 0.5 cos(pi x_{d-1} / 2),
 * or (--rhs normal) f ~ N(0, 1). Networks {envelope: dirichlet, outputs: K,
 * layers: [{type: sinusoidal, frequencies: 5}, {type: mlp, width: W, depth: 3,
 * activation: swish}]}: p = K (2 L d W + W + 2 (W^2 + W) + W + 1), L = 5; in
 * d = 2, K = 1 the widths whose p is nearest 2 000 and 5 000 (W = 26: p =
 * 1977; W = 44: p = 4929). mu_a = mu lambda_max, mu = --net-mu (1e-6, the
 * solver API's default) relative: the Nystrom preconditioners are built with
 * mu_mode relative as the method builds them, and the shift reported by the
 * first rank-200 setup (seed 1, counter 0) is passed to every solve (dense,
 * PCG of every rank and repeat, plain CG), so that all methods solve the same
 * system; the spread of the shifts the other setups computed for themselves
 * is printed. Methods: dense (the dense linsolver: p operator columns in
 * blocks of 256, Cholesky), nystrom-pcg ranks 50, 200, 350, plain cg (capped
 * at --max-iters). The linearisation (one forward pass with caches) and F
 * are common to all methods and timed separately. A method is repeated
 * (--reps, medians) only while one run stays under --rep-budget seconds (20):
 * the dense build at p = 4929 (4929 products) and capped CG runs are measured
 * once; the runs column says how often. --paper adds the paper's network (d =
 * 3, K = 2, L = 5, width 100, depth 3: p = 46 802) at n = 20 000: rank-200
 * PCG only (one run), the dense solver attempted (it refuses: memory), and the
 * time per M v seen on the way (setup / sketch products; solve / iterations).
 *
 *   bench_solve [--backend cpu] [--reps 3] [--tol 1e-8] [--mu 1e-8] [--max-iters 2000] [--quick]
 *               [--network-only | --no-network] [--paper] [--net-mu 1e-6] [--rhs smooth|normal]
 *               [--rep-budget 20]
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npde/npde.h"

#define BENCH_NAME "bench_solve"
#include "bench_util.h"

/* Median of v[0..n) without reordering v (n <= 64). */
static double median_kept(const double *v, int n) {
  double tmp[64];
  memcpy(tmp, v, (size_t)n * sizeof *v);
  return median(tmp, n);
}

/* ------------------------------------------------------------ operators */

typedef struct explicit_op {
  npde_backend *be;
  void *a; /* p x p */
  int64_t p;
} explicit_op;

static npde_status explicit_matvec(void *ctx, const npde_mat *x, npde_mat *y) {
  explicit_op *o = ctx;
  npde_mat A = npde_mat_view(o->a, NPDE_F64, o->p, o->p);
  return npde_backend_gemv(o->be, NPDE_NO_TRANS, 1.0, &A, x, 0.0, y);
}

static npde_status explicit_matmat(void *ctx, const npde_mat *X, npde_mat *Y) {
  explicit_op *o = ctx;
  npde_mat A = npde_mat_view(o->a, NPDE_F64, o->p, o->p);
  return npde_backend_gemm(o->be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &A, X, 0.0, Y);
}

/* A = Q diag(lambda) Q^T, Q = H_1 ... H_k, on the host: A <- H A H as the
 * rank-2 update A - 2 v w^T - 2 w v^T + 4 (v^T w) v v^T with w = A v. */
static double *explicit_matrix(int64_t p, const double *lambda, int reflectors, unsigned seed) {
  double *A = calloc((size_t)(p * p), sizeof *A), *v = malloc((size_t)p * sizeof *v), *w = malloc((size_t)p * sizeof *w);
  if (!A || !v || !w) { fprintf(stderr, "bench_solve: out of memory\n"); exit(1); }
  for (int64_t i = 0; i < p; ++i) A[i * p + i] = lambda[i];
  uint64_t s = 0x9E3779B97F4A7C15ull * (seed + 1);
  for (int h = 0; h < reflectors; ++h) {
    for (int64_t i = 0; i < p; ++i) { /* a Gaussian direction (Box-Muller on xorshift) */
      double u[2];
      for (int k = 0; k < 2; ++k) {
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        u[k] = ((double)((s * 2685821657736338717ull) >> 11) + 0.5) * 0x1.0p-53;
      }
      v[i] = sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
    }
    cblas_dscal((int)p, 1.0 / cblas_dnrm2((int)p, v, 1), v, 1);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)p, (int)p, 1.0, A, (int)p, v, 1, 0.0, w, 1);
    double vw = cblas_ddot((int)p, v, 1, w, 1);
    cblas_daxpy((int)p, -vw, v, 1, w, 1); /* w <- w - (v^T w) v: A - 2 v w'^T - 2 w' v^T */
    cblas_dger(CblasRowMajor, (int)p, (int)p, -2.0, v, 1, w, 1, A, (int)p);
    cblas_dger(CblasRowMajor, (int)p, (int)p, -2.0, w, 1, v, 1, A, (int)p);
  }
  free(v);
  free(w);
  return A;
}

typedef struct lowrank_op {
  npde_backend *be;
  void *g, *s, *t, *w; /* p x k, k, p, k x wcols */
  int64_t p, k, wcols;
} lowrank_op;

static npde_status lowrank_apply(lowrank_op *o, const npde_mat *X, npde_mat *Y) {
  npde_mat G = npde_mat_view(o->g, NPDE_F64, o->p, o->k), s = npde_mat_view(o->s, NPDE_F64, o->k, 1);
  npde_mat t = npde_mat_view(o->t, NPDE_F64, o->p, 1), W = npde_mat_view(o->w, NPDE_F64, o->k, X->cols);
  if (X->cols > o->wcols) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "lowrank operator: block too wide");
  NPDE_TRY(npde_backend_gemm(o->be, NPDE_TRANS, NPDE_NO_TRANS, 1.0, &G, X, 0.0, &W));
  NPDE_TRY(npde_backend_row_scale(o->be, &s, &W, &W, 1));
  NPDE_TRY(npde_backend_row_scale(o->be, &t, X, Y, 1));
  NPDE_TRY(npde_backend_gemm(o->be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &G, &W, 1.0, Y));
  return NPDE_OK;
}

static npde_status lowrank_matvec(void *ctx, const npde_mat *x, npde_mat *y) {
  lowrank_op *o = ctx;
  /* vectors may be strided: use gemv */
  npde_mat G = npde_mat_view(o->g, NPDE_F64, o->p, o->k), s = npde_mat_view(o->s, NPDE_F64, o->k, 1);
  npde_mat t = npde_mat_view(o->t, NPDE_F64, o->p, 1), w = npde_mat_view(o->w, NPDE_F64, o->k, 1);
  NPDE_TRY(npde_backend_gemv(o->be, NPDE_TRANS, 1.0, &G, x, 0.0, &w));
  NPDE_TRY(npde_backend_row_scale(o->be, &s, &w, &w, 1));
  NPDE_TRY(npde_backend_row_scale(o->be, &t, x, y, 1));
  NPDE_TRY(npde_backend_gemv(o->be, NPDE_NO_TRANS, 1.0, &G, &w, 1.0, y));
  return NPDE_OK;
}

static npde_status lowrank_matmat(void *ctx, const npde_mat *X, npde_mat *Y) { return lowrank_apply(ctx, X, Y); }

/* ------------------------------------------------------------- methods */

typedef struct setup {
  npde_registry *reg;
  npde_backend *be;
  double tol, mu;
  int reps, max_iters;
} setup;

typedef struct result {
  double setup_s, solve_s, total_s, iters, residual, reported;
  npde_status status;
  char note[512];
  /* filled by run_ex */
  int runs;                /* timed runs behind the medians */
  double products;         /* median operator products of the Nystrom setup */
  double shift_lo, shift_hi; /* range of the shifts the setups computed for themselves */
  double lambda_max;       /* the first setup's lambda_max estimate */
} result;

/* How run_ex repeats and sets the preconditioner up. */
typedef struct run_opts {
  int reps;
  double rep_budget_s; /* no further repeat once a run took longer than this */
  double rel_mu;       /* > 0: nystrom with mu_mode relative and this mu (else absolute at the shift) */
} run_opts;

static npde_linsolver *make_linsolver(setup *S, const char *yaml) {
  npde_config *cfg = NULL;
  npde_linsolver *ls = NULL;
  CHECK(npde_config_load_string(yaml, "<bench>", &cfg));
  CHECK(npde_linsolver_create(S->reg, NULL, cfg, S->be, &ls));
  npde_config_destroy(&cfg);
  return ls;
}

static npde_precond *make_precond(setup *S, const char *yaml) {
  npde_config *cfg = NULL;
  npde_precond *pc = NULL;
  CHECK(npde_config_load_string(yaml, "<bench>", &cfg));
  CHECK(npde_precond_create(S->reg, NULL, cfg, S->be, &pc));
  npde_config_destroy(&cfg);
  return pc;
}

/* ||b - (A + shift I) x|| / ||b|| on the backend. */
static double true_residual(setup *S, const npde_linop *A, double shift, const npde_mat *b, const npde_mat *x,
                            npde_mat *tmp) {
  double rn, bn;
  CHECK(A->matvec(A->ctx, x, tmp));
  CHECK(npde_backend_axpy(S->be, shift, x, tmp));
  CHECK(npde_backend_scal(S->be, -1.0, tmp));
  CHECK(npde_backend_axpy(S->be, 1.0, b, tmp));
  CHECK(npde_backend_nrm2(S->be, tmp, &rn));
  CHECK(npde_backend_nrm2(S->be, b, &bn));
  return rn / bn;
}

typedef enum method { M_DENSE, M_PCG, M_CG } method;

/* Median over repeats of one method; x is zeroed before each solve. The
 * solve uses *shift; when *shift is NaN (PCG only) it is set from the first
 * setup's reported shift and kept for the later repeats. */
static result run_ex(setup *S, method m, int64_t rank, const npde_linop *A, double *shift, const npde_mat *b,
                     npde_mat *x, npde_mat *tmp, const char *dense_yaml, const run_opts *o) {
  result r = {.shift_lo = INFINITY, .shift_hi = -INFINITY};
  double ts[64], tv[64], tt[64], it[64], pr[64];
  char yaml[256];
  if (isnan(*shift) && m != M_PCG) {
    fprintf(stderr, "bench_solve: no shift for a method without a preconditioner\n");
    exit(1);
  }
  snprintf(yaml, sizeof yaml, "{type: cg, tol: %g, max_iters: %d, warm_start: false}", S->tol, S->max_iters);
  npde_linsolver *ls = make_linsolver(S, m == M_DENSE ? dense_yaml : yaml);
  npde_precond *pc = NULL;
  if (m == M_PCG) {
    if (o->rel_mu > 0.0)
      snprintf(yaml, sizeof yaml, "{type: nystrom, rank: %lld, mu: %.17g, mu_mode: relative}", (long long)rank,
               o->rel_mu);
    else
      snprintf(yaml, sizeof yaml, "{type: nystrom, rank: %lld, mu: %.17g, mu_mode: absolute}", (long long)rank,
               *shift);
    pc = make_precond(S, yaml);
  }
  int done = 0;
  for (int rep = 0; rep < o->reps && rep < 64; ++rep) {
    npde_solve_stats st = {.struct_size = sizeof st};
    npde_precond_info info = {.struct_size = sizeof info};
    CHECK(npde_backend_fill(S->be, x, 0.0));
    double t0 = now();
    if (pc) CHECK(npde_precond_setup(pc, A, 1, 0, (uint64_t)rep, &info));
    double t1 = now();
    if (pc) {
      if (isnan(*shift)) *shift = info.shift;
      if (rep == 0) r.lambda_max = info.lambda_max;
      r.shift_lo = fmin(r.shift_lo, info.shift), r.shift_hi = fmax(r.shift_hi, info.shift);
    }
    r.status = npde_linsolver_solve(ls, A, *shift, pc, b, x, &st);
    double t2 = now();
    if (r.status < 0) {
      snprintf(r.note, sizeof r.note, "%s", npde_last_error());
      break;
    }
    ts[rep] = t1 - t0, tv[rep] = t2 - t1, tt[rep] = t2 - t0, it[rep] = (double)st.iterations;
    pr[rep] = (double)info.operator_products;
    r.reported = st.rhs_norm > 0.0 ? st.residual_norm / st.rhs_norm : 0.0;
    done = rep + 1;
    if (r.status == NPDE_NOT_CONVERGED) break; /* hitting the cap takes the same time again: one run */
    if (t2 - t0 > o->rep_budget_s) break;      /* too dear to repeat */
  }
  r.runs = done;
  if (r.status >= 0) {
    r.setup_s = median_kept(ts, done), r.solve_s = median_kept(tv, done), r.total_s = median_kept(tt, done);
    r.iters = median_kept(it, done), r.products = median_kept(pr, done);
    r.residual = true_residual(S, A, *shift, b, x, tmp);
  }
  npde_precond_destroy(&pc);
  npde_linsolver_destroy(&ls);
  return r;
}

/* The explicit-matrix section's runs: absolute Nystrom shift, --reps repeats. */
static result run(setup *S, method m, int64_t rank, const npde_linop *A, double shift, const npde_mat *b, npde_mat *x,
                  npde_mat *tmp, const char *dense_yaml) {
  run_opts o = {.reps = S->reps, .rep_budget_s = INFINITY, .rel_mu = 0.0};
  return run_ex(S, m, rank, A, &shift, b, x, tmp, dense_yaml, &o);
}

static void print_row(int64_t p, const char *name, int64_t rank, const result *r) {
  char rk[16] = "-", its[16] = "-";
  if (rank) snprintf(rk, sizeof rk, "%lld", (long long)rank);
  if (r->status < 0) {
    printf("%7lld  %-12s %5s  %-s\n", (long long)p, name, rk, r->note);
    return;
  }
  if (strcmp(name, "dense") != 0) snprintf(its, sizeof its, "%.0f", r->iters);
  printf("%7lld  %-12s %5s %6s %9.3f %9.3f %9.3f %10.2e %10.2e  %s\n", (long long)p, name, rk, its, r->setup_s,
         r->solve_s, r->total_s, r->residual, r->reported, r->status == NPDE_OK ? "ok" : "NOT CONVERGED");
}

/* lambda_max by a rank-200 sketch, then mu_a = mu lambda_max. */
static double relative_shift(setup *S, const npde_linop *A) {
  npde_precond *pc = make_precond(S, "{type: nystrom, rank: 200, mu: 1.0, mu_mode: relative}");
  npde_precond_info info = {.struct_size = sizeof info};
  CHECK(npde_precond_setup(pc, A, 7, 0, 0, &info));
  npde_precond_destroy(&pc);
  return S->mu * info.lambda_max;
}

static const int64_t RANKS[] = {50, 200, 350};
#define NRANKS 3

/* Runs every method on one problem; returns dense and rank-200 PCG totals. */
static void run_problem(setup *S, const char *label, const npde_linop *A, bool with_dense, bool with_cg,
                        const char *dense_yaml, double *dense_total, double *pcg200_total) {
  const int64_t p = A->n;
  void *bd, *xd, *td;
  CHECK(npde_backend_alloc(S->be, (size_t)p * sizeof(double), &bd));
  CHECK(npde_backend_alloc(S->be, (size_t)p * sizeof(double), &xd));
  CHECK(npde_backend_alloc(S->be, (size_t)p * sizeof(double), &td));
  npde_mat b = npde_mat_view(bd, NPDE_F64, p, 1), x = npde_mat_view(xd, NPDE_F64, p, 1);
  npde_mat t = npde_mat_view(td, NPDE_F64, p, 1);
  CHECK(npde_backend_rng_normal(S->be, 11, 0, 0, 0.0, 1.0, &b));
  double shift = relative_shift(S, A);
  printf("%7lld  %s; mu = %g, mu_a = %.3e\n", (long long)p, label, S->mu, shift);
  fflush(stdout);
  result r = run(S, M_DENSE, 0, A, shift, &b, &x, &t, dense_yaml);
  if (with_dense || r.status >= 0) {
    print_row(p, "dense", 0, &r);
    if (dense_total) *dense_total = r.status == NPDE_OK ? r.total_s : NAN;
  } else {
    printf("%7lld  %-12s %5s  refused: %s\n", (long long)p, "dense", "-", r.note);
  }
  fflush(stdout);
  for (int i = 0; i < NRANKS; ++i) {
    r = run(S, M_PCG, RANKS[i], A, shift, &b, &x, &t, NULL);
    print_row(p, "nystrom-pcg", RANKS[i], &r);
    if (RANKS[i] == 200 && pcg200_total) *pcg200_total = r.total_s;
    fflush(stdout);
  }
  if (with_cg) {
    r = run(S, M_CG, 0, A, shift, &b, &x, &t, NULL);
    print_row(p, "cg", 0, &r);
    fflush(stdout);
  }
  npde_backend_free(S->be, bd);
  npde_backend_free(S->be, xd);
  npde_backend_free(S->be, td);
}

/* ------------------------------------------------------- network section */

typedef struct net_opts {
  double mu;          /* relative regularisation (--net-mu) */
  bool normal_rhs;    /* f ~ N(0, 1) instead of the smooth f */
  double rep_budget_s;
} net_opts;

enum { NET_L = 5, NET_DEPTH = 3 };

/* p of the bench networks: K (2 L d W + W + (depth - 1)(W^2 + W) + W + 1). */
static int64_t net_params(int64_t d, int64_t K, int64_t W) {
  return K * (2 * NET_L * d * W + W + (NET_DEPTH - 1) * (W * W + W) + W + 1);
}

/* The width whose p is nearest target. */
static int64_t net_width_for(int64_t d, int64_t K, int64_t target) {
  int64_t best = 1;
  for (int64_t W = 1; W < 2000; ++W)
    if (llabs(net_params(d, K, W) - target) < llabs(net_params(d, K, best) - target)) best = W;
  return best;
}

static void print_net_row(int64_t p, const char *name, int64_t rank, const result *r, double shift) {
  char rk[16] = "-", its[16] = "-", note[160] = "";
  if (rank) snprintf(rk, sizeof rk, "%lld", (long long)rank);
  if (r->status < 0) {
    printf("%7lld  %-12s %5s  %s\n", (long long)p, name, rk, r->note);
    return;
  }
  if (strcmp(name, "dense") != 0) snprintf(its, sizeof its, "%.0f", r->iters);
  if (rank)
    snprintf(note, sizeof note, "  setup/product %.4f s; own mu_a / mu_a in [%.4f, %.4f]",
             r->products > 0 ? r->setup_s / r->products : NAN, r->shift_lo / shift, r->shift_hi / shift);
  printf("%7lld  %-12s %5s %4d %6s %9.3f %9.3f %9.3f %10.2e %10.2e  %s%s\n", (long long)p, name, rk, r->runs, its,
         r->setup_s, r->solve_s, r->total_s, r->residual, r->reported,
         r->status == NPDE_OK ? "ok" : "NOT CONVERGED", note);
}

/* One network: builds it, its linearisation and F, then runs the methods.
 * paper: rank-200 PCG and the (refused) dense attempt only. */
static void network_case(setup *S, const net_opts *N, int64_t d, int64_t K, int64_t W, int64_t n, bool paper,
                         double *dense_total, double *pcg200_total) {
  char yaml[512];
  snprintf(yaml, sizeof yaml,
           "{envelope: dirichlet, outputs: %lld, layers: [{type: sinusoidal, frequencies: %d}, "
           "{type: mlp, width: %lld, depth: %d, activation: swish}]}",
           (long long)K, NET_L, (long long)W, NET_DEPTH);
  npde_config *cfg = NULL;
  npde_network *net = NULL;
  CHECK(npde_config_load_string(yaml, "<bench_solve network>", &cfg));
  CHECK(npde_network_create(S->reg, cfg, S->be, d, &net));
  const int64_t p = npde_network_n_params(net);
  if (p != net_params(d, K, W)) {
    fprintf(stderr, "bench_solve: network has %lld parameters, formula %lld\n", (long long)p,
            (long long)net_params(d, K, W));
    exit(1);
  }
  void *thb, *xb, *fb, *Fb, *solb, *tb;
  const size_t es = sizeof(double);
  CHECK(npde_backend_alloc(S->be, (size_t)p * es, &thb));
  CHECK(npde_backend_alloc(S->be, (size_t)(n * d) * es, &xb));
  CHECK(npde_backend_alloc(S->be, (size_t)(n * K) * es, &fb));
  CHECK(npde_backend_alloc(S->be, (size_t)p * es, &Fb));
  CHECK(npde_backend_alloc(S->be, (size_t)p * es, &solb));
  CHECK(npde_backend_alloc(S->be, (size_t)p * es, &tb));
  npde_mat theta = npde_mat_view(thb, NPDE_F64, p, 1), X = npde_mat_view(xb, NPDE_F64, n, d);
  npde_mat f = npde_mat_view(fb, NPDE_F64, n, K), F = npde_mat_view(Fb, NPDE_F64, p, 1);
  npde_mat x = npde_mat_view(solb, NPDE_F64, p, 1), t = npde_mat_view(tb, NPDE_F64, p, 1);
  CHECK(npde_network_init(net, &theta, 0));
  CHECK(npde_backend_rng_uniform(S->be, 5, 0, 0, -1.0, 1.0, &X));
  if (N->normal_rhs) {
    CHECK(npde_backend_rng_normal(S->be, 13, 0, 0, 0.0, 1.0, &f));
  } else {
    double *xh = malloc((size_t)(n * d) * es), *fh = malloc((size_t)(n * K) * es);
    if (!xh || !fh) { fprintf(stderr, "bench_solve: out of memory\n"); exit(1); }
    CHECK(npde_backend_download(S->be, xh, xb, (size_t)(n * d) * es));
    for (int64_t i = 0; i < n; ++i) {
      const double *xi = xh + i * d;
      double r2 = 0.0;
      for (int64_t j = 0; j < d; ++j) r2 += xi[j] * xi[j];
      for (int64_t k = 0; k < K; ++k)
        fh[i * K + k] = exp(-0.5 * r2) * sin(3.141592653589793 * (xi[0] + 0.5 * (double)k)) +
                        0.5 * cos(1.5707963267948966 * xi[d - 1]);
    }
    CHECK(npde_backend_upload(S->be, fb, fh, (size_t)(n * K) * es));
    free(xh);
    free(fh);
  }

  npde_linearization *lin = NULL;
  double t0 = now();
  CHECK(npde_linearization_create(net, &theta, &X, &lin));
  double t_lin = now() - t0;
  t0 = now();
  CHECK(npde_linearization_vjp(lin, &f, 1.0 / (double)n, 0.0, &F));
  double t_rhs = now() - t0, Fn;
  CHECK(npde_backend_nrm2(S->be, &F, &Fn));
  npde_linop A = npde_linearization_operator(lin);
  /* one M v on a p x 1 vector (what a CG iteration does), median of 3 (1 for the paper's size) */
  double tmv[3];
  const int nmv = paper ? 1 : 3;
  CHECK(npde_backend_rng_normal(S->be, 17, 0, 0, 0.0, 1.0, &x));
  for (int i = 0; i < nmv; ++i) {
    t0 = now();
    CHECK(A.matvec(A.ctx, &x, &t));
    tmv[i] = now() - t0;
  }
  const double t_mv = median_kept(tmv, nmv);

  printf("\n%7lld  network d = %lld, outputs %lld, sinusoidal L = %d + mlp %d x %lld swish, dirichlet: p = %lld, "
         "n = %lld points\n", (long long)p, (long long)d, (long long)K, NET_L, NET_DEPTH, (long long)W, (long long)p,
         (long long)n);
  printf("%7s  linearisation %.3f s, F = J^T f / n %.3f s (||F|| = %.3e), one M v (p x 1) %.4f s (median of %d)\n",
         "", t_lin, t_rhs, Fn, t_mv, nmv);
  fflush(stdout);

  run_opts ro = {.reps = paper ? 1 : S->reps, .rep_budget_s = N->rep_budget_s, .rel_mu = N->mu};
  double shift = NAN;
  /* rank-200 PCG first: its first setup fixes mu_a for every method */
  result r200 = run_ex(S, M_PCG, 200, &A, &shift, &F, &x, &t, NULL, &ro);
  printf("%7s  mu_a = %g x lambda_max = %g x %.6e = %.6e (rank-200 setup, seed 1, counter 0), used by every solve\n",
         "", N->mu, N->mu, r200.lambda_max, shift);
  print_net_row(p, "nystrom-pcg", 200, &r200, shift);
  if (pcg200_total) *pcg200_total = r200.status == NPDE_OK ? r200.total_s : NAN;
  fflush(stdout);

  result r = run_ex(S, M_DENSE, 0, &A, &shift, &F, &x, &t, "{type: dense}", &ro);
  if (r.status < 0)
    printf("%7lld  %-12s %5s  refused: %s\n", (long long)p, "dense", "-", r.note);
  else
    print_net_row(p, "dense", 0, &r, shift);
  if (dense_total) *dense_total = r.status == NPDE_OK ? r.total_s : NAN;
  fflush(stdout);

  if (paper) {
    if (r200.status >= 0) {
      printf("%7s  CG iterations: %.0f; time per M v on the way: setup %.3f s / %.0f sketch products = %.4f s "
             "(block products, QR/SVD included); solve %.3f s / %.0f iterations = %.4f s (one product + one "
             "preconditioner application); single M v %.4f s\n",
             "", r200.iters, r200.setup_s, r200.products, r200.setup_s / r200.products, r200.solve_s, r200.iters,
             r200.iters > 0 ? r200.solve_s / r200.iters : NAN, t_mv);
    }
  } else {
    static const int64_t other[] = {50, 350};
    for (int i = 0; i < 2; ++i) {
      r = run_ex(S, M_PCG, other[i], &A, &shift, &F, &x, &t, NULL, &ro);
      print_net_row(p, "nystrom-pcg", other[i], &r, shift);
      fflush(stdout);
    }
    r = run_ex(S, M_CG, 0, &A, &shift, &F, &x, &t, NULL, &ro);
    print_net_row(p, "cg", 0, &r, shift);
    fflush(stdout);
  }

  npde_linearization_destroy(&lin);
  npde_backend_free(S->be, thb);
  npde_backend_free(S->be, xb);
  npde_backend_free(S->be, fb);
  npde_backend_free(S->be, Fb);
  npde_backend_free(S->be, solb);
  npde_backend_free(S->be, tb);
  npde_network_destroy(&net);
  npde_config_destroy(&cfg);
}

static void network_section(setup *S, const net_opts *N, bool quick, bool paper) {
  const int64_t d = 2, K = 1, n = 5000;
  const int64_t targets[] = {2000, 5000};
  const int nt = quick ? 1 : 2;
  double dense_t[2] = {NAN, NAN}, pcg_t[2] = {NAN, NAN};
  int64_t ps[2] = {0, 0};
  printf("\n=== the real operator: M = J^T J / n of a network at init (npde_linearization_operator) ===\n");
  printf("(M + mu_a I) x = F, F = J^T f / n, f = %s; mu_a = %g lambda_max (Nystrom mu_mode relative, the shift of "
         "the first rank-200 setup passed to every solve);\nCG tol %g, max_iters %d, x0 = 0; medians of up to %d "
         "repeats, a method is not repeated once one run took > %g s (runs = timed runs; the dense build costs p "
         "M products in blocks of 256);\ntimes in s; total = setup + solve (linearisation and F are shared and "
         "not included); residual = true ||F - (M + mu_a I) x|| / ||F|| with one extra M product\n",
         N->normal_rhs ? "N(0, 1) per point" : "exp(-|x|^2/2) sin(pi (x_0 + k/2)) + 0.5 cos(pi x_{d-1}/2)", N->mu,
         S->tol, S->max_iters, S->reps, N->rep_budget_s);
  printf("%7s  %-12s %5s %4s %6s %9s %9s %9s %10s %10s  %s\n", "p", "method", "rank", "runs", "iters", "setup",
         "solve", "total", "residual", "reported", "status");
  for (int i = 0; i < nt; ++i) {
    const int64_t W = net_width_for(d, K, targets[i]);
    ps[i] = net_params(d, K, W);
    network_case(S, N, d, K, W, n, false, &dense_t[i], &pcg_t[i]);
  }
  printf("\nspeed-up of Nystrom-PCG (rank 200) over dense on the network operator:\n");
  for (int i = 0; i < nt; ++i)
    printf("  p = %lld: %.1fx (%.3f s vs %.3f s)\n", (long long)ps[i], dense_t[i] / pcg_t[i], pcg_t[i], dense_t[i]);
  fflush(stdout);
  if (paper) {
    printf("\n--paper: the paper's network (d = 3, outputs 2, L = 5, width 100, depth 3) at n = 20000; rank-200 "
           "PCG only, one run; dense attempted with its defaults\n");
    printf("%7s  %-12s %5s %4s %6s %9s %9s %9s %10s %10s  %s\n", "p", "method", "rank", "runs", "iters", "setup",
           "solve", "total", "residual", "reported", "status");
    network_case(S, N, 3, 2, 100, 20000, true, NULL, NULL);
  }
}

static void explicit_section(setup *S, bool quick);

int main(int argc, char **argv) {
  const char *backend_name = "cpu";
  setup S = {.tol = 1e-8, .mu = 1e-8, .reps = 3, .max_iters = 2000};
  bool quick = false, network_only = false, no_network = false, paper = false;
  net_opts N = {.mu = 1e-6, .normal_rhs = false, .rep_budget_s = 20.0};
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--backend") && i + 1 < argc) backend_name = argv[++i];
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) S.reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--tol") && i + 1 < argc) S.tol = atof(argv[++i]);
    else if (!strcmp(argv[i], "--mu") && i + 1 < argc) S.mu = atof(argv[++i]);
    else if (!strcmp(argv[i], "--max-iters") && i + 1 < argc) S.max_iters = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--quick")) quick = true;
    else if (!strcmp(argv[i], "--network-only")) network_only = true;
    else if (!strcmp(argv[i], "--no-network")) no_network = true;
    else if (!strcmp(argv[i], "--paper")) paper = true;
    else if (!strcmp(argv[i], "--net-mu") && i + 1 < argc) N.mu = atof(argv[++i]);
    else if (!strcmp(argv[i], "--rep-budget") && i + 1 < argc) N.rep_budget_s = atof(argv[++i]);
    else if (!strcmp(argv[i], "--rhs") && i + 1 < argc && !strcmp(argv[i + 1], "smooth")) N.normal_rhs = false, ++i;
    else if (!strcmp(argv[i], "--rhs") && i + 1 < argc && !strcmp(argv[i + 1], "normal")) N.normal_rhs = true, ++i;
    else {
      fprintf(stderr, "usage: bench_solve [--backend NAME] [--reps R] [--tol T] [--mu MU] [--max-iters N] [--quick]\n"
                      "                   [--network-only | --no-network] [--paper] [--net-mu MU] "
                      "[--rhs smooth|normal] [--rep-budget S]\n");
      return 2;
    }
  }
  if (network_only && no_network) {
    fprintf(stderr, "bench_solve: --network-only and --no-network exclude each other\n");
    return 2;
  }
  if (S.reps < 1 || S.reps > 64) S.reps = 3;
  if (S.max_iters < 1) S.max_iters = 2000;
  if (!(N.mu > 0.0)) N.mu = 1e-6;
  if (quick) S.reps = 1;

  npde_log_set_level(NPDE_LOG_ERROR); /* the status column reports non-convergence */
  CHECK(npde_registry_create(&S.reg));
  CHECK(npde_registry_load_defaults(S.reg));
  CHECK(npde_backend_create(S.reg, backend_name, NULL, &S.be));
  printf("bench_solve: backend %s\n", npde_backend_describe(S.be));
  printf("openblas_get_config(): %s; %d threads\n", openblas_get_config(), openblas_get_num_threads());
  if (!network_only) explicit_section(&S, quick);
  if (!no_network) network_section(&S, &N, quick, paper);
  npde_backend_destroy(&S.be);
  npde_registry_destroy(&S.reg);
  return 0;
}

/* The explicit-matrix and low-rank families (the header's first part). */
static void explicit_section(setup *S_, bool quick) {
  setup S = *S_;
  printf("(A + mu_a I) x = b, b ~ N(0, I), mu_a = %g lambda_max, CG tol %g (relative residual), max_iters %d, "
         "x0 = 0; medians of %d repeats;\ntimes in s (setup = Nystrom sketch and factorisation; total includes every "
         "operator product); residual = true ||b - (A + mu_a I) x|| / ||b||, reported = the solver's own (CG: recursive;\n"
         "dense: true)\n\n", S.mu, S.tol, S.max_iters,
         S.reps);
  printf("%7s  %-12s %5s %6s %9s %9s %9s %10s %10s  %s\n", "p", "method", "rank", "iters", "setup", "solve", "total",
         "residual", "reported", "status");

  /* p = 2000 and 5000 at mu (default 1e-8), then p = 5000 again at mu = 1e-6 (the solver-API default) */
  static const int64_t explicit_sizes[] = {2000, 5000, 5000};
  const double mu_main = S.mu;
  double dense5000[2] = {NAN, NAN}, pcg5000[2] = {NAN, NAN};
  for (size_t si = 0; si < (quick ? 1u : 3u); ++si) {
    const int64_t p = explicit_sizes[si];
    if (si == 2) {
      S.mu = 1e-6;
      printf("\n");
    }
    double *lam = malloc((size_t)p * sizeof *lam);
    for (int64_t i = 0; i < p; ++i) lam[i] = pow(10.0, -6.0 * (double)i / 200.0);
    double *Ah = explicit_matrix(p, lam, 4, (unsigned)p);
    explicit_op eo = {.be = S.be, .p = p};
    CHECK(npde_backend_alloc(S.be, (size_t)(p * p) * sizeof(double), &eo.a));
    CHECK(npde_backend_upload(S.be, eo.a, Ah, (size_t)(p * p) * sizeof(double)));
    free(Ah);
    free(lam);
    npde_linop A = {.n = p, .dtype = NPDE_F64, .matvec = explicit_matvec, .matmat = explicit_matmat, .ctx = &eo};
    double d = NAN, c = NAN;
    run_problem(&S, "explicit Q diag(10^(-6 i/200)) Q^T (gemv/gemm on a stored p x p matrix)", &A, true, si < 2,
                "{type: dense}", &d, &c);
    if (p == 5000) dense5000[si - 1] = d, pcg5000[si - 1] = c;
    npde_backend_free(S.be, eo.a);
  }
  S.mu = mu_main;

  if (!quick) {
    const int64_t p = 20000, k = 400;
    lowrank_op lo = {.be = S.be, .p = p, .k = k, .wcols = 512};
    CHECK(npde_backend_alloc(S.be, (size_t)(p * k) * sizeof(double), &lo.g));
    CHECK(npde_backend_alloc(S.be, (size_t)k * sizeof(double), &lo.s));
    CHECK(npde_backend_alloc(S.be, (size_t)p * sizeof(double), &lo.t));
    CHECK(npde_backend_alloc(S.be, (size_t)(k * lo.wcols) * sizeof(double), &lo.w));
    npde_mat G = npde_mat_view(lo.g, NPDE_F64, p, k), t = npde_mat_view(lo.t, NPDE_F64, p, 1);
    CHECK(npde_backend_rng_normal(S.be, 3, 0, 0, 0.0, 1.0 / sqrt((double)p), &G));
    CHECK(npde_backend_rng_uniform(S.be, 3, 1, 0, 0.5e-9, 1.5e-9, &t));
    double *s = malloc((size_t)k * sizeof *s);
    for (int64_t i = 0; i < k; ++i) s[i] = pow(10.0, -6.0 * (double)i / 200.0);
    CHECK(npde_backend_upload(S.be, lo.s, s, (size_t)k * sizeof(double)));
    free(s);
    npde_linop A = {.n = p, .dtype = NPDE_F64, .matvec = lowrank_matvec, .matmat = lowrank_matmat, .ctx = &lo};
    printf("\n");
    run_problem(&S, "matrix-free G diag(10^(-6 i/200)) G^T + diag(t), G p x 400, t ~ 1e-9", &A, false, true,
                "{type: dense, max_memory_mb: 2048}", NULL, NULL);
    npde_backend_free(S.be, lo.g);
    npde_backend_free(S.be, lo.s);
    npde_backend_free(S.be, lo.t);
    npde_backend_free(S.be, lo.w);
  }

  if (!quick) {
    printf("\nspeed-up of Nystrom-PCG (rank 200) over dense Cholesky at p = 5000 (goal >= 10x):\n");
    printf("  mu = %g: %.1fx (%.3f s vs %.3f s)\n", mu_main, dense5000[0] / pcg5000[0], pcg5000[0], dense5000[0]);
    printf("  mu = 1e-6: %.1fx (%.3f s vs %.3f s)\n", dense5000[1] / pcg5000[1], pcg5000[1], dense5000[1]);
  }
  fflush(stdout);
}
