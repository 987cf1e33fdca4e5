/* Cost of the network passes behind Neural IVP (docs/methods/neural-ivp.md §2.4, §3.2, §4.5,
 * 4.7, 4.8) on the paper's wave-3D network, against the dgemm rate measured in
 * the same run.
 *
 * Network: {envelope: dirichlet, outputs: 2, chunk: C, layers: [{type:
 * sinusoidal, frequencies: 5}, {type: mlp, width: 100, depth: 3, activation:
 * swish}]} in d = 3, so p = 2 (2 L d w + 2 w^2 + 4 w + 1) = 46 802; f64;
 * n points uniform in [-1, 1]^3 from the backend RNG; theta from
 * npde_network_init.
 *
 * Timed, each as the median of R repeats after one warm-up call:
 *   eval     npde_network_eval (one forward pass)
 *   lin      npde_linearization_create + destroy (forward with caches)
 *   update   npde_linearization_update (the same forward, memory reused)
 *   mv1      npde_linearization_mv on a p x 1 block
 *   mvB      npde_linearization_mv on a p x B block (B = --block, default 50,
 *            to keep the run short: a p x 200 block takes ~25 s a repeat on
 *            2 cores, so the 200-column (Nystrom sketch) time is printed as an
 *            extrapolation from the per-column time unless --block 200)
 *   jet      npde_network_jet, NPDE_JET_LAPLACIAN, host outputs
 *   dgemm    npde_backend_gemm, C (n x w) = A (n x w) W^T (w x w), the dominant
 *            shape of the network, n the full point count. One is timed right
 *            after every repeat of every op, and each op's ratio uses the
 *            median of the ones timed among its own repeats, so load on a
 *            shared machine hits both sides alike.
 * Then a scaling study: mv1 at fixed n for widths giving p from ~1e3 to ~2e6,
 * with the least-squares slope of log(time) against log(p) over p >= 1e5.
 *
 *   bench_mvm [--backend cpu] [--n 20000] [--reps 5] [--block 50] [--chunk 1024]
 *             [--scaling-n 4000] [--no-scaling] [--threads N] [--peak-gflops G]
 *
 * --peak-gflops G adds each op's share of a stated FP64 peak (e.g. 67000 for
 * an H100 SXM's FP64 tensor cores with --backend cuda); the dgemm column is
 * always the rate this backend's own gemm reaches on the network's shape.
 *
 * Threads: OpenBLAS's (OPENBLAS_NUM_THREADS; its OpenMP build shares the
 * kernels' OpenMP pool); --threads N only calls openblas_set_num_threads(N).
 *
 * The table is for the environment the program started in. Last, one line
 * compares M v (p x 1) with OMP_WAIT_POLICY as it was and the other way
 * (unset vs PASSIVE), measured by a child process started with
 * --mv-only; the goals: started with no variable set, M v at 0.87 or more of
 * the dgemm rate, and at least 0.95 of the rate it reaches with PASSIVE.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "npde/npde.h"

#define BENCH_NAME "bench_mvm"
#include "bench_util.h"

/* Resident set size in MiB (Linux /proc; 0 elsewhere). */
static double rss_mib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0.0;
  long size = 0, res = 0;
  int got = fscanf(f, "%ld %ld", &size, &res);
  fclose(f);
  return got == 2 ? (double)res * (double)sysconf(_SC_PAGESIZE) / 1048576.0 : 0.0;
}

/* ------------------------------------------------------------ flop counts
 *
 * Shapes of one branch (there are K, one per output): the embedding has no
 * parameters and gives D = 2 L d features; the mlp maps D -> w, then w -> w
 * (depth - 1) times; the head is a w-vector and a bias. A gemm of
 * (r x k)(k x c) counts 2 r k c flops, a gemv 2 r c; element-wise work
 * (embedding, activations, bias rows, envelope) is not counted. With
 *   Wsum = D w + (depth - 1) w^2        (dense weights of a branch)
 * per point and per branch:
 *   forward (eval)      2 (Wsum + w)                   layers + head gemv
 *   forward with caches 2 Wsum                         no head (lin_forward)
 *   M v, per column     JVP  2 Wsum                    parameter tangents A dW^T (batched)
 *                          + 2 (depth - 1) w^2         input tangents dA W^T
 *                          + 2 w + 2 w + 2             head: dPhi w, dw Phi^T, db 1^T
 *                       VJP  2 w + 2 + 2 w             head: W Phi, W 1, the outer product W w^T
 *                          + 2 Wsum                    weight gradients gZ^T A (batched)
 *                          + 2 (depth - 1) w^2         cotangents gZ W
 *                     = 4 Wsum + 4 (depth - 1) w^2 + 8 w + 4
 *                     (for the paper net: 4 Wsum + 4 * 2 w^2 = 3.74 forward passes)
 *   executed on top     2 D w (JVP: the embedding has no parameters, so its
 *                       tangent is zero, yet the first dense layer multiplies
 *                       it by W_1^T) + 2 D w (VJP: the first dense layer forms
 *                       the cotangent of the embedding, gZ_1 W_1, which
 *                       nothing uses). Not counted as useful.
 *   Laplacian jet       (1 + 2 d) * 2 (Wsum + w)        value, d gradient and
 *                       d second blocks through every gemm and the head
 * GFLOP/s below use the useful counts. */
typedef struct shape {
  int64_t n, d, K, D, w, depth;
} shape;

static double wsum(const shape *s) { return (double)(s->D * s->w + (s->depth - 1) * s->w * s->w); }
static double flops_eval(const shape *s) { return (double)s->K * (double)s->n * 2.0 * (wsum(s) + (double)s->w); }
static double flops_lin(const shape *s) { return (double)s->K * (double)s->n * 2.0 * wsum(s); }
static double flops_mv(const shape *s) { /* per column, useful */
  double w = (double)s->w;
  return (double)s->K * (double)s->n * (4.0 * wsum(s) + 4.0 * (double)(s->depth - 1) * w * w + 8.0 * w + 4.0);
}
static double flops_mv_waste(const shape *s) { /* per column */
  return (double)s->K * (double)s->n * 4.0 * (double)(s->D * s->w);
}
static double flops_jet(const shape *s) { return (double)(1 + 2 * s->d) * flops_eval(s); }
static int64_t params_of(const shape *s) { return s->K * (s->D * s->w + s->depth * s->w + (s->depth - 1) * s->w * s->w + s->w + 1); }

/* ------------------------------------------------------------ set-up */

typedef struct bench {
  npde_registry *reg;
  npde_backend *be;
  int reps;
  int64_t chunk;
  /* reference dgemm, (n_ref x w) (w x w)^T */
  int64_t ref_n, ref_w;
  void *ra, *rb, *rc;
  double peak_gflops; /* --peak-gflops: the device's FP64 peak, for the "of peak" column (0: not printed) */
} bench;

typedef struct netrun {
  shape sh;
  npde_config *cfg;
  npde_network *net;
  int64_t p;
  void *theta_buf, *x_buf, *u_buf;
  npde_mat theta, X, U;
} netrun;

static void net_open(bench *b, netrun *r, int64_t n, int64_t width) {
  char yaml[512];
  snprintf(yaml, sizeof yaml,
           "{envelope: dirichlet, outputs: 2, chunk: %lld, layers: [{type: sinusoidal, frequencies: 5}, "
           "{type: mlp, width: %lld, depth: 3, activation: swish}]}",
           (long long)b->chunk, (long long)width);
  memset(r, 0, sizeof *r);
  r->sh = (shape){.n = n, .d = 3, .K = 2, .D = 2 * 5 * 3, .w = width, .depth = 3};
  CHECK(npde_config_load_string(yaml, "<bench_mvm network>", &r->cfg));
  CHECK(npde_network_create(b->reg, r->cfg, b->be, r->sh.d, &r->net));
  r->p = npde_network_n_params(r->net);
  if (r->p != params_of(&r->sh)) {
    fprintf(stderr, "bench_mvm: width %lld: network has %lld parameters, formula %lld\n", (long long)width,
            (long long)r->p, (long long)params_of(&r->sh));
    exit(1);
  }
  CHECK(npde_backend_alloc(b->be, (size_t)r->p * sizeof(double), &r->theta_buf));
  CHECK(npde_backend_alloc(b->be, (size_t)(n * r->sh.d) * sizeof(double), &r->x_buf));
  CHECK(npde_backend_alloc(b->be, (size_t)(n * r->sh.K) * sizeof(double), &r->u_buf));
  r->theta = npde_mat_view(r->theta_buf, NPDE_F64, r->p, 1);
  r->X = npde_mat_view(r->x_buf, NPDE_F64, n, r->sh.d);
  r->U = npde_mat_view(r->u_buf, NPDE_F64, n, r->sh.K);
  CHECK(npde_network_init(r->net, &r->theta, 0));
  CHECK(npde_backend_rng_uniform(b->be, 7, 0, 0, -1.0, 1.0, &r->X));
}

static void net_close(bench *b, netrun *r) {
  npde_backend_free(b->be, r->theta_buf);
  npde_backend_free(b->be, r->x_buf);
  npde_backend_free(b->be, r->u_buf);
  npde_network_destroy(&r->net);
  npde_config_destroy(&r->cfg);
}

/* One reference dgemm; returns its seconds. */
static double ref_gemm(bench *b) {
  npde_mat A = npde_mat_view(b->ra, NPDE_F64, b->ref_n, b->ref_w);
  npde_mat W = npde_mat_view(b->rb, NPDE_F64, b->ref_w, b->ref_w);
  npde_mat C = npde_mat_view(b->rc, NPDE_F64, b->ref_n, b->ref_w);
  double sink, t0 = now();
  CHECK(npde_backend_gemm(b->be, NPDE_NO_TRANS, NPDE_TRANS, 1.0, &A, &W, 0.0, &C));
  CHECK(npde_backend_nrm2(b->be, &C, &sink)); /* synchronise */
  return now() - t0;
}

static double ref_flops(const bench *b) { return 2.0 * (double)b->ref_n * (double)b->ref_w * (double)b->ref_w; }

/* ------------------------------------------------------------ the ops */

typedef enum op { OP_EVAL, OP_LIN, OP_UPDATE, OP_MV, OP_JET } op;

typedef struct opctx {
  netrun *r;
  npde_linearization *lin; /* for OP_MV */
  npde_mat V, Y;           /* for OP_MV */
  double *hv, *hg, *hs;    /* for OP_JET */
} opctx;

static void run_op(bench *b, op o, opctx *c) {
  double sink;
  switch (o) {
  case OP_EVAL:
    CHECK(npde_network_eval(c->r->net, &c->r->theta, &c->r->X, &c->r->U));
    CHECK(npde_backend_nrm2(b->be, &c->r->U, &sink));
    break;
  case OP_LIN: {
    npde_linearization *lin = NULL;
    CHECK(npde_linearization_create(c->r->net, &c->r->theta, &c->r->X, &lin));
    npde_linearization_destroy(&lin);
    break;
  }
  case OP_UPDATE:
    CHECK(npde_linearization_update(c->lin, &c->r->theta, &c->r->X));
    break;
  case OP_MV:
    CHECK(npde_linearization_mv(c->lin, &c->V, &c->Y));
    CHECK(npde_backend_nrm2(b->be, &c->Y, &sink));
    break;
  case OP_JET:
    CHECK(npde_network_jet(c->r->net, &c->r->theta, &c->r->X, NPDE_JET_LAPLACIAN, c->hv, c->hg, c->hs));
    break;
  }
}

typedef struct timing {
  double op_s, ref_s; /* medians */
} timing;

/* Warm-up, then reps of the op, each followed by one reference dgemm (when with_ref). */
static timing time_op(bench *b, op o, opctx *c, bool with_ref) {
  double *to = malloc((size_t)b->reps * sizeof *to), *tr = malloc((size_t)b->reps * sizeof *tr);
  if (!to || !tr) {
    fprintf(stderr, "bench_mvm: out of memory\n");
    exit(1);
  }
  run_op(b, o, c);
  for (int r = 0; r < b->reps; ++r) {
    double t0 = now();
    run_op(b, o, c);
    to[r] = now() - t0;
    if (with_ref) tr[r] = ref_gemm(b);
  }
  timing t = {median(to, b->reps), with_ref ? median(tr, b->reps) : 0.0};
  free(to);
  free(tr);
  return t;
}

static void report(const bench *b, const char *label, timing t, double flops, const char *note) {
  double gf = flops / t.op_s * 1e-9, rgf = ref_flops(b) / t.ref_s * 1e-9;
  char peak[32] = "";
  if (b->peak_gflops > 0) snprintf(peak, sizeof peak, "%5.1f%% of peak ", 100.0 * gf / b->peak_gflops);
  printf("%-34s %11.2f %10.3f %9.2f %9.2f %7.3f  %s%s\n", label, 1e3 * t.op_s, flops * 1e-9, gf, rgf, gf / rgf, peak,
         note ? note : "");
}

/* Least-squares slope of y against x over the points with x >= xmin. */
static double fit_slope(const double *x, const double *y, int n, double xmin) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int k = 0;
  for (int i = 0; i < n; ++i)
    if (x[i] >= xmin) sx += x[i], sy += y[i], sxx += x[i] * x[i], sxy += x[i] * y[i], ++k;
  return k >= 2 ? (k * sxy - sx * sy) / (k * sxx - sx * sx) : NAN;
}

/* ------------------------------------------------------------ main */

/* --mv-only: the M v (p x 1) of the table, and its dgemm rate ratio, as one line for the parent. */
static int mv_alone(bench *b, int64_t n) {
  netrun r;
  net_open(b, &r, n, 100);
  npde_linearization *lin = NULL;
  CHECK(npde_linearization_create(r.net, &r.theta, &r.X, &lin));
  void *v, *y;
  CHECK(npde_backend_alloc(b->be, (size_t)r.p * sizeof(double), &v));
  CHECK(npde_backend_alloc(b->be, (size_t)r.p * sizeof(double), &y));
  opctx c = {.r = &r, .lin = lin};
  c.V = npde_mat_view(v, NPDE_F64, r.p, 1);
  c.Y = npde_mat_view(y, NPDE_F64, r.p, 1);
  CHECK(npde_backend_rng_normal(b->be, 3, 0, 0, 0.0, 1.0, &c.V));
  timing t = time_op(b, OP_MV, &c, true);
  printf("mv_ms=%.6f ratio=%.6f\n", 1e3 * t.op_s, flops_mv(&r.sh) / t.op_s / (ref_flops(b) / t.ref_s));
  npde_backend_free(b->be, v);
  npde_backend_free(b->be, y);
  npde_linearization_destroy(&lin);
  net_close(b, &r);
  return 0;
}

/* M v measured by a child started with OMP_WAIT_POLICY the other way (PASSIVE when this run has it unset);
 * returns its milliseconds, or NaN. */
static double mv_other_policy(const char *backend, int64_t n, int reps, int64_t chunk, bool *other_passive) {
  char self[4096], cmd[4400];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return NAN;
  self[len] = '\0';
  *other_passive = getenv("OMP_WAIT_POLICY") == NULL;
  snprintf(cmd, sizeof cmd, "env %s '%s' --mv-only --backend %s --n %lld --reps %d --chunk %lld",
           *other_passive ? "OMP_WAIT_POLICY=PASSIVE" : "-u OMP_WAIT_POLICY", self, backend, (long long)n, reps,
           (long long)chunk);
  FILE *p = popen(cmd, "r");
  double ms = NAN, ratio = NAN;
  char line[256];
  while (p && fgets(line, sizeof line, p))
    if (sscanf(line, "mv_ms=%lf ratio=%lf", &ms, &ratio) == 2) break;
  if (p) pclose(p);
  return ms;
}

int main(int argc, char **argv) {
  const char *backend_name = "cpu";
  int64_t n = 20000, block = 50, scaling_n = 4000, chunk = 1024;
  int reps = 5, threads = 0;
  double peak_gflops = 0;
  bool scaling = true, mv_only = false;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--backend") && i + 1 < argc) backend_name = argv[++i];
    else if (!strcmp(argv[i], "--n") && i + 1 < argc) n = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--block") && i + 1 < argc) block = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--chunk") && i + 1 < argc) chunk = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--scaling-n") && i + 1 < argc) scaling_n = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-scaling")) scaling = false;
    else if (!strcmp(argv[i], "--mv-only")) mv_only = true, scaling = false;
    else if (!strcmp(argv[i], "--peak-gflops") && i + 1 < argc) peak_gflops = atof(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_mvm [--backend NAME] [--n N] [--reps R] [--block B] [--chunk C] "
                      "[--scaling-n N] [--no-scaling] [--threads T] [--peak-gflops G]\n");
      return 2;
    }
  }
  if (reps < 1 || reps > 1000) reps = 5;
  if (n < 1 || block < 1 || chunk < 1 || scaling_n < 1) {
    fprintf(stderr, "bench_mvm: --n, --block, --chunk and --scaling-n must be >= 1\n");
    return 2;
  }
  if (threads > 0) openblas_set_num_threads(threads);

  double t_start = now();
  bench b = {.reps = reps, .chunk = chunk, .ref_n = n, .ref_w = 100, .peak_gflops = peak_gflops};
  CHECK(npde_registry_create(&b.reg));
  CHECK(npde_registry_load_defaults(b.reg));
  CHECK(npde_backend_create(b.reg, backend_name, NULL, &b.be));
  if (!mv_only) printf("bench_mvm: backend %s\n", npde_backend_describe(b.be));
  if (!mv_only) printf("OpenBLAS %s; kernel %s; %d threads; OPENBLAS_CORETYPE=%s; OPENBLAS_NUM_THREADS=%s; %ld CPUs online\n",
         openblas_get_config(), openblas_get_corename(), openblas_get_num_threads(),
         getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "(unset)",
         getenv("OPENBLAS_NUM_THREADS") ? getenv("OPENBLAS_NUM_THREADS") : "(unset)", sysconf(_SC_NPROCESSORS_ONLN));

  CHECK(npde_backend_alloc(b.be, (size_t)(b.ref_n * b.ref_w) * sizeof(double), &b.ra));
  CHECK(npde_backend_alloc(b.be, (size_t)(b.ref_w * b.ref_w) * sizeof(double), &b.rb));
  CHECK(npde_backend_alloc(b.be, (size_t)(b.ref_n * b.ref_w) * sizeof(double), &b.rc));
  {
    npde_mat A = npde_mat_view(b.ra, NPDE_F64, b.ref_n, b.ref_w), W = npde_mat_view(b.rb, NPDE_F64, b.ref_w, b.ref_w);
    CHECK(npde_backend_rng_uniform(b.be, 1, 0, 0, -1, 1, &A));
    CHECK(npde_backend_rng_uniform(b.be, 1, 1, 0, -1, 1, &W));
  }
  if (mv_only) return mv_alone(&b, n);

  /* ---- the paper network ---- */
  netrun r;
  net_open(&b, &r, n, 100);
  if (r.p != 46802) {
    fprintf(stderr, "bench_mvm: paper network has p = %lld, expected 46802\n", (long long)r.p);
    return 1;
  }
  printf("network: d = 3, K = 2, sinusoidal L = 5 (D = 30) -> mlp 3 x 100 swish -> head, dirichlet envelope; "
         "p = %lld; n = %lld; chunk = %lld; f64; %d repeats (median) after one warm-up\n",
         (long long)r.p, (long long)n, (long long)chunk, reps);

  /* reference alone first, for the headline rate */
  double *tr = malloc((size_t)reps * sizeof *tr);
  for (int i = -1; i < reps; ++i) {
    double t = ref_gemm(&b);
    if (i >= 0) tr[i] = t;
  }
  double ref_alone = median(tr, reps);
  free(tr);
  printf("dgemm reference (npde_backend_gemm, (%lld x 100)(100 x 100)^T): %.3f ms, %.2f GFLOP/s\n\n",
         (long long)n, 1e3 * ref_alone, ref_flops(&b) / ref_alone * 1e-9);

  printf("%-34s %11s %10s %9s %9s %7s\n", "op", "median ms", "GFLOP", "GFLOP/s", "dgemm/s", "ratio");
  opctx c = {.r = &r};
  const shape *sh = &r.sh;

  timing t_eval = time_op(&b, OP_EVAL, &c, true);
  report(&b, "forward (npde_network_eval)", t_eval, flops_eval(sh), NULL);

  /* the first linearisation, for its resident memory */
  double rss1 = rss_mib();
  npde_linearization *lin = NULL;
  CHECK(npde_linearization_create(r.net, &r.theta, &r.X, &lin));
  double rss2 = rss_mib();
  c.lin = lin;

  timing t_lin = time_op(&b, OP_LIN, &c, true);
  report(&b, "linearisation create", t_lin, flops_lin(sh), "(forward with caches + alloc + free)");
  timing t_upd = time_op(&b, OP_UPDATE, &c, true);
  report(&b, "linearisation update", t_upd, flops_lin(sh), "(forward with caches into the same memory)");

  /* one M v */
  void *v1, *y1;
  CHECK(npde_backend_alloc(b.be, (size_t)r.p * sizeof(double), &v1));
  CHECK(npde_backend_alloc(b.be, (size_t)r.p * sizeof(double), &y1));
  c.V = npde_mat_view(v1, NPDE_F64, r.p, 1);
  c.Y = npde_mat_view(y1, NPDE_F64, r.p, 1);
  CHECK(npde_backend_rng_normal(b.be, 3, 0, 0, 0.0, 1.0, &c.V));
  timing t_mv1 = time_op(&b, OP_MV, &c, true);
  char note[160];
  snprintf(note, sizeof note, "(+%.3f GFLOP executed on zero/unused tangents)", flops_mv_waste(sh) * 1e-9);
  report(&b, "M v, p x 1", t_mv1, flops_mv(sh), note);

  /* a block of M v */
  void *vb, *yb;
  CHECK(npde_backend_alloc(b.be, (size_t)(r.p * block) * sizeof(double), &vb));
  CHECK(npde_backend_alloc(b.be, (size_t)(r.p * block) * sizeof(double), &yb));
  c.V = npde_mat_view(vb, NPDE_F64, r.p, block);
  c.Y = npde_mat_view(yb, NPDE_F64, r.p, block);
  CHECK(npde_backend_rng_normal(b.be, 3, 1, 0, 0.0, 1.0, &c.V));
  double rss3 = rss_mib();
  timing t_mvb = time_op(&b, OP_MV, &c, true);
  double rss4 = rss_mib();
  char label[64];
  snprintf(label, sizeof label, "M V, p x %lld", (long long)block);
  snprintf(note, sizeof note, "(%.2f ms per column)", 1e3 * t_mvb.op_s / (double)block);
  report(&b, label, t_mvb, flops_mv(sh) * (double)block, note);

  /* consistency: column 0 of the block against a single M v */
  {
    double *h0 = malloc((size_t)r.p * sizeof *h0), *full = malloc((size_t)(r.p * block) * sizeof *full);
    if (!h0 || !full) {
      fprintf(stderr, "bench_mvm: out of memory\n");
      return 1;
    }
    npde_mat Vc = npde_mat_sub(c.V, 0, 0, r.p, 1), vv = npde_mat_view(v1, NPDE_F64, r.p, 1);
    npde_mat yy = npde_mat_view(y1, NPDE_F64, r.p, 1);
    CHECK(npde_backend_copy(b.be, &Vc, &vv));
    CHECK(npde_linearization_mv(lin, &vv, &yy));
    CHECK(npde_backend_download(b.be, h0, y1, (size_t)r.p * sizeof(double)));
    CHECK(npde_backend_download(b.be, full, yb, (size_t)(r.p * block) * sizeof(double)));
    double num = 0.0, den = 0.0; /* column 0 of the row-major p x block Y has stride block */
    for (int64_t i = 0; i < r.p; ++i) {
      double e = full[i * block] - h0[i];
      num += e * e;
      den += h0[i] * h0[i];
    }
    printf("%-34s relative difference of column 0 from a single M v: %.2e\n", "", sqrt(num / (den > 0 ? den : 1)));
    free(full);
    free(h0);
  }
  c.V = npde_mat_view(v1, NPDE_F64, r.p, 1);
  c.Y = npde_mat_view(y1, NPDE_F64, r.p, 1);

  /* Single precision (docs/methods/neural-ivp.md §4.8): the same products through f32
   * views of the network (npde_network_view), as the preconditioner's sketch
   * (sketch_precision: f32) and the mixed solve's inner iterations use them;
   * and per output branch alone (sketch_blocks: per_output), where M is block
   * diagonal. The difference is against the f64 product of the same vector. */
  timing t_mv32, t_mvb32, t_br32[2];
  double diff32;
  {
    npde_network *n32 = NULL, *br32[2] = {NULL, NULL};
    CHECK(npde_network_view(r.net, 0, 2, NPDE_F32, &n32));
    void *th32, *x32, *v32, *y32, *vb32, *yb32;
    CHECK(npde_backend_alloc(b.be, (size_t)r.p * sizeof(float), &th32));
    CHECK(npde_backend_alloc(b.be, (size_t)(n * sh->d) * sizeof(float), &x32));
    CHECK(npde_backend_alloc(b.be, (size_t)r.p * sizeof(float), &v32));
    CHECK(npde_backend_alloc(b.be, (size_t)r.p * sizeof(float), &y32));
    CHECK(npde_backend_alloc(b.be, (size_t)(r.p * block) * sizeof(float), &vb32));
    CHECK(npde_backend_alloc(b.be, (size_t)(r.p * block) * sizeof(float), &yb32));
    npde_mat T32 = npde_mat_view(th32, NPDE_F32, r.p, 1), X32 = npde_mat_view(x32, NPDE_F32, n, sh->d);
    CHECK(npde_backend_convert(b.be, &r.theta, &T32));
    CHECK(npde_backend_convert(b.be, &r.X, &X32));
    npde_linearization *lin32 = NULL;
    CHECK(npde_linearization_create(n32, &T32, &X32, &lin32));
    opctx c32 = {.r = &r, .lin = lin32, .V = npde_mat_view(v32, NPDE_F32, r.p, 1),
                 .Y = npde_mat_view(y32, NPDE_F32, r.p, 1)};
    npde_mat v64 = npde_mat_view(v1, NPDE_F64, r.p, 1);
    CHECK(npde_backend_convert(b.be, &v64, &c32.V));
    t_mv32 = time_op(&b, OP_MV, &c32, true);
    report(&b, "M v f32, p x 1", t_mv32, flops_mv(sh), "(f32 view; ratio against the dgemm rate)");
    { /* accuracy: against the f64 product of the same vector */
      double *h64 = malloc((size_t)r.p * sizeof *h64), *h32 = malloc((size_t)r.p * sizeof *h32);
      npde_mat y64 = npde_mat_view(y1, NPDE_F64, r.p, 1), y32d = npde_mat_view(yb, NPDE_F64, r.p, 1);
      CHECK(npde_linearization_mv(lin, &v64, &y64));
      CHECK(npde_backend_convert(b.be, &c32.Y, &y32d));
      CHECK(npde_backend_download(b.be, h64, y1, (size_t)r.p * sizeof(double)));
      CHECK(npde_backend_download(b.be, h32, yb, (size_t)r.p * sizeof(double)));
      double num = 0.0, den = 0.0;
      for (int64_t i = 0; i < r.p; ++i) {
        num += (h32[i] - h64[i]) * (h32[i] - h64[i]);
        den += h64[i] * h64[i];
      }
      diff32 = sqrt(num / (den > 0 ? den : 1));
      free(h64);
      free(h32);
    }
    c32.V = npde_mat_view(vb32, NPDE_F32, r.p, block);
    c32.Y = npde_mat_view(yb32, NPDE_F32, r.p, block);
    CHECK(npde_backend_rng_normal(b.be, 3, 1, 0, 0.0, 1.0, &c32.V));
    t_mvb32 = time_op(&b, OP_MV, &c32, true);
    snprintf(label, sizeof label, "M V f32, p x %lld", (long long)block);
    snprintf(note, sizeof note, "(%.2f ms per column)", 1e3 * t_mvb32.op_s / (double)block);
    report(&b, label, t_mvb32, flops_mv(sh) * (double)block, note);
    for (int k = 0; k < 2; ++k) { /* one branch's block alone: M_k V_k, p_k x block */
      int64_t off, cnt;
      npde_network_branch_range(r.net, k, &off, &cnt);
      CHECK(npde_network_view(r.net, k, 1, NPDE_F32, &br32[k]));
      npde_mat Tk = npde_mat_sub(T32, off, 0, cnt, 1);
      npde_linearization *lk = NULL;
      CHECK(npde_linearization_create(br32[k], &Tk, &X32, &lk));
      opctx ck = {.r = &r, .lin = lk, .V = npde_mat_view(vb32, NPDE_F32, cnt, block),
                  .Y = npde_mat_view(yb32, NPDE_F32, cnt, block)};
      t_br32[k] = time_op(&b, OP_MV, &ck, true);
      snprintf(label, sizeof label, "M_%d V f32, p_%d x %lld", k + 1, k + 1, (long long)block);
      snprintf(note, sizeof note, "(branch %d alone: %.2f ms per column)", k + 1, 1e3 * t_br32[k].op_s / (double)block);
      report(&b, label, t_br32[k], flops_mv(sh) * (double)block / 2.0, note);
      npde_linearization_destroy(&lk);
      npde_network_destroy(&br32[k]);
    }
    npde_linearization_destroy(&lin32);
    npde_network_destroy(&n32);
    void *bufs[] = {th32, x32, v32, y32, vb32, yb32};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; ++i) npde_backend_free(b.be, bufs[i]);
  }

  /* Laplacian jet */
  c.hv = malloc((size_t)(n * sh->K) * sizeof(double));
  c.hg = malloc((size_t)(n * sh->K * sh->d) * sizeof(double));
  c.hs = malloc((size_t)(n * sh->K * sh->d) * sizeof(double));
  if (!c.hv || !c.hg || !c.hs) {
    fprintf(stderr, "bench_mvm: out of memory\n");
    return 1;
  }
  timing t_jet = time_op(&b, OP_JET, &c, true);
  report(&b, "Laplacian jet (npde_network_jet)", t_jet, flops_jet(sh), "(value, 3 grad, 3 second blocks)");

  double mv_cost = t_mv1.op_s / t_eval.op_s, col_cost = t_mvb.op_s / (double)block / t_eval.op_s;
  double r1 = flops_mv(sh) / t_mv1.op_s / (ref_flops(&b) / t_mv1.ref_s);
  double rb = flops_mv(sh) * (double)block / t_mvb.op_s / (ref_flops(&b) / t_mvb.ref_s);
  printf("\nM v costs %.2f forward passes (single), %.2f per column of the block (flop model: %.2f)\n", mv_cost,
         col_cost, flops_mv(sh) / flops_eval(sh));
  if (block != 200)
    printf("a p x 200 block (Nystrom sketch) EXTRAPOLATED from the p x %lld one at %.2f ms per column: %.1f s\n",
           (long long)block, 1e3 * t_mvb.op_s / (double)block, 200.0 * t_mvb.op_s / (double)block);
  printf("f32: M v %.2fx the f64 time (relative difference %.1e from the f64 product); a column of the p x %lld block "
         "%.2fx; one branch's block alone %.2f + %.2f of the f64 column\n", t_mv32.op_s / t_mv1.op_s, diff32,
         (long long)block, t_mvb32.op_s / t_mvb.op_s, t_br32[0].op_s / t_mvb.op_s, t_br32[1].op_s / t_mvb.op_s);
  printf("memory: first linearisation +%.1f MiB resident (model n (K (D + 6 w) + 1) 8 B = %.1f MiB of cached "
         "activations); scratch of the p x %lld M V +%.1f MiB resident\n",
         rss2 - rss1, (double)n * (double)(sh->K * (sh->D + 6 * sh->w) + 1) * 8.0 / 1048576.0, (long long)block,
         rss4 - rss3);
  const char *policy = getenv("OMP_WAIT_POLICY");
  printf("GOAL M v >= 0.87 of the dgemm rate, started with no variable set: single %.2f (%s), block %.2f (%s)%s%s\n",
         r1, policy ? "not measured: OMP_WAIT_POLICY is set" : r1 >= 0.87 ? "meets" : "MISSES", rb,
         rb >= 0.87 ? "meets" : "MISSES", policy ? "; this run: OMP_WAIT_POLICY=" : "", policy ? policy : "");
  bool other_passive = false;
  const double other_ms = mv_other_policy(backend_name, n, reps, chunk, &other_passive);
  const double unset_ms = other_passive ? 1e3 * t_mv1.op_s : other_ms,
               passive_ms = other_passive ? other_ms : 1e3 * t_mv1.op_s;
  printf("M v with OMP_WAIT_POLICY unset %.1f ms, PASSIVE %.1f ms (the latter %s): rate unset / PASSIVE %.2f (goal >= "
         "0.95: %s)\n", unset_ms, passive_ms, other_passive ? "by a child process" : "this run",
         passive_ms / unset_ms, passive_ms / unset_ms >= 0.95 ? "meets" : "MISSES");

  npde_linearization_destroy(&lin);
  free(c.hv);
  free(c.hg);
  free(c.hs);
  npde_backend_free(b.be, v1);
  npde_backend_free(b.be, y1);
  npde_backend_free(b.be, vb);
  npde_backend_free(b.be, yb);
  net_close(&b, &r);

  /* ---- scaling in p ---- */
  if (scaling) {
    static const int64_t widths[] = {10, 20, 40, 80, 160, 320, 480, 700};
    enum { NW = sizeof widths / sizeof widths[0] };
    printf("\nscaling: M v (p x 1) at n = %lld, chunk = %lld, widths %lld..%lld\n",
           (long long)scaling_n, (long long)chunk, (long long)widths[0], (long long)widths[NW - 1]);
    printf("%6s %10s %11s %9s %9s %7s\n", "width", "p", "median ms", "GFLOP/s", "dgemm/s", "ratio");
    double lp[NW], lt[NW], ln[NW];
    for (int i = 0; i < NW; ++i) {
      netrun s;
      net_open(&b, &s, scaling_n, widths[i]);
      npde_linearization *sl = NULL;
      CHECK(npde_linearization_create(s.net, &s.theta, &s.X, &sl));
      void *sv, *sy_;
      CHECK(npde_backend_alloc(b.be, (size_t)s.p * sizeof(double), &sv));
      CHECK(npde_backend_alloc(b.be, (size_t)s.p * sizeof(double), &sy_));
      opctx sc = {.r = &s, .lin = sl};
      sc.V = npde_mat_view(sv, NPDE_F64, s.p, 1);
      sc.Y = npde_mat_view(sy_, NPDE_F64, s.p, 1);
      CHECK(npde_backend_rng_normal(b.be, 3, 2, 0, 0.0, 1.0, &sc.V));
      timing t = time_op(&b, OP_MV, &sc, true);
      double gf = flops_mv(&s.sh) / t.op_s * 1e-9, rgf = ref_flops(&b) / t.ref_s * 1e-9;
      printf("%6lld %10lld %11.3f %9.2f %9.2f %7.3f\n", (long long)widths[i], (long long)s.p, 1e3 * t.op_s, gf, rgf,
             gf / rgf);
      lp[i] = log((double)s.p);
      lt[i] = log(t.op_s);
      ln[i] = log(t.op_s / t.ref_s); /* in units of the interleaved dgemm: load cancels */
      npde_backend_free(b.be, sv);
      npde_backend_free(b.be, sy_);
      npde_linearization_destroy(&sl);
      net_close(&b, &s);
    }
    double s5 = fit_slope(lp, lt, NW, log(1e5)), s4 = fit_slope(lp, lt, NW, log(1e4)), s0 = fit_slope(lp, lt, NW, -1);
    double n5 = fit_slope(lp, ln, NW, log(1e5));
    printf("slope d log(time) / d log(p): %.3f over p >= 1e5 (goal 0.9-1.1: %s); %.3f over p >= 1e4; %.3f over all\n",
           s5, s5 >= 0.9 && s5 <= 1.1 ? "meets" : "MISSES", s4, s0);
    printf("  the same with time in units of the interleaved dgemm (load-corrected): %.3f over p >= 1e5; "
           "below 0.9 means GFLOP/s still grows with width\n", n5);
  }

  npde_backend_free(b.be, b.ra);
  npde_backend_free(b.be, b.rb);
  npde_backend_free(b.be, b.rc);
  npde_backend_destroy(&b.be);
  npde_registry_destroy(&b.reg);
  printf("\ntotal %.1f s\n", now() - t_start);
  return 0;
}
