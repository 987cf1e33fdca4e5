/* What a PDE written in YAML (the equation PDE, docs/problems.md) costs
 * against the hand-written plugin it replaces, on the paper's networks at
 * n points, measured in one run:
 *
 *   wave-3d        {type: wave, dim: 3} against fields [phi, v],
 *                  rhs [v, 'c^2*lap_phi']; network outputs 2
 *   fokker-planck  {type: fokker-planck, dim: 8} against rhs
 *                  'D*lap_u - ((a + alpha*avg(x1,..,x8))*S - (1 + alpha)*P)
 *                  - u*divh' with S = u_x1 + .. + u_x8 and P = x1*u_x1 + ..
 *                  + x8*u_x8: the plugin's drift h = (a - x) + alpha (mean(x)
 *                  - x) dotted with grad u; network outputs 1
 *
 * Network: {envelope: dirichlet, layers: [{type: sinusoidal, frequencies:
 * 5}, {type: mlp, width: 100, depth: 3, activation: swish}]} in d inputs,
 * f64, theta from npde_network_init, n points uniform in [-1, 1]^d.
 *
 * Timed (medians of R repeats after one warm-up):
 *   jet   npde_network_jet at the PDE's order (the network's part of one
 *         right-hand-side evaluation, host outputs)
 *   rhs   npde_pde_rhs on those jets: the plugin's, then the equation's
 *   mv    one M v, npde_linearization_mv on a p x 1 block (a CG iteration)
 * Printed: the equation's rhs against one M v (the callback's share), and
 * (jet + rhs of the equation) / (jet + rhs of the plugin): the ratio of one
 * right-hand-side evaluation. A step also solves M x = F with CG, whose
 * products are the same for both PDEs, so a whole step's ratio is at most
 * this one. Also the largest difference between the two right-hand sides.
 *
 *   bench_equation [--n 20000] [--reps 5]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde.h"

#define BENCH_NAME "bench_equation"
#include "bench_util.h"

typedef struct pdecase {
  const char *name;
  int64_t d, K;
  npde_jet_order order;
  char plugin[256], equation[4096];
} pdecase;

static void wave_case(pdecase *c) {
  *c = (pdecase){.name = "wave-3d", .d = 3, .K = 2, .order = NPDE_JET_LAPLACIAN};
  snprintf(c->plugin, sizeof c->plugin, "{type: wave, dim: 3, c: 1}");
  snprintf(c->equation, sizeof c->equation,
           "{type: equation, dim: 3, fields: [phi, v], params: {c: 1}, rhs: [v, 'c^2*lap_phi'], "
           "initial: ['0', '0']}");
}

static void fokker_planck_case(pdecase *c) {
  *c = (pdecase){.name = "fokker-planck-8d", .d = 8, .K = 1, .order = NPDE_JET_LAPLACIAN};
  snprintf(c->plugin, sizeof c->plugin, "{type: fokker-planck, dim: 8, D: 0.01, alpha: 0.25, a: 0.2}");
  /* h_j = (a - x_j) + alpha (mean - x_j), div h = -d - alpha (d - 1); h . grad u written with the sums
   * S = sum_j u_xj and P = sum_j x_j u_xj as (a + alpha mean) S - (1 + alpha) P */
  char S[512] = "", P[512] = "";
  size_t ls = 0, lp = 0;
  for (int j = 1; j <= 8; ++j) {
    ls += (size_t)snprintf(S + ls, sizeof S - ls, "%su_x%d", j > 1 ? " + " : "", j);
    lp += (size_t)snprintf(P + lp, sizeof P - lp, "%sx%d*u_x%d", j > 1 ? " + " : "", j, j);
  }
  snprintf(c->equation, sizeof c->equation,
           "{type: equation, dim: 8, params: {D: 0.01, alpha: 0.25, a: 0.2, divh: %.17g}, "
           "rhs: ['D*lap_u - ((a + alpha*avg(x1,x2,x3,x4,x5,x6,x7,x8))*(%s) - (1 + alpha)*(%s)) - u*divh'], "
           "initial: ['0']}",
           -8.0 - 0.25 * 7.0, S, P);
}

static npde_pde *make_pde(npde_registry *reg, const char *yaml) {
  npde_config *cfg = NULL;
  CHECK(npde_config_load_string(yaml, "<bench_equation pde>", &cfg));
  npde_pde *p = NULL;
  CHECK(npde_pde_create(reg, NULL, cfg, &p));
  npde_config_destroy(&cfg);
  return p;
}

static void run_case(npde_registry *reg, npde_backend *be, const pdecase *c, int64_t n, int reps) {
  char yaml[512];
  snprintf(yaml, sizeof yaml,
           "{envelope: dirichlet, outputs: %lld, layers: [{type: sinusoidal, frequencies: 5}, "
           "{type: mlp, width: 100, depth: 3, activation: swish}]}",
           (long long)c->K);
  npde_config *ncfg = NULL;
  npde_network *net = NULL;
  CHECK(npde_config_load_string(yaml, "<bench_equation network>", &ncfg));
  CHECK(npde_network_create(reg, ncfg, be, c->d, &net));
  const int64_t p = npde_network_n_params(net), d = c->d, K = c->K;
  void *tb, *xb, *vb, *yb;
  CHECK(npde_backend_alloc(be, (size_t)p * sizeof(double), &tb));
  CHECK(npde_backend_alloc(be, (size_t)(n * d) * sizeof(double), &xb));
  CHECK(npde_backend_alloc(be, (size_t)p * sizeof(double), &vb));
  CHECK(npde_backend_alloc(be, (size_t)p * sizeof(double), &yb));
  npde_mat theta = npde_mat_view(tb, NPDE_F64, p, 1), X = npde_mat_view(xb, NPDE_F64, n, d),
           V = npde_mat_view(vb, NPDE_F64, p, 1), Y = npde_mat_view(yb, NPDE_F64, p, 1);
  CHECK(npde_network_init(net, &theta, 0));
  CHECK(npde_backend_rng_uniform(be, 7, 0, 0, -1.0, 1.0, &X));
  CHECK(npde_backend_rng_uniform(be, 7, 1, 0, -1.0, 1.0, &V));
  const int64_t second = c->order == NPDE_JET_LAPLACIAN ? d : d * d;
  double *hx = malloc((size_t)(n * d) * sizeof *hx), *hv = malloc((size_t)(n * K) * sizeof *hv);
  double *hg = malloc((size_t)(n * K * d) * sizeof *hg), *hs = malloc((size_t)(n * K * second) * sizeof *hs);
  double *F = malloc((size_t)(n * K) * sizeof *F), *G = malloc((size_t)(n * K) * sizeof *G);
  double *t_jet = malloc((size_t)reps * sizeof *t_jet), *t_plug = malloc((size_t)reps * sizeof *t_plug);
  double *t_eq = malloc((size_t)reps * sizeof *t_eq), *t_mv = malloc((size_t)reps * sizeof *t_mv);
  if (!hx || !hv || !hg || !hs || !F || !G || !t_jet || !t_plug || !t_eq || !t_mv) {
    fprintf(stderr, BENCH_NAME ": out of memory\n");
    exit(1);
  }
  CHECK(npde_backend_download(be, hx, xb, (size_t)(n * d) * sizeof(double)));
  npde_pde *plug = make_pde(reg, c->plugin), *eq = make_pde(reg, c->equation);
  npde_linearization *lin = NULL;
  CHECK(npde_linearization_create(net, &theta, &X, &lin));
  npde_pde_jets jets = {.n = n, .d = d, .K = K, .order = c->order, .x = hx, .value = hv, .grad = hg, .second = hs};
  for (int r = -1; r < reps; ++r) { /* r = -1: warm-up */
    double t0 = now(), sink;
    CHECK(npde_network_jet(net, &theta, &X, c->order, hv, hg, hs));
    double t1 = now();
    CHECK(npde_pde_rhs(plug, 0.1, &jets, G));
    double t2 = now();
    CHECK(npde_pde_rhs(eq, 0.1, &jets, F));
    double t3 = now();
    CHECK(npde_linearization_mv(lin, &V, &Y));
    CHECK(npde_backend_nrm2(be, &Y, &sink));
    double t4 = now();
    if (r < 0) continue;
    t_jet[r] = t1 - t0, t_plug[r] = t2 - t1, t_eq[r] = t3 - t2, t_mv[r] = t4 - t3;
  }
  double diff = 0.0, scale = 0.0;
  for (int64_t e = 0; e < n * K; ++e) diff = fmax(diff, fabs(F[e] - G[e])), scale = fmax(scale, fabs(G[e]));
  const double jet = median(t_jet, reps), plug_s = median(t_plug, reps), eq_s = median(t_eq, reps),
               mv = median(t_mv, reps);
  printf("%-17s %7lld %6lld %9.2f %9.3f %9.3f %9.2f %12.3f %14.3f %11.1e\n", c->name, (long long)n, (long long)p,
         jet * 1e3, plug_s * 1e3, eq_s * 1e3, mv * 1e3, eq_s / mv, (jet + eq_s) / (jet + plug_s),
         scale > 0 ? diff / scale : diff);
  npde_linearization_destroy(&lin);
  npde_pde_destroy(&plug), npde_pde_destroy(&eq);
  free(hx), free(hv), free(hg), free(hs), free(F), free(G), free(t_jet), free(t_plug), free(t_eq), free(t_mv);
  npde_backend_free(be, tb), npde_backend_free(be, xb), npde_backend_free(be, vb), npde_backend_free(be, yb);
  npde_network_destroy(&net);
  npde_config_destroy(&ncfg);
}

int main(int argc, char **argv) {
  int64_t n = 20000;
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--n") && i + 1 < argc) n = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_equation [--n 20000] [--reps 5]\n");
      return 2;
    }
  }
  if (n < 1 || reps < 1) {
    fprintf(stderr, BENCH_NAME ": --n and --reps must be positive\n");
    return 2;
  }
  npde_registry *reg = NULL;
  npde_backend *be = NULL;
  CHECK(npde_registry_create(&reg));
  CHECK(npde_registry_load_defaults(reg));
  CHECK(npde_backend_create(reg, "cpu", NULL, &be));
  printf("bench_equation: %s; medians of %d repeats\n", npde_backend_describe(be), reps);
  printf("%-17s %7s %6s %9s %9s %9s %9s %12s %14s %11s\n", "pde", "n", "p", "jet ms", "plugin ms", "equat. ms",
         "M v ms", "equat./M v", "RHS eval ratio", "max |dF|");
  pdecase c;
  wave_case(&c);
  run_case(reg, be, &c, n, reps);
  fokker_planck_case(&c);
  run_case(reg, be, &c, n, reps);
  printf("equat./M v: the equation's callback against one M v (target < 0.05); RHS eval ratio: (jet + equation) /\n"
         "(jet + plugin), an upper bound on a whole step's ratio, whose M v products are the same (target <= 1.1)\n");
  npde_backend_destroy(&be);
  npde_registry_destroy(&reg);
  return 0;
}
