/* A unit test of the allen-cahn plugin through npde's installed public API,
 * the way a third party tests its PDE: load the built .so into a registry,
 * create the PDE from YAML text, feed rhs the jets of an analytic test
 * function whose derivatives are derived by hand, and compare with the
 * hand-derived right-hand side. Also checks info, the initial condition and
 * that the schema refuses bad parameters with file:line:column.
 *
 *   test_rhs path/to/npde_allen_cahn.so      (exit 0: pass; 1: a check failed)
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <npde/npde_config.h>
#include <npde/npde_error.h>
#include <npde/npde_pde.h>
#include <npde/npde_registry.h>

#define MAX_D 3
#define N 40

static int failures;

#define CHECK(cond, ...)                                                     \
  do {                                                                       \
    if (!(cond)) {                                                           \
      ++failures;                                                            \
      fprintf(stderr, "test_rhs: FAIL (%s:%d): ", __FILE__, __LINE__);       \
      fprintf(stderr, __VA_ARGS__);                                          \
      fputc('\n', stderr);                                                   \
    }                                                                        \
  } while (0)

static npde_registry *reg;

/* npde_pde_create from YAML text (messages name the file "t.yaml"). */
static npde_status make(const char *yaml, npde_pde **out) {
  npde_config *cfg = NULL;
  *out = NULL;
  npde_status st = npde_config_load_string(yaml, "t.yaml", &cfg);
  if (st == NPDE_OK) st = npde_pde_create(reg, NULL, cfg, out); /* NULL name: take cfg's `type:` */
  npde_config_destroy(&cfg);
  return st;
}

/* A point generator (splitmix64), so the test is deterministic. */
static double uniform(double lo, double hi) {
  static unsigned long long state = 0x9e3779b97f4a7c15ull;
  unsigned long long z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return lo + (hi - lo) * (double)(z >> 11) * 0x1.0p-53;
}

/*
 * The test function u(x) = g h, g = exp(-|x - a|^2), h = sin(b . x). With
 * y = x - a, S = sin(b . x), C = cos(b . x):
 *   d_j u  = g (-2 y_j S + b_j C),
 *   d_jl u = g ((4 y_j y_l - 2 [j == l] - b_j b_l) S - 2 (y_j b_l + y_l b_j) C),
 * and, summed by hand, lap u = g ((4 |y|^2 - 2 d - |b|^2) S - 4 (y . b) C).
 * Fills the gradient and the second derivatives (the d pure ones, or the full
 * d x d Hessian) at one point; returns u.
 */
static double test_fn(int d, const double *a, const double *b, const double *x, double *grad, double *second,
                      bool hessian) {
  double y[MAX_D], r2 = 0.0, bx = 0.0;
  for (int j = 0; j < d; ++j) y[j] = x[j] - a[j], r2 += y[j] * y[j], bx += b[j] * x[j];
  const double g = exp(-r2), S = sin(bx), C = cos(bx);
  for (int j = 0; j < d; ++j) {
    grad[j] = g * (-2.0 * y[j] * S + b[j] * C);
    for (int l = 0; l < d; ++l) {
      double v = g * ((4.0 * y[j] * y[l] - 2.0 * (j == l) - b[j] * b[l]) * S - 2.0 * (y[j] * b[l] + y[l] * b[j]) * C);
      if (hessian) second[j * d + l] = v;
      else if (j == l) second[j] = v;
    }
  }
  return g * S;
}

static double test_lap(int d, const double *a, const double *b, const double *x) {
  double r2 = 0.0, bx = 0.0, yb = 0.0, b2 = 0.0;
  for (int j = 0; j < d; ++j) {
    double y = x[j] - a[j];
    r2 += y * y, bx += b[j] * x[j], yb += y * b[j], b2 += b[j] * b[j];
  }
  return exp(-r2) * ((4.0 * r2 - 2.0 * (double)d - b2) * sin(bx) - 4.0 * yb * cos(bx));
}

/* rhs on the test function's jets against eps^2 lap u + u - u^3 from the closed forms. */
static void check_rhs(const char *yaml, int d, double eps, npde_jet_order order) {
  npde_pde *p = NULL;
  if (make(yaml, &p) != NPDE_OK) {
    CHECK(0, "creating %s: %s", yaml, npde_last_error());
    return;
  }
  const bool hessian = order == NPDE_JET_HESSIAN;
  double x[N * MAX_D], value[N], grad[N * MAX_D], second[N * MAX_D * MAX_D], F[N], a[MAX_D], b[MAX_D];
  for (int j = 0; j < d; ++j) a[j] = -0.2 * cos(2.0 + j), b[j] = 1.5 + 0.4 * j;
  for (int i = 0; i < N; ++i) {
    for (int j = 0; j < d; ++j) x[i * d + j] = uniform(-1.0, 1.0);
    value[i] = test_fn(d, a, b, x + i * d, grad + i * d, second + i * (hessian ? d * d : d), hessian);
  }
  npde_pde_jets jets = {.n = N, .d = d, .K = 1, .order = order, .x = x, .value = value, .grad = grad,
                        .second = second};
  npde_status st = npde_pde_rhs(p, 0.25, &jets, F);
  CHECK(st == NPDE_OK, "%s: rhs: %s", yaml, npde_last_error());
  for (int i = 0; st == NPDE_OK && i < N; ++i) {
    const double u = value[i], want = eps * eps * test_lap(d, a, b, x + i * d) + u - u * u * u;
    CHECK(fabs(F[i] - want) <= 1e-12 * fmax(1.0, fabs(want)), "%s, order %d: point %d: rhs %.17g, hand-derived %.17g",
          yaml, (int)order, i, F[i], want);
  }
  npde_pde_destroy(&p);
}

/* info, and u(x, 0) = A prod_j sin(modes pi (x_j + 1) / 2) at points worked out by hand. */
static void check_info_and_initial(void) {
  npde_pde *p = NULL;
  if (make("{type: allen-cahn}", &p) != NPDE_OK) {
    CHECK(0, "creating the defaults: %s", npde_last_error());
    return;
  }
  npde_pde_info info = npde_pde_get_info(p);
  CHECK(info.dim == 2 && info.outputs == 1 && info.order == NPDE_JET_LAPLACIAN && !info.has_exact &&
            info.dirichlet_zero,
        "info: dim %lld, outputs %lld, order %d, has_exact %d, dirichlet_zero %d", (long long)info.dim,
        (long long)info.outputs, (int)info.order, info.has_exact, info.dirichlet_zero);
  /* modes 2, A 0.5: u0 = 0.5 sin(pi (x + 1)) sin(pi (y + 1)) = 0.5 sin(pi x) sin(pi y) */
  const double x[] = {0.5, 0.5, 0.25, -0.5, 1.0, 0.3, -0.7, -1.0};
  const double want[] = {0.5, -0.5 * sqrt(0.5), 0.0, 0.0};
  double U[4];
  CHECK(npde_pde_initial(p, x, 4, U) == NPDE_OK, "initial: %s", npde_last_error());
  for (int i = 0; i < 4; ++i)
    CHECK(fabs(U[i] - want[i]) <= 1e-15, "initial at (%g, %g) = %.17g, want %.17g", x[2 * i], x[2 * i + 1], U[i],
          want[i]);
  double E = 0.0;
  CHECK(npde_pde_exact(p, 0.0, x, 1, &E) == NPDE_ERR_NOT_IMPLEMENTED, "exact() exists but has_exact is false");
  npde_pde_destroy(&p);
}

/* The schema refuses, with NPDE_ERR_CONFIG at file:line:column, and every needle in the message. */
static void check_refused(const char *yaml, const char *needle) {
  npde_pde *p = NULL;
  npde_status st = make(yaml, &p);
  CHECK(st == NPDE_ERR_CONFIG, "%s: status %s, expected a configuration error", yaml, npde_status_str(st));
  CHECK(strstr(npde_last_error(), "t.yaml:1:") && strstr(npde_last_error(), needle),
        "%s: the message '%s' lacks 't.yaml:1:' or '%s'", yaml, npde_last_error(), needle);
  npde_pde_destroy(&p);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_rhs PATH/npde_allen_cahn.so\n");
    return 2;
  }
  if (npde_registry_create(&reg) != NPDE_OK || npde_registry_load_path(reg, argv[1]) != NPDE_OK) {
    fprintf(stderr, "test_rhs: cannot load %s: %s\n", argv[1], npde_last_error());
    npde_registry_destroy(&reg);
    return 1;
  }
  check_info_and_initial();
  check_rhs("{type: allen-cahn}", 2, 0.1, NPDE_JET_LAPLACIAN);
  check_rhs("{type: allen-cahn}", 2, 0.1, NPDE_JET_HESSIAN);
  check_rhs("{type: allen-cahn, dim: 3, eps: 0.15}", 3, 0.15, NPDE_JET_LAPLACIAN);
  check_rhs("{type: allen-cahn, dim: 3, eps: 0.15}", 3, 0.15, NPDE_JET_HESSIAN);
  check_rhs("{type: allen-cahn, eps: 0}", 2, 0.0, NPDE_JET_LAPLACIAN);
  check_refused("{type: allen-cahn, eps: -1}", "'eps'");
  check_refused("{type: allen-cahn, mode: 2}", "valid keys");
  check_refused("{type: allen-cahn, eps: .inf}", "finite");
  npde_registry_destroy(&reg);
  if (failures) {
    fprintf(stderr, "test_rhs: %d check(s) failed\n", failures);
    return 1;
  }
  printf("test_rhs: ok\n");
  return 0;
}
