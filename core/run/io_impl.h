/* Private: helpers shared by the file writers (io_file.c, io_npy.c, io_vti.c). */
#ifndef NPDE_IO_IMPL_H
#define NPDE_IO_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "npde/npde_io.h"
#include "npy_impl.h"

/* A file being written atomically: "<path>.tmp.<pid>" until committed. */
typedef struct npde__afile {
  int fd;     /* -1 when closed */
  char *path; /* final path (owned) */
  char *tmp;  /* temporary path (owned) */
} npde__afile;

/* Create the temporary (truncating a stale one). On failure *f is empty and
 * the error names `path`. */
npde_status npde__afile_open(const char *path, npde__afile *f);
/* Write all n bytes (retrying short writes and EINTR). Does not clean up. */
npde_status npde__afile_write(npde__afile *f, const void *data, size_t n);
/* fsync, close, rename over the final path, fsync the directory (best
 * effort). Always releases *f; on failure the temporary is unlinked. */
npde_status npde__afile_commit(npde__afile *f);
/* Close, unlink the temporary, release *f. Safe on an empty *f. */
void npde__afile_abort(npde__afile *f);

/* The .npy/.vti writers and readers assume a little-endian host: the kernel's npde__check_little_endian. */

#endif
