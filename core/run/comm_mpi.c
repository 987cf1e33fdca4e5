/* MPI_COMM_WORLD as the kernel's communicator (npde_mpi.h), joined only when
 * a launcher (mpirun, srun) started the process. Builds without MPI stay one
 * rank and refuse a multi-rank launch with the packages to install. */
#include <limits.h>
#include <stdlib.h>

#include "npde/npde_comm.h"
#include "npde/npde_mpi.h"

#ifdef NPDE_HAVE_MPI
#include <mpi.h>
#endif

static bool joined; /* MPI_Init ran */

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

#ifdef NPDE_HAVE_MPI
static npde_status mpi_allreduce(double *buf, int64_t n, npde_comm_op op) {
  for (int64_t i = 0; i < n; i += INT_MAX / 2) {
    const int cnt = (int)(n - i < INT_MAX / 2 ? n - i : INT_MAX / 2);
    if (MPI_Allreduce(MPI_IN_PLACE, buf + i, cnt, MPI_DOUBLE, op == NPDE_COMM_MAX ? MPI_MAX : MPI_SUM,
                      MPI_COMM_WORLD) != MPI_SUCCESS)
      return NPDE_ERROR(NPDE_ERR_IO, "rank %d: MPI_Allreduce of %lld values failed", npde_comm_rank(), (long long)n);
  }
  return NPDE_OK;
}

static void mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

static void mpi_finalize(void) {
  if (joined) MPI_Finalize();
  joined = false;
}
#endif

npde_status npde_comm_init(int *argc, char ***argv) {
  (void)argc, (void)argv;
  if (joined || !started_by_launcher()) return NPDE_OK;
#ifdef NPDE_HAVE_MPI
  if (MPI_Init(argc, argv) != MPI_SUCCESS) return NPDE_ERROR(NPDE_ERR_IO, "MPI_Init failed");
  joined = true;
  int rank, size, local_rank, local_size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &local_rank);
  MPI_Comm_size(local, &local_size);
  MPI_Comm_free(&local);
  static const npde_comm_transport mpi = {
      .name = "MPI", .allreduce = mpi_allreduce, .abort = mpi_abort, .finalize = mpi_finalize};
  return npde_comm_install(&mpi, rank, size, local_rank, local_size);
#else
  const char *k = getenv("OMPI_COMM_WORLD_SIZE");
  if (k && atoi(k) > 1)
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "started by mpirun with %s ranks, but this npde was built without "
                      "MPI: install libopenmpi-dev and openmpi-bin and rebuild (cmake finds them)", k);
  return NPDE_OK;
#endif
}
