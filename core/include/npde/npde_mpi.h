/**
 * MPI for data-parallel runs (the run engine, libnpde_run): joins
 * MPI_COMM_WORLD and installs it as the kernel's communicator (npde_comm.h).
 */
#ifndef NPDE_MPI_H
#define NPDE_MPI_H

#include <stdbool.h>

#include "npde_comm.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Join the run's ranks when the process was started by mpirun (Open MPI,
 * PMIx or PMI environment); otherwise stay one rank. Call once, before any
 * other npde call, with main's arguments; npde_comm_finalize leaves. Since: ABI 1.1
 */
NPDE_API NPDE_NODISCARD npde_status npde_comm_init(int *argc, char ***argv);
/** This build can run on MPI (Open MPI was found when it was built). */
NPDE_API bool npde_comm_has_mpi(void);

#ifdef __cplusplus
}
#endif
#endif
