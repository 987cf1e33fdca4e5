/**
 * NumPy .npy arrays as the kernel reads them: the types, loading a file, and
 * decoding .npy bytes from any reader (the run engine reads .npz members
 * with it). Writing .npy/.npz files is the run engine's (npde_io.h).
 */
#ifndef NPDE_NPY_H
#define NPDE_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "npde_error.h"
#include "npde_export.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Element types of .npy arrays, with their NumPy descr: F64 '<f8', F32 '<f4',
 * I64 '<i8', U64 '<u8'. Since: ABI 1.0
 */
typedef enum npde_npy_type {
  NPDE_NPY_F64 = 0,
  NPDE_NPY_F32 = 1,
  NPDE_NPY_I64 = 2,
  NPDE_NPY_U64 = 3
} npde_npy_type;

/** Most dimensions an array may have (readers refuse more). Since: ABI 1.0 */
#define NPDE_NPY_MAX_DIMS 8

/**
 * An array read from a .npy file or an .npz member.
 *
 * `data` holds `count` elements of `type` in C (row-major) order; `count` is
 * the product of shape[0..ndim-1] (1 for ndim 0, a scalar). `data` is
 * allocated by the reader with malloc and is never NULL after a successful
 * read, even when count is 0. Release with npde_npy_array_free (or free()).
 * Since: ABI 1.0
 */
typedef struct npde_npy_array {
  npde_npy_type type;
  int ndim;
  int64_t shape[NPDE_NPY_MAX_DIMS];
  int64_t count;
  void *data;
} npde_npy_array;

/** Free a->data and zero *a; NULL-safe. Since: ABI 1.0 */
NPDE_API void npde_npy_array_free(npde_npy_array *a);

/** Bytes per element of an npy type; 0 for an unknown value. */
NPDE_API size_t npde_npy_type_size(npde_npy_type type);

/**
 * Load a .npy file. Accepted: versions 1.0, 2.0 and 3.0; descr '<f8', '<f4',
 * '<i8', '<u8' (also with '|' or '=' for the byte order); fortran_order
 * False, or True, in which case the data is transposed into C order.
 *
 * @param out  filled on success (free with npde_npy_array_free); zeroed on
 *             failure.
 * @return NPDE_OK; NPDE_ERR_IO naming the file for a missing or unreadable
 *         file, a wrong magic, a malformed or truncated header, truncated
 *         data, or an unsupported descr (the message quotes the descr found).
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_npy_load(const char *path, npde_npy_array *out);

/**
 * A byte source for npde_npy_decode: read up to n bytes into buf, *got < n
 * only at the end of the data.
 */
typedef npde_status (*npde_npy_reader)(void *ctx, void *buf, size_t n, size_t *got);

/**
 * Decode one .npy stream from read(ctx, ...), as npde_npy_load does a file.
 * avail: the bytes the source holds (checked before allocating), -1 if
 * unknown. what names the source in messages ("member 'x.npy' of 'r.npz'").
 */
NPDE_API NPDE_NODISCARD npde_status npde_npy_decode(const char *what, npde_npy_reader read, void *ctx, int64_t avail,
                                                    npde_npy_array *out);

#ifdef __cplusplus
}
#endif
#endif
