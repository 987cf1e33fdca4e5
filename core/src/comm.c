/* The ranks of a data-parallel run (npde_comm.h): MPI_COMM_WORLD when built
 * with MPI and started by mpirun, one rank otherwise. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "comm_impl.h"
#include "npde/npde_comm.h"
#include "npde/npde_log.h"

#ifdef NPDE_HAVE_MPI
#include <mpi.h>
#endif

static struct {
  bool joined; /* MPI_Init ran */
  int rank, size, local_rank, local_size;
  int64_t calls, doubles;
} world = {.size = 1, .local_size = 1};

bool npde_comm_has_mpi(void) {
#ifdef NPDE_HAVE_MPI
  return true;
#else
  return false;
#endif
}

/* mpirun (Open MPI's ORTE or PRRTE, or a PMI launcher such as srun) sets these in each rank's environment. */
static bool started_by_launcher(void) {
  static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; ++i)
    if (getenv(vars[i])) return true;
  return false;
}

npde_status npde_comm_init(int *argc, char ***argv) {
  (void)argc, (void)argv;
  if (world.joined || !started_by_launcher()) return NPDE_OK;
#ifdef NPDE_HAVE_MPI
  if (MPI_Init(argc, argv) != MPI_SUCCESS) return NPDE_ERROR(NPDE_ERR_IO, "MPI_Init failed");
  world.joined = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world.size);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world.rank, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &world.local_rank);
  MPI_Comm_size(local, &world.local_size);
  MPI_Comm_free(&local);
  return NPDE_OK;
#else
  const char *k = getenv("OMPI_COMM_WORLD_SIZE");
  if (k && atoi(k) > 1)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "started by mpirun with %s ranks, but this npde was built without "
                      "MPI: install libopenmpi-dev and openmpi-bin and rebuild (cmake finds them)", k);
  return NPDE_OK;
#endif
}

void npde_comm_finalize(void) {
#ifdef NPDE_HAVE_MPI
  if (world.joined) MPI_Finalize();
#endif
  world.joined = false;
}

void npde_comm_abort(int code) {
  fflush(stdout);
  fflush(stderr);
#ifdef NPDE_HAVE_MPI
  if (world.joined && world.size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  exit(code);
}

int npde_comm_rank(void) { return world.rank; }
int npde_comm_size(void) { return world.size; }
int npde_comm_local_rank(void) { return world.local_rank; }
int npde_comm_local_size(void) { return world.local_size; }

npde_status npde_comm_allreduce(double *buf, int64_t n, npde_comm_op op) {
  if (world.size == 1 || n <= 0) return NPDE_OK;
  world.calls++;
  world.doubles += n;
#ifdef NPDE_HAVE_MPI
  for (int64_t i = 0; i < n; i += INT_MAX / 2) {
    const int cnt = (int)(n - i < INT_MAX / 2 ? n - i : INT_MAX / 2);
    if (MPI_Allreduce(MPI_IN_PLACE, buf + i, cnt, MPI_DOUBLE, op == NPDE_COMM_MAX ? MPI_MAX : MPI_SUM,
                      MPI_COMM_WORLD) != MPI_SUCCESS)
      return NPDE_ERROR(NPDE_ERR_IO, "rank %d: MPI_Allreduce of %lld values failed", world.rank, (long long)n);
  }
#else
  (void)buf, (void)op;
#endif
  return NPDE_OK;
}

static void slice_of(int rank, int64_t n, int64_t align, int64_t *begin, int64_t *count) {
  const int64_t K = world.size;
  if (align < 1) align = 1;
  /* the start of rank r: r n / K rounded down to a multiple of align (without overflowing r n) */
  int64_t b[2];
  for (int j = 0; j < 2; ++j) {
    const int64_t r = rank + j;
    if (r >= K) b[j] = n;
    else {
      const int64_t s = (n / K) * r + (n % K) * r / K;
      b[j] = r == 0 ? 0 : s - s % align;
    }
  }
  *begin = b[0];
  *count = b[1] - b[0];
}

void npde_comm_slice(int64_t n, int64_t align, int64_t *begin, int64_t *count) {
  slice_of(world.rank, n, align, begin, count);
}

void npde_comm_stats(int64_t *calls, int64_t *doubles) {
  if (calls) *calls = world.calls;
  if (doubles) *doubles = world.doubles;
}

/* ------------------------------------------------- reductions of backend memory */

/* The n doubles of a contiguous F64 view where the host can read them: the view itself when the backend's
 * memory is the host's (no copy: reductions sit inside CG), else s's staging copy (*copied). */
static npde_status host_view(npde_backend *be, const npde_mat *m, npde__comm_scratch *s, double **out, bool *copied) {
  if (m->dtype != NPDE_F64 || (m->ld != m->cols && m->rows > 1))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "allreduce: the view must be contiguous double precision");
  const int64_t n = m->rows * m->cols;
  *copied = npde_backend_memtype(be) != NPDE_MEM_HOST;
  if (!*copied) {
    *out = m->data;
    return NPDE_OK;
  }
  if ((size_t)n > s->cap) {
    double *h = realloc(s->host, (size_t)n * sizeof *h);
    if (!h) return NPDE_ERROR(NPDE_ERR_NOMEM, "allreduce: out of memory for %lld values", (long long)n);
    s->host = h;
    s->cap = (size_t)n;
  }
  *out = s->host;
  return npde_backend_download(be, s->host, m->data, (size_t)n * sizeof(double));
}

npde_status npde__comm_allreduce_mat(npde_backend *be, npde_mat *m, npde__comm_scratch *s) {
  if (world.size == 1) return NPDE_OK;
  double *h;
  bool copied;
  NPDE_TRY(host_view(be, m, s, &h, &copied));
  const int64_t n = m->rows * m->cols;
  NPDE_TRY(npde_comm_allreduce(h, n, NPDE_COMM_SUM));
  return copied ? npde_backend_upload(be, m->data, h, (size_t)n * sizeof(double)) : NPDE_OK;
}

npde_status npde__comm_check_replicated(npde_backend *be, const npde_mat *v, npde__comm_scratch *s, const char *what) {
  if (world.size == 1) return NPDE_OK;
  double *host;
  bool copied;
  NPDE_TRY(host_view(be, v, s, &host, &copied));
  const int64_t n = v->rows * v->cols;
  uint64_t h = 1469598103934665603ull; /* FNV-1a over the bytes */
  const unsigned char *b = (const unsigned char *)host;
  for (size_t i = 0; i < (size_t)n * sizeof(double); ++i) h = (h ^ b[i]) * 1099511628211ull;
  double m[4] = {(double)(h >> 32), (double)(h & 0xffffffffu)}; /* exact in a double */
  m[2] = -m[0];
  m[3] = -m[1];
  NPDE_TRY(npde_comm_allreduce(m, 4, NPDE_COMM_MAX));
  if (m[0] != -m[2] || m[1] != -m[3])
    return NPDE_ERROR(NPDE_ERR_NUMERIC, "data-parallel: the ranks no longer hold the same %s (rank %d's differ); "
                      "this is a bug or ranks on different hardware: rerun with fewer ranks", what, world.rank);
  return NPDE_OK;
}

void npde__comm_scratch_free(npde__comm_scratch *s) {
  free(s->host);
  s->host = NULL;
  s->cap = 0;
}

/* Y = scale * sum over ranks of inner(X): each rank's operator sums over its own samples. */
static npde_status dist_apply(npde__dist_op *d, const npde_mat *X, npde_mat *Y, bool block) {
  NPDE_TRY(block ? npde_linop_apply_block(&d->inner, X, Y) : d->inner.matvec(d->inner.ctx, X, Y));
  if (world.size == 1) return NPDE_OK;
  if (d->scale != 1.0) NPDE_TRY(npde_backend_scal(d->be, d->scale, Y));
  d->products += Y->cols;
  d->doubles += Y->rows * Y->cols;
  return npde__comm_allreduce_mat(d->be, Y, &d->scratch);
}

static npde_status dist_matvec(void *ctx, const npde_mat *x, npde_mat *y) { return dist_apply(ctx, x, y, false); }
static npde_status dist_matmat(void *ctx, const npde_mat *X, npde_mat *Y) { return dist_apply(ctx, X, Y, true); }

npde_linop npde__dist_op_wrap(npde__dist_op *d, npde_linop inner, double scale, npde_backend *be) {
  d->inner = inner;
  d->scale = scale;
  d->be = be;
  if (world.size == 1) return inner; /* one rank: the operator itself, bit for bit */
  return (npde_linop){.n = inner.n, .dtype = inner.dtype, .matvec = dist_matvec, .matmat = dist_matmat, .ctx = d};
}
