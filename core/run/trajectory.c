/* theta(t) at any time of an evolve stage: the nodes it keeps at its accepted
 * steps (t_i, theta_i, theta_dot_i and the segment, i.e. the restarts before
 * the node; theta jumps between segments) in DIR/trajectory.npz, and the
 * cubic Hermite interpolant in parameter space between two neighbouring
 * nodes of one segment (docs/methods/neural-ivp.md §5.6). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "run_context.h"

static npde_status grow(npde__trajectory *tr) {
  if (tr->n < tr->cap) return NPDE_OK;
  const int64_t cap = tr->cap ? 2 * tr->cap : 16;
  double *t = realloc(tr->t, (size_t)cap * sizeof *t);
  if (t) tr->t = t;
  int64_t *seg = t ? realloc(tr->segment, (size_t)cap * sizeof *seg) : NULL;
  if (seg) tr->segment = seg;
  double *th = seg ? realloc(tr->theta, (size_t)(cap * tr->p) * sizeof *th) : NULL;
  if (th) tr->theta = th;
  double *dot = th ? realloc(tr->dot, (size_t)(cap * tr->p) * sizeof *dot) : NULL;
  if (!dot) return NPDE_ERROR(NPDE_ERR_NOMEM, "trajectory: out of memory for %lld nodes of %lld parameters (keep "
                              "fewer with evolve.trajectory_every)", (long long)cap, (long long)tr->p);
  tr->dot = dot;
  tr->cap = cap;
  return NPDE_OK;
}

npde_status npde__trajectory_push(npde__trajectory *tr, double t, const double *theta, const double *dot,
                                  int64_t segment) {
  NPDE_TRY(grow(tr));
  tr->t[tr->n] = t;
  tr->segment[tr->n] = segment;
  memcpy(tr->theta + tr->n * tr->p, theta, (size_t)tr->p * sizeof *theta);
  memcpy(tr->dot + tr->n * tr->p, dot, (size_t)tr->p * sizeof *dot);
  tr->n++;
  return NPDE_OK;
}

void npde__trajectory_free(npde__trajectory *tr) {
  free(tr->t), free(tr->segment), free(tr->theta), free(tr->dot);
  const int64_t p = tr->p;
  *tr = (npde__trajectory){.p = p};
}

npde_status npde__trajectory_write(const npde__trajectory *tr, const char *path) {
  npde_npz_writer *w = NULL;
  const int64_t n = tr->n, shape[2] = {tr->n, tr->p};
  npde_status st = npde_npz_create(path, &w);
  if (st == NPDE_OK) st = npde_npz_add(w, "t", NPDE_NPY_F64, tr->t, 1, &n);
  if (st == NPDE_OK) st = npde_npz_add(w, "segment", NPDE_NPY_I64, tr->segment, 1, &n);
  if (st == NPDE_OK) st = npde_npz_add(w, "theta", NPDE_NPY_F64, tr->theta, 2, shape);
  if (st == NPDE_OK) st = npde_npz_add(w, "theta_dot", NPDE_NPY_F64, tr->dot, 2, shape);
  if (st == NPDE_OK) return npde_npz_commit(&w);
  npde_npz_abort(&w);
  return st;
}

npde_status npde__trajectory_read(const char *path, npde__trajectory *tr) {
  static const char *const names[4] = {"t", "segment", "theta", "theta_dot"};
  npde_npy_array a[4] = {{0}};
  npde_status st = NPDE_OK;
  for (int i = 0; i < 4 && st == NPDE_OK; ++i) st = npde_npz_read(path, names[i], &a[i]);
  const int64_t n = a[0].count;
  if (st == NPDE_OK && (a[0].type != NPDE_NPY_F64 || a[1].type != NPDE_NPY_I64 || a[1].count != n ||
                        a[2].type != NPDE_NPY_F64 || a[3].type != NPDE_NPY_F64 || a[2].count != n * tr->p ||
                        a[3].count != n * tr->p))
    st = NPDE_ERROR(NPDE_ERR_IO, "'%s' does not hold a trajectory of this network (%lld parameters)", path,
                    (long long)tr->p);
  for (int64_t i = 1; st == NPDE_OK && i < n; ++i) {
    const double *t = a[0].data;
    const int64_t *seg = a[1].data;
    if (!(t[i] >= t[i - 1]) || seg[i] < seg[i - 1] || (seg[i] == seg[i - 1] && t[i] == t[i - 1]))
      st = NPDE_ERROR(NPDE_ERR_IO, "'%s': node %lld (t = %.17g) does not follow node %lld", path, (long long)i, t[i],
                      (long long)(i - 1));
  }
  if (st == NPDE_OK) {
    npde__trajectory_free(tr);
    tr->n = tr->cap = n;
    tr->t = a[0].data, tr->segment = a[1].data, tr->theta = a[2].data, tr->dot = a[3].data;
    for (int i = 0; i < 4; ++i) a[i].data = NULL;
  }
  for (int i = 0; i < 4; ++i) npde_npy_array_free(&a[i]);
  return st;
}

/* The node interval holding t: (t_i, t_{i+1}] within one segment, or [t_0, t_0]; at a restart time the segment
 * that ends there (the value an output at that time recorded). */
static int64_t interval(const npde__trajectory *tr, double t) {
  if (tr->n > 0 && t == tr->t[0]) return 0;
  int64_t lo = 0, hi = tr->n - 1; /* the first node with t_i >= t, by bisection */
  if (tr->n == 0 || !(t > tr->t[0] && t <= tr->t[hi])) return -1;
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (tr->t[mid] >= t) hi = mid;
    else lo = mid;
  }
  return tr->segment[hi - 1] == tr->segment[hi] ? hi - 1 : -1;
}

npde_status npde__trajectory_at(const npde__trajectory *tr, double t, double *theta) {
  const int64_t i = interval(tr, t), p = tr->p;
  if (i < 0)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "t = %.9g is outside the trajectory's [%.9g, %.9g]", t,
                      tr->n ? tr->t[0] : NAN, tr->n ? tr->t[tr->n - 1] : NAN);
  if (t == tr->t[i]) {
    memcpy(theta, tr->theta + i * p, (size_t)p * sizeof *theta);
    return NPDE_OK;
  }
  const double h = tr->t[i + 1] - tr->t[i], s = (t - tr->t[i]) / h, r = 1.0 - s;
  const double h00 = (1.0 + 2.0 * s) * r * r, h10 = s * r * r * h, h01 = s * s * (3.0 - 2.0 * s), h11 = -s * s * r * h;
  const double *a = tr->theta + i * p, *b = a + p, *da = tr->dot + i * p, *db = da + p;
  for (int64_t j = 0; j < p; ++j) theta[j] = h00 * a[j] + h10 * da[j] + h01 * b[j] + h11 * db[j];
  return NPDE_OK;
}
