/**
 * File output for runs: NumPy .npy/.npz and VTK XML ImageData (.vti) with
 * ParaView collections (.pvd).
 *
 * Why these formats: a run directory must be readable without npde.
 * `numpy.load` reads .npy/.npz (results, checkpoints), ParaView reads .vti and
 * .pvd (fields on grids). Only the subset npde writes is supported: four
 * little-endian element types, C order on output.
 *
 * Every writer is atomic: it writes "<path>.tmp.<pid>", fsyncs it and renames
 * it over `path`, so a reader (or a crash) sees either the old file or the
 * complete new one, never a partial file. On failure the temporary is removed
 * and the error names `path`. Two threads of one process must not write the
 * same path at the same time (they would share the temporary name).
 *
 * Format errors (wrong magic, truncated data, an unsupported dtype) are
 * reported as NPDE_ERR_IO with the file and what was found. Big-endian hosts
 * are refused at run time with NPDE_ERR_NOT_IMPLEMENTED.
 *
 * Threads: every call is independent; no global state besides the
 * thread-local error message.
 */
#ifndef NPDE_IO_H
#define NPDE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "npde_error.h"
#include "npde_export.h"
#include "npde_npy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ plain files */

/**
 * Write `size` bytes to `path` atomically: "<path>.tmp.<pid>" is written,
 * fsynced and renamed over `path` (then the directory is fsynced, best
 * effort). The directory must exist.
 *
 * @return NPDE_OK; NPDE_ERR_IO naming `path` and strerror (the temporary is
 *         unlinked); NPDE_ERR_INVALID_ARG for a NULL path or NULL data with
 *         size > 0.
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_write_file_atomic(const char *path, const void *data, size_t size);

/**
 * Create directory `path` and its missing parents (mode 0777 less umask),
 * like `mkdir -p`. An existing directory is fine.
 *
 * @return NPDE_OK; NPDE_ERR_IO naming the path (and the component that
 *         failed) when a component cannot be created or is not a directory.
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_mkdir_p(const char *path);

/* ------------------------------------------------------------------- .npy */

/**
 * Save an array as a .npy file (format 1.0; 2.0 only if the header would
 * exceed 65535 bytes), atomically. The header is padded so that the data
 * starts at a multiple of 64 bytes, as numpy does.
 *
 * @param data   ndim == 0: one element; otherwise prod(shape) elements in C
 *               order (may be NULL when that product is 0). Borrowed.
 * @param ndim   0 (a scalar) to NPDE_NPY_MAX_DIMS
 * @param shape  ndim entries >= 0 (ignored, may be NULL, for ndim 0)
 * @return NPDE_OK; NPDE_ERR_INVALID_ARG; NPDE_ERR_IO naming the path.
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_npy_save(const char *path, npde_npy_type type, const void *data, int ndim,
                                                  const int64_t *shape);

/* ------------------------------------------------------------------- .npz */

/**
 * An .npz file being written: a zip archive (written with libarchive, members
 * stored uncompressed, as numpy.savez does) of .npy members and raw members.
 * Opaque. Since: ABI 1.0
 */
typedef struct npde_npz_writer npde_npz_writer;

/**
 * Start writing `path`: opens "<path>.tmp.<pid>". Nothing appears at `path`
 * until npde_npz_commit succeeds.
 *
 * @param out  receives the writer; finish with npde_npz_commit or
 *             npde_npz_abort. Ownership: the caller owns *out.
 * @return NPDE_OK; NPDE_ERR_IO naming `path` (e.g. its directory does not
 *         exist); NPDE_ERR_NOMEM.
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_npz_create(const char *path, npde_npz_writer **out);

/**
 * Add member "<name>.npy" holding an array (arguments as for npde_npy_save;
 * ndim 0 is a scalar). numpy.load(path)[name] returns it.
 *
 * @return NPDE_OK; NPDE_ERR_INVALID_ARG; NPDE_ERR_IO. After a failure the
 *         writer can only be aborted (commit fails and cleans up too).
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_npz_add(npde_npz_writer *w, const char *name, npde_npy_type type,
                                                 const void *data, int ndim, const int64_t *shape);

/**
 * Add a raw member named exactly `member` (e.g. "config.yaml"). numpy.load
 * ignores members not ending in .npy when indexing by key, but lists them in
 * `.files`. Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_npz_add_bytes(npde_npz_writer *w, const char *member, const void *data,
                                                       size_t size);

/**
 * Finish the archive, fsync it and rename it over the final path (replacing
 * an existing file atomically). Frees the writer and sets *w to NULL in every
 * case; on failure the temporary is unlinked and nothing at the final path
 * changes.
 *
 * @return NPDE_OK; NPDE_ERR_IO naming the path; NPDE_ERR_INVALID_ARG for a
 *         NULL writer.
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_npz_commit(npde_npz_writer **w);

/**
 * Drop the archive: unlink the temporary, free the writer, set *w to NULL.
 * NULL-safe (w or *w). Since: ABI 1.0
 */
NPDE_API void npde_npz_abort(npde_npz_writer **w);

/**
 * Read array member "<name>.npy" of an .npz file (written by npde or by
 * numpy.savez / savez_compressed); what npde_npy_load accepts is accepted.
 *
 * @return NPDE_OK; NPDE_ERR_NOT_FOUND naming the member and listing the
 *         members present; NPDE_ERR_IO naming the file (and member).
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_npz_read(const char *path, const char *name, npde_npy_array *out);

/**
 * fn(member) for every member name of the .npz at path ("theta.npy", ...),
 * in the archive's order; stops at the first status fn returns that is not
 * NPDE_OK and returns it. Since: ABI 1.3
 */
NPDE_API NPDE_NODISCARD npde_status npde_npz_members(const char *path,
                                                     npde_status (*fn)(const char *member, void *user), void *user);

/**
 * Read raw member `member` of an .npz file into a malloc'd buffer (*data,
 * release with free()); one NUL byte follows the data (not counted in
 * *size), so text members can be used as strings.
 *
 * @return NPDE_OK; NPDE_ERR_NOT_FOUND as npde_npz_read; NPDE_ERR_IO;
 *         NPDE_ERR_NOMEM. *data is NULL and *size 0 on failure.
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_npz_read_bytes(const char *path, const char *member, void **data,
                                                        size_t *size);

/* ------------------------------------------------------------- .vti / .pvd */

/**
 * A point-data field for npde_vti_write. `components` values per point
 * (1: scalar, 3: vector), x fastest:
 * data[((k*ny + j)*nx + i)*components + c]. Borrowed. Since: ABI 1.0
 */
typedef struct npde_vti_field {
  const char *name;
  int components;
  const double *data;
} npde_vti_field;

/**
 * A uniform grid of dims[0] x dims[1] x dims[2] points (each >= 1; a 2D grid
 * has dims[2] = 1), point (i, j, k) at origin + (i, j, k) * spacing; origin
 * finite, spacing finite and > 0. Since: ABI 1.0
 */
typedef struct npde_vti_grid {
  int64_t dims[3];
  double origin[3], spacing[3];
} npde_vti_grid;

/**
 * Write a VTK XML ImageData file (version 1.0, LittleEndian, header_type
 * UInt64) with the fields as Float64 point data in one raw appended block,
 * WholeExtent = Extent = "0 nx-1 0 ny-1 0 nz-1", atomically. ParaView and
 * vtkXMLImageDataReader read it.
 *
 * @param fields    n_fields fields with distinct non-empty names (escaped in
 *                  the XML) and components >= 1.
 * @return NPDE_OK; NPDE_ERR_INVALID_ARG; NPDE_ERR_IO naming the path.
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_vti_write(const char *path, const npde_vti_grid *g,
                                                   const npde_vti_field *fields, int n_fields);

/**
 * Write a ParaView collection (.pvd) listing `n` datasets: files[i] at time
 * times[i] (finite), atomically. Paths in `files` are written as given and are
 * read by ParaView relative to the .pvd's directory.
 *
 * @return NPDE_OK; NPDE_ERR_INVALID_ARG; NPDE_ERR_IO naming the path.
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_pvd_write(const char *path, int64_t n, const double *times,
                                                   const char *const *files);

#ifdef __cplusplus
}
#endif
#endif
