/* The ranks of a data-parallel run (npde_comm.h): a communicator that the
 * run engine installs (MPI_COMM_WORLD under mpirun), one rank otherwise.
 * The kernel itself links no MPI. */
#include <stdio.h>
#include <stdlib.h>

#include "log_impl.h"
#include "npde/npde_comm.h"

static npde_comm_transport transport; /* all NULL: one process */
static struct {
  int rank, size, local_rank, local_size;
  int64_t calls, doubles;
} world = {.size = 1, .local_size = 1};

npde_status npde_comm_install(const npde_comm_transport *t, int rank, int size, int local_rank, int local_size) {
  if (!t || size < 1 || rank < 0 || rank >= size || local_size < 1 || local_rank < 0 || local_rank >= local_size)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_comm_install: rank %d of %d (local %d of %d) is not a communicator",
                      rank, size, local_rank, local_size);
  if (size > 1 && !t->allreduce)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_comm_install: %d ranks need an allreduce", size);
  transport = *t;
  world.rank = rank;
  world.size = size;
  world.local_rank = local_rank;
  world.local_size = local_size;
  npde__log_set_rank(rank);
  return NPDE_OK;
}

void npde_comm_finalize(void) {
  if (transport.finalize) transport.finalize();
  transport = (npde_comm_transport){0};
  world.rank = world.local_rank = 0;
  world.size = world.local_size = 1;
  npde__log_set_rank(0);
}

void npde_comm_abort(int code) {
  fflush(stdout);
  fflush(stderr);
  if (transport.abort && world.size > 1) transport.abort(code);
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
  return transport.allreduce(buf, n, op);
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
