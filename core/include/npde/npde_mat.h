/**
 * Buffers and matrix views.
 *
 * A buffer is memory owned by a backend (host memory for the CPU backend,
 * device memory for CUDA). Arrays cross interfaces as borrowed npde_mat views
 * into buffers: row-major, element (i, j) at data[i * ld + j]. A vector is a
 * view with cols = 1 (ld = 1).
 */
#ifndef NPDE_MAT_H
#define NPDE_MAT_H

#include <stddef.h>
#include <stdint.h>

#include "npde_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum npde_dtype { NPDE_F64 = 0, NPDE_F32 = 1 } npde_dtype;

/** Bytes per element of a dtype. */
static inline size_t npde_dtype_size(npde_dtype t) { return t == NPDE_F32 ? 4u : 8u; }

typedef enum npde_memtype {
  NPDE_MEM_HOST = 0,
  NPDE_MEM_PINNED = 1,
  NPDE_MEM_DEVICE = 2,
  NPDE_MEM_MANAGED = 3
} npde_memtype;

/** A borrowed row-major view. `data` points into backend memory. */
typedef struct npde_mat {
  void *data;
  int64_t rows, cols, ld; /* ld >= cols: elements between consecutive rows */
  npde_dtype dtype;
} npde_mat;

/**
 * A sparse matrix in compressed sparse row form, borrowed, in backend
 * memory: row i holds values[k] in column colind[k] for rowptr[i] <= k <
 * rowptr[i + 1]; rowptr has rows + 1 entries, starting at 0 and ending at
 * nnz; every colind is in [0, cols). A column may repeat within a row (its
 * entries add). Since: ABI 1.3
 */
typedef struct npde_csr {
  const int64_t *rowptr;
  const int64_t *colind;
  const void *values; /* nnz elements of dtype */
  int64_t rows, cols, nnz;
  npde_dtype dtype;
} npde_csr;

/** A view of rows x cols contiguous elements starting at data. */
static inline npde_mat npde_mat_view(void *data, npde_dtype dtype, int64_t rows, int64_t cols) {
  npde_mat m;
  m.data = data; m.rows = rows; m.cols = cols; m.ld = cols; m.dtype = dtype;
  return m;
}

/** The sub-view of rows [r0, r0+nr) and columns [c0, c0+nc). */
static inline npde_mat npde_mat_sub(npde_mat m, int64_t r0, int64_t c0, int64_t nr, int64_t nc) {
  npde_mat s = m;
  s.data = (char *)m.data + (size_t)(r0 * m.ld + c0) * npde_dtype_size(m.dtype);
  s.rows = nr; s.cols = nc;
  return s;
}

/** The view m shifted by `elems` elements (same shape): block i of a strided batch is npde_mat_offset(m, i * stride). */
static inline npde_mat npde_mat_offset(npde_mat m, int64_t elems) {
  m.data = (char *)m.data + (size_t)elems * npde_dtype_size(m.dtype);
  return m;
}

#ifdef __cplusplus
}
#endif
#endif
