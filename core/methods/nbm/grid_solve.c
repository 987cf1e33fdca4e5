/* The grid reference of a discrete PDE (docs/methods/nbm.md §7.3): with collocation
 * points on the nodes of a grid and the cell size equal to its spacing,
 * every stencil sample is a node, so nodal unknowns in place of the
 * networks turn the residuals into a sparse nonsymmetric system A U = b.
 * Solved with UMFPACK (SuiteSparse) for small grids and BiCGSTAB with an
 * ILU(0) preconditioner for large ones (never CG: A is nonsymmetric near
 * the interface). The result is the discrete truth networks are compared
 * with. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <umfpack.h>

#include "npde/npde_log.h"
#include "npde/npde_pde.h"
#include "nbm_impl.h"

typedef struct csr {
  int64_t n, nnz;
  int64_t *rowptr, *col;
  double *val;
} csr;

static void csr_free(csr *A) {
  free(A->rowptr);
  free(A->col);
  free(A->val);
  memset(A, 0, sizeof *A);
}

static void node_position(const npde_grid *g, int64_t idx, double x[3]) {
  const int64_t k = idx % g->n[2], j = (idx / g->n[2]) % g->n[1], i = idx / (g->n[1] * g->n[2]);
  const int64_t ijk[3] = {i, j, k};
  for (int a = 0; a < 3; ++a) x[a] = g->lo[a] + (double)ijk[a] * g->spacing[a];
}

/* Rows sorted by column with the diagonal present (ILU(0) needs both). */
static npde_status assemble(const npde_pde *pde, const npde_grid *g, csr *A, double *b) {
  const npde_pde_info info = npde_pde_get_info(pde);
  const int64_t N = g->n[0] * g->n[1] * g->n[2];
  int64_t cap = N * 8;
  A->n = N;
  A->rowptr = malloc((size_t)(N + 1) * sizeof *A->rowptr);
  A->col = malloc((size_t)cap * sizeof *A->col);
  A->val = malloc((size_t)cap * sizeof *A->val);
  npde_stencil_sample *smp = malloc((size_t)info.stencil_max * sizeof *smp);
  if (!A->rowptr || !A->col || !A->val || !smp) {
    free(smp);
    return NPDE_ERROR(NPDE_ERR_NOMEM, "grid reference: out of memory for %lld unknowns", (long long)N);
  }
  npde_status st = NPDE_OK;
  int64_t nnz = 0;
  A->rowptr[0] = 0;
  for (int64_t r = 0; r < N && st == NPDE_OK; ++r) {
    double p[3];
    node_position(g, r, p);
    npde_stencil s = {.struct_size = sizeof s, .capacity = info.stencil_max, .samples = smp};
    st = npde_pde_stencil(pde, p, g->spacing, &s);
    if (st != NPDE_OK) break;
    if (nnz + s.n + 1 > cap) {
      cap = 2 * cap + s.n + 1;
      int64_t *c2 = realloc(A->col, (size_t)cap * sizeof *c2);
      if (c2) A->col = c2;
      double *v2 = realloc(A->val, (size_t)cap * sizeof *v2);
      if (v2) A->val = v2;
      if (!c2 || !v2) {
        st = NPDE_ERROR(NPDE_ERR_NOMEM, "grid reference: out of memory for the matrix");
        break;
      }
    }
    const int64_t start = nnz;
    bool has_diag = false;
    for (int64_t j = 0; j < s.n; ++j) {
      int64_t ijk[3];
      for (int a = 0; a < 3; ++a) {
        const double t = (smp[j].x[a] - g->lo[a]) / g->spacing[a];
        ijk[a] = (int64_t)llround(t);
        if (fabs(t - (double)ijk[a]) > 1e-6 || ijk[a] < 0 || ijk[a] >= g->n[a]) {
          st = NPDE_ERROR(NPDE_ERR_INVALID_ARG,
                          "grid reference: the stencil of node (%g, %g, %g) samples (%g, %g, %g), which is not a "
                          "node of the %lld x %lld x %lld grid (the interface must stay a cell away from the box)",
                          p[0], p[1], p[2], smp[j].x[0], smp[j].x[1], smp[j].x[2], (long long)g->n[0],
                          (long long)g->n[1], (long long)g->n[2]);
          break;
        }
      }
      if (st != NPDE_OK) break;
      const int64_t c = (ijk[0] * g->n[1] + ijk[1]) * g->n[2] + ijk[2];
      has_diag |= c == r;
      /* insertion into the sorted row; merge a repeated node */
      int64_t q = nnz;
      while (q > start && A->col[q - 1] > c) --q;
      if (q > start && A->col[q - 1] == c) {
        A->val[q - 1] += smp[j].weight;
        continue;
      }
      memmove(A->col + q + 1, A->col + q, (size_t)(nnz - q) * sizeof *A->col);
      memmove(A->val + q + 1, A->val + q, (size_t)(nnz - q) * sizeof *A->val);
      A->col[q] = c;
      A->val[q] = smp[j].weight;
      nnz++;
    }
    if (st != NPDE_OK) break;
    if (!has_diag) {
      int64_t q = nnz;
      while (q > start && A->col[q - 1] > r) --q;
      memmove(A->col + q + 1, A->col + q, (size_t)(nnz - q) * sizeof *A->col);
      memmove(A->val + q + 1, A->val + q, (size_t)(nnz - q) * sizeof *A->val);
      A->col[q] = r;
      A->val[q] = 0.0;
      nnz++;
    }
    b[r] = -s.w0;
    A->rowptr[r + 1] = nnz;
  }
  free(smp);
  A->nnz = nnz;
  return st;
}

static void csr_mv(const csr *A, const double *x, double *y) {
  for (int64_t r = 0; r < A->n; ++r) {
    double s = 0.0;
    for (int64_t q = A->rowptr[r]; q < A->rowptr[r + 1]; ++q) s += A->val[q] * x[A->col[q]];
    y[r] = s;
  }
}

static double dot(int64_t n, const double *x, const double *y) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += x[i] * y[i];
  return s;
}

static npde_status solve_direct(const csr *A, const double *b, double *u) {
  /* A's CSR arrays are the CSC arrays of A^T: solve (A^T)^T u = b */
  void *symbolic = NULL, *numeric = NULL;
  double control[UMFPACK_CONTROL], info[UMFPACK_INFO];
  umfpack_dl_defaults(control);
  long status = umfpack_dl_symbolic(A->n, A->n, (const long *)A->rowptr, (const long *)A->col, A->val, &symbolic,
                                    control, info);
  if (status == UMFPACK_OK)
    status = umfpack_dl_numeric((const long *)A->rowptr, (const long *)A->col, A->val, symbolic, &numeric, control,
                                info);
  if (status == UMFPACK_OK)
    status = umfpack_dl_solve(UMFPACK_At, (const long *)A->rowptr, (const long *)A->col, A->val, u, b, numeric,
                              control, info);
  if (symbolic) umfpack_dl_free_symbolic(&symbolic);
  if (numeric) umfpack_dl_free_numeric(&numeric);
  if (status != UMFPACK_OK)
    return NPDE_ERROR(status == UMFPACK_ERROR_out_of_memory ? NPDE_ERR_NOMEM : NPDE_ERR_NUMERIC,
                      "grid reference: UMFPACK failed with status %ld on %lld unknowns%s", status, (long long)A->n,
                      status == UMFPACK_WARNING_singular_matrix ? " (singular matrix)" : "");
  return NPDE_OK;
}

/* ILU(0): L (unit lower) and U in the pattern of A, stored in one value array. */
static npde_status ilu0(const csr *A, double *LU, int64_t *diag) {
  memcpy(LU, A->val, (size_t)A->nnz * sizeof *LU);
  for (int64_t r = 0; r < A->n; ++r) {
    diag[r] = -1;
    for (int64_t q = A->rowptr[r]; q < A->rowptr[r + 1]; ++q)
      if (A->col[q] == r) diag[r] = q;
  }
  for (int64_t i = 0; i < A->n; ++i) {
    for (int64_t q = A->rowptr[i]; q < A->rowptr[i + 1] && A->col[q] < i; ++q) {
      const int64_t k = A->col[q];
      if (LU[diag[k]] == 0.0)
        return NPDE_ERROR(NPDE_ERR_NUMERIC, "grid reference: ILU(0) met a zero pivot in row %lld; use method: direct",
                          (long long)k);
      LU[q] /= LU[diag[k]];
      /* row i -= LU[q] * row k (upper part, within i's pattern) */
      int64_t qi = q + 1;
      for (int64_t qk = diag[k] + 1; qk < A->rowptr[k + 1]; ++qk) {
        while (qi < A->rowptr[i + 1] && A->col[qi] < A->col[qk]) ++qi;
        if (qi < A->rowptr[i + 1] && A->col[qi] == A->col[qk]) LU[qi] -= LU[q] * LU[qk];
      }
    }
  }
  return NPDE_OK;
}

static void ilu_apply(const csr *A, const double *LU, const int64_t *diag, const double *r, double *z) {
  for (int64_t i = 0; i < A->n; ++i) {
    double s = r[i];
    for (int64_t q = A->rowptr[i]; q < diag[i]; ++q) s -= LU[q] * z[A->col[q]];
    z[i] = s;
  }
  for (int64_t i = A->n - 1; i >= 0; --i) {
    double s = z[i];
    for (int64_t q = diag[i] + 1; q < A->rowptr[i + 1]; ++q) s -= LU[q] * z[A->col[q]];
    z[i] = s / LU[diag[i]];
  }
}

/* Right-preconditioned BiCGSTAB from u = 0. */
static npde_status solve_bicgstab(const csr *A, const double *b, double *u, double tol, int64_t max_it,
                                  int64_t *iterations) {
  const int64_t n = A->n;
  double *LU = malloc((size_t)A->nnz * sizeof *LU), *work = malloc((size_t)n * 8 * sizeof *work);
  int64_t *diag = malloc((size_t)n * sizeof *diag);
  npde_status st = (!LU || !work || !diag) ? NPDE_ERROR(NPDE_ERR_NOMEM, "grid reference: out of memory") : NPDE_OK;
  if (st == NPDE_OK) st = ilu0(A, LU, diag);
  if (st != NPDE_OK) {
    free(LU), free(work), free(diag);
    return st;
  }
  double *r = work, *r0 = work + n, *p = work + 2 * n, *v = work + 3 * n, *ph = work + 4 * n, *s = work + 5 * n,
         *sh = work + 6 * n, *t = work + 7 * n;
  memset(u, 0, (size_t)n * sizeof *u);
  memcpy(r, b, (size_t)n * sizeof *r);
  memcpy(r0, b, (size_t)n * sizeof *r0);
  memset(p, 0, (size_t)n * sizeof *p);
  memset(v, 0, (size_t)n * sizeof *v);
  const double bnorm = sqrt(dot(n, b, b));
  double rho = 1.0, alpha = 1.0, omega = 1.0, rnorm = bnorm;
  int64_t it = 0;
  double last_log = npde__now_seconds();
  while (rnorm > tol * bnorm && it < max_it) {
    const double rho_new = dot(n, r0, r);
    if (rho_new == 0.0 || omega == 0.0) break; /* breakdown: restart below */
    const double beta = (rho_new / rho) * (alpha / omega);
    for (int64_t i = 0; i < n; ++i) p[i] = r[i] + beta * (p[i] - omega * v[i]);
    ilu_apply(A, LU, diag, p, ph);
    csr_mv(A, ph, v);
    alpha = rho_new / dot(n, r0, v);
    for (int64_t i = 0; i < n; ++i) s[i] = r[i] - alpha * v[i];
    ilu_apply(A, LU, diag, s, sh);
    csr_mv(A, sh, t);
    const double tt = dot(n, t, t);
    omega = tt > 0.0 ? dot(n, t, s) / tt : 0.0;
    for (int64_t i = 0; i < n; ++i) {
      u[i] += alpha * ph[i] + omega * sh[i];
      r[i] = s[i] - omega * t[i];
    }
    rho = rho_new;
    rnorm = sqrt(dot(n, r, r));
    ++it;
    if (npde__now_seconds() - last_log > 10.0) {
      npde_log(NPDE_LOG_INFO, "grid reference: BiCGSTAB iteration %lld, relative residual %.2e", (long long)it,
               rnorm / bnorm);
      last_log = npde__now_seconds();
    }
  }
  *iterations = it;
  free(LU), free(work), free(diag);
  if (!(rnorm <= tol * bnorm))
    return NPDE_ERROR(NPDE_ERR_NUMERIC,
                      "grid reference: BiCGSTAB reached relative residual %.2e after %lld iterations (tolerance %.1e)",
                      rnorm / bnorm, (long long)it, tol);
  return NPDE_OK;
}

npde_status npde_pde_grid_solve(const npde_pde *pde, const npde_grid *grid, const npde_grid_solve_options *opt,
                                double *u, npde_grid_solve_report *rep) {
  const npde_pde_info info = npde_pde_get_info(pde);
  if (info.sides == 0)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_grid_solve: the pde is not a discrete (interface) PDE");
  if (!grid || !u || grid->n[0] < 3 || grid->n[1] < 3 || grid->n[2] < 3)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pde_grid_solve: needs a grid of at least 3 nodes per axis");
  npde_grid_solve_options o = {.method = NPDE_GRID_SOLVE_AUTO, .tolerance = 1e-12, .max_iterations = 20000,
                               .direct_max_unknowns = 70000};
  if (opt) {
    o.method = opt->method;
    if (opt->tolerance > 0) o.tolerance = opt->tolerance;
    if (opt->max_iterations > 0) o.max_iterations = opt->max_iterations;
    if (opt->direct_max_unknowns > 0) o.direct_max_unknowns = opt->direct_max_unknowns;
  }
  const double t0 = npde__now_seconds();
  const int64_t N = grid->n[0] * grid->n[1] * grid->n[2];
  csr A = {0};
  double *b = malloc((size_t)N * sizeof *b);
  if (!b) return NPDE_ERROR(NPDE_ERR_NOMEM, "grid reference: out of memory");
  npde_status st = assemble(pde, grid, &A, b);
  const double t1 = npde__now_seconds();
  const bool direct = o.method == NPDE_GRID_SOLVE_DIRECT || (o.method == NPDE_GRID_SOLVE_AUTO && N <= o.direct_max_unknowns);
  int64_t iterations = 0;
  if (st == NPDE_OK) {
    npde_log(NPDE_LOG_INFO, "grid reference: %lld unknowns, %lld nonzeros, %s", (long long)N, (long long)A.nnz,
             direct ? "UMFPACK" : "BiCGSTAB + ILU(0)");
    st = direct ? solve_direct(&A, b, u) : solve_bicgstab(&A, b, u, o.tolerance, o.max_iterations, &iterations);
  }
  if (st == NPDE_OK && rep) {
    double *Au = malloc((size_t)N * sizeof *Au);
    double rr = NAN;
    if (Au) {
      csr_mv(&A, u, Au);
      double num = 0.0;
      for (int64_t i = 0; i < N; ++i) num += (Au[i] - b[i]) * (Au[i] - b[i]);
      rr = sqrt(num / fmax(dot(N, b, b), 1e-300));
      free(Au);
    }
    rep->unknowns = N;
    rep->nonzeros = A.nnz;
    rep->direct = direct;
    rep->iterations = iterations;
    rep->relative_residual = rr;
    rep->assembly_seconds = t1 - t0;
    rep->solve_seconds = npde__now_seconds() - t1;
  }
  csr_free(&A);
  free(b);
  return st;
}
