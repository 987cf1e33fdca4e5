/* Kernel-internal, exported for the run engine's writers: the .npy/.vti
 * files are little-endian and nothing swaps bytes. */
#ifndef NPDE_NPY_IMPL_H
#define NPDE_NPY_IMPL_H

#include "npde/npde_npy.h"

/* NPDE_OK on a little-endian host, else NPDE_ERR_NOT_IMPLEMENTED naming `what`. */
NPDE_API npde_status npde__check_little_endian(const char *what);

#endif
