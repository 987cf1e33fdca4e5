/* The backend dispatcher: argument checks, then the plugin's op. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde_backend.h"
#include "npde/plugin/npde_backend_ops.h"
#include "registry_impl.h"

struct npde_backend {
  npde_object hdr;
};

static const char *const op_names[] = {
#define NPDE__OP_NAME(ID, name) #name,
    NPDE_BACKEND_OP_LIST(NPDE__OP_NAME)
#undef NPDE__OP_NAME
};
_Static_assert(sizeof op_names / sizeof op_names[0] == NPDE_OP_COUNT, "op name table out of step with the op enum");

static const char *const activation_names[] = {
#define NPDE__ACT_NAME(ID, name) #name,
    NPDE_ACTIVATION_LIST(NPDE__ACT_NAME)
#undef NPDE__ACT_NAME
};
_Static_assert(sizeof activation_names / sizeof activation_names[0] == NPDE_ACT_COUNT,
               "activation name table out of step with the enum");

const char *npde_backend_op_name(npde_backend_op op) {
  return (unsigned)op < NPDE_OP_COUNT ? op_names[op] : "?";
}
const char *npde_activation_name(npde_activation act) {
  return (unsigned)act < NPDE_ACT_COUNT ? activation_names[act] : "?";
}
npde_status npde_activation_from_name(const char *name, npde_activation *out) {
  for (int i = 0; name && i < NPDE_ACT_COUNT; ++i)
    if (strcmp(name, activation_names[i]) == 0) { *out = (npde_activation)i; return NPDE_OK; }
  return NPDE_ERROR(NPDE_ERR_NOT_FOUND, "unknown activation '%s'; valid: identity, swish, tanh, sin",
                    name ? name : "(null)");
}

#define OPS(be) ((const npde_backend_ops *)(be)->hdr.impl->ops)

/* Offset of each optional slot, indexed by op, to answer supports(). */
static const void *slot_of(const npde_backend_ops *o, npde_backend_op op) {
  switch (op) {
#define NPDE__OP_SLOT(ID, name) case NPDE_OP_##ID: return (const void *)(uintptr_t)o->name;
    NPDE_BACKEND_OP_LIST(NPDE__OP_SLOT)
#undef NPDE__OP_SLOT
    default: return NULL;
  }
}

static bool valid_backend(const npde_backend *be) {
  return be && be->hdr.magic == NPDE_MAGIC_OBJECT && be->hdr.kind == NPDE_KIND_BACKEND;
}

npde_status npde_backend_create(const npde_registry *reg, const char *name, const npde_config *node,
                                npde_backend **out) {
  return npde__object_create_kind(reg, NPDE_KIND_BACKEND, name, node, NULL, (npde_object **)out);
}

void npde_backend_destroy(npde_backend **bep) { npde_object_destroy((npde_object **)bep); }

const char *npde_backend_name(const npde_backend *be) { return valid_backend(be) ? be->hdr.type_name : "?"; }

npde_memtype npde_backend_memtype(const npde_backend *be) {
  return valid_backend(be) ? OPS(be)->memtype(be) : NPDE_MEM_HOST;
}

const char *npde_backend_describe(const npde_backend *be) {
  if (!valid_backend(be)) return "?";
  return OPS(be)->describe ? OPS(be)->describe(be) : be->hdr.type_name;
}

bool npde_backend_supports(const npde_backend *be, npde_backend_op op, npde_dtype dtype) {
  if (!valid_backend(be) || (unsigned)op >= NPDE_OP_COUNT) return false;
  if (!slot_of(OPS(be), op)) return false;
  return OPS(be)->supports ? OPS(be)->supports(be, op, dtype) : true;
}

/* ------------------------------------------------------------ arg checks */

static npde_status need(const npde_backend *be, npde_backend_op op, npde_dtype dtype) {
  if (!valid_backend(be))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_%s: not a live backend handle", npde_backend_op_name(op));
  if (!slot_of(OPS(be), op))
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "backend '%s' has no '%s'", be->hdr.type_name,
                      npde_backend_op_name(op));
  if (OPS(be)->supports && !OPS(be)->supports(be, op, dtype))
    return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "backend '%s' has no '%s' for %s", be->hdr.type_name,
                      npde_backend_op_name(op), dtype == NPDE_F32 ? "f32" : "f64");
  return NPDE_OK;
}

static npde_status check_mat(npde_backend_op op, const char *what, const npde_mat *m) {
  if (!m) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_%s: %s is NULL", npde_backend_op_name(op), what);
  if (m->rows < 0 || m->cols < 0 || m->ld < (m->cols > 1 ? m->cols : 1) ||
      (m->dtype != NPDE_F64 && m->dtype != NPDE_F32))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_%s: %s is not a valid view (%lld x %lld, ld %lld)",
                      npde_backend_op_name(op), what, (long long)m->rows, (long long)m->cols, (long long)m->ld);
  if (!m->data && m->rows && m->cols)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_%s: %s has no data", npde_backend_op_name(op), what);
  return NPDE_OK;
}

static npde_status check_shape(npde_backend_op op, const char *what, const npde_mat *m, int64_t rows, int64_t cols,
                               npde_dtype dtype) {
  NPDE_TRY(check_mat(op, what, m));
  if (m->rows != rows || m->cols != cols)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_%s: %s is %lld x %lld, expected %lld x %lld",
                      npde_backend_op_name(op), what, (long long)m->rows, (long long)m->cols, (long long)rows,
                      (long long)cols);
  if (m->dtype != dtype)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_%s: %s has another dtype than the first operand",
                      npde_backend_op_name(op), what);
  return NPDE_OK;
}

static npde_status check_vector(npde_backend_op op, const char *what, const npde_mat *v, int64_t len,
                                npde_dtype dtype) {
  NPDE_TRY(check_mat(op, what, v));
  if (!((v->cols == 1 && v->rows == len) || (v->rows == 1 && v->cols == len)))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_%s: %s is %lld x %lld, expected a vector of %lld",
                      npde_backend_op_name(op), what, (long long)v->rows, (long long)v->cols, (long long)len);
  if (v->dtype != dtype)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_%s: %s has another dtype than the first operand",
                      npde_backend_op_name(op), what);
  return NPDE_OK;
}

static npde_status check_blocks(npde_backend_op op, int64_t m) {
  if (m < 1) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_%s: block count m = %lld must be >= 1",
                               npde_backend_op_name(op), (long long)m);
  return NPDE_OK;
}

/* ---------------------------------------------------------------- memory */

npde_status npde_backend_alloc(npde_backend *be, size_t bytes, void **ptr) {
  if (!ptr) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_alloc: NULL ptr");
  *ptr = NULL;
  NPDE_TRY(need(be, NPDE_OP_ALLOC, NPDE_F64));
  return OPS(be)->alloc(be, bytes, ptr);
}

void npde_backend_free(npde_backend *be, void *ptr) {
  if (ptr && valid_backend(be)) OPS(be)->free(be, ptr);
}

npde_status npde_backend_upload(npde_backend *be, void *dst, const void *host_src, size_t bytes) {
  NPDE_TRY(need(be, NPDE_OP_UPLOAD, NPDE_F64));
  if (!bytes) return NPDE_OK;
  if (!dst || !host_src) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_upload: NULL pointer");
  return OPS(be)->upload(be, dst, host_src, bytes);
}

npde_status npde_backend_download(npde_backend *be, void *host_dst, const void *src, size_t bytes) {
  NPDE_TRY(need(be, NPDE_OP_DOWNLOAD, NPDE_F64));
  if (!bytes) return NPDE_OK;
  if (!host_dst || !src) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_download: NULL pointer");
  return OPS(be)->download(be, host_dst, src, bytes);
}

npde_status npde_backend_copy(npde_backend *be, const npde_mat *src, npde_mat *dst) {
  NPDE_TRY(check_mat(NPDE_OP_COPY, "src", src));
  NPDE_TRY(need(be, NPDE_OP_COPY, src->dtype));
  NPDE_TRY(check_shape(NPDE_OP_COPY, "dst", dst, src->rows, src->cols, src->dtype));
  return OPS(be)->copy(be, src, dst);
}

npde_status npde_backend_fill(npde_backend *be, npde_mat *dst, double value) {
  NPDE_TRY(check_mat(NPDE_OP_FILL, "dst", dst));
  NPDE_TRY(need(be, NPDE_OP_FILL, dst->dtype));
  return OPS(be)->fill(be, dst, value);
}

npde_status npde_backend_convert(npde_backend *be, const npde_mat *src, npde_mat *dst) {
  NPDE_TRY(check_mat(NPDE_OP_CONVERT, "src", src));
  NPDE_TRY(check_mat(NPDE_OP_CONVERT, "dst", dst));
  NPDE_TRY(need(be, NPDE_OP_CONVERT, src->dtype));
  if (dst->rows != src->rows || dst->cols != src->cols)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_convert: dst is %lld x %lld, src %lld x %lld",
                      (long long)dst->rows, (long long)dst->cols, (long long)src->rows, (long long)src->cols);
  return OPS(be)->convert(be, src, dst);
}

/* ------------------------------------------------------------------ BLAS */

static void op_dims(const npde_mat *A, npde_trans t, int64_t *r, int64_t *c) {
  *r = t ? A->cols : A->rows;
  *c = t ? A->rows : A->cols;
}

static npde_status check_gemm(npde_backend_op op, npde_trans ta, npde_trans tb, const npde_mat *A, const npde_mat *B,
                              const npde_mat *C) {
  NPDE_TRY(check_mat(op, "A", A));
  int64_t m, k, k2, n;
  op_dims(A, ta, &m, &k);
  NPDE_TRY(check_mat(op, "B", B));
  op_dims(B, tb, &k2, &n);
  if (k2 != k || B->dtype != A->dtype)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_%s: op(A) is %lld x %lld but op(B) is %lld x %lld",
                      npde_backend_op_name(op), (long long)m, (long long)k, (long long)k2, (long long)n);
  return check_shape(op, "C", C, m, n, A->dtype);
}

npde_status npde_backend_gemm(npde_backend *be, npde_trans ta, npde_trans tb, double alpha, const npde_mat *A,
                              const npde_mat *B, double beta, npde_mat *C) {
  NPDE_TRY(check_gemm(NPDE_OP_GEMM, ta, tb, A, B, C));
  NPDE_TRY(need(be, NPDE_OP_GEMM, A->dtype));
  return OPS(be)->gemm(be, ta, tb, alpha, A, B, beta, C);
}

npde_status npde_backend_gemm_batched(npde_backend *be, npde_trans ta, npde_trans tb, double alpha,
                                      const npde_mat *A, int64_t stride_a, const npde_mat *B, int64_t stride_b,
                                      double beta, npde_mat *C, int64_t stride_c, int64_t batch) {
  NPDE_TRY(check_gemm(NPDE_OP_GEMM_BATCHED, ta, tb, A, B, C));
  NPDE_TRY(need(be, NPDE_OP_GEMM_BATCHED, A->dtype));
  if (batch < 0 || stride_a < 0 || stride_b < 0 || stride_c < 0)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_gemm_batched: negative batch or stride");
  return OPS(be)->gemm_batched(be, ta, tb, alpha, A, stride_a, B, stride_b, beta, C, stride_c, batch);
}

npde_status npde_backend_gemv(npde_backend *be, npde_trans ta, double alpha, const npde_mat *A, const npde_mat *x,
                              double beta, npde_mat *y) {
  NPDE_TRY(check_mat(NPDE_OP_GEMV, "A", A));
  NPDE_TRY(need(be, NPDE_OP_GEMV, A->dtype));
  int64_t m, k;
  op_dims(A, ta, &m, &k);
  NPDE_TRY(check_vector(NPDE_OP_GEMV, "x", x, k, A->dtype));
  NPDE_TRY(check_vector(NPDE_OP_GEMV, "y", y, m, A->dtype));
  return OPS(be)->gemv(be, ta, alpha, A, x, beta, y);
}

npde_status npde_backend_axpy(npde_backend *be, double alpha, const npde_mat *x, npde_mat *y) {
  NPDE_TRY(check_mat(NPDE_OP_AXPY, "x", x));
  NPDE_TRY(need(be, NPDE_OP_AXPY, x->dtype));
  NPDE_TRY(check_shape(NPDE_OP_AXPY, "y", y, x->rows, x->cols, x->dtype));
  return OPS(be)->axpy(be, alpha, x, y);
}

npde_status npde_backend_scal(npde_backend *be, double alpha, npde_mat *x) {
  NPDE_TRY(check_mat(NPDE_OP_SCAL, "x", x));
  NPDE_TRY(need(be, NPDE_OP_SCAL, x->dtype));
  return OPS(be)->scal(be, alpha, x);
}

npde_status npde_backend_dot(npde_backend *be, const npde_mat *x, const npde_mat *y, double *out) {
  NPDE_TRY(check_mat(NPDE_OP_DOT, "x", x));
  NPDE_TRY(need(be, NPDE_OP_DOT, x->dtype));
  NPDE_TRY(check_shape(NPDE_OP_DOT, "y", y, x->rows, x->cols, x->dtype));
  if (!out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_dot: NULL out");
  return OPS(be)->dot(be, x, y, out);
}

npde_status npde_backend_nrm2(npde_backend *be, const npde_mat *x, double *out) {
  NPDE_TRY(check_mat(NPDE_OP_NRM2, "x", x));
  NPDE_TRY(need(be, NPDE_OP_NRM2, x->dtype));
  if (!out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_nrm2: NULL out");
  return OPS(be)->nrm2(be, x, out);
}

npde_status npde_backend_trsm(npde_backend *be, npde_side side, npde_uplo uplo, npde_trans ta, npde_diag diag,
                              double alpha, const npde_mat *A, npde_mat *B) {
  NPDE_TRY(check_mat(NPDE_OP_TRSM, "B", B));
  NPDE_TRY(need(be, NPDE_OP_TRSM, B->dtype));
  int64_t n = side == NPDE_LEFT ? B->rows : B->cols;
  NPDE_TRY(check_shape(NPDE_OP_TRSM, "A", A, n, n, B->dtype));
  return OPS(be)->trsm(be, side, uplo, ta, diag, alpha, A, B);
}

/* -------------------------------------------------------- fused kernels */

npde_status npde_backend_activation(npde_backend *be, npde_activation act, const npde_mat *Z, npde_mat *S0,
                                    npde_mat *S1, npde_mat *S2) {
  NPDE_TRY(check_mat(NPDE_OP_ACTIVATION, "Z", Z));
  NPDE_TRY(need(be, NPDE_OP_ACTIVATION, Z->dtype));
  if ((unsigned)act >= NPDE_ACT_COUNT)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_activation: unknown activation %d", (int)act);
  npde_mat *outs[3] = {S0, S1, S2};
  static const char *const names[3] = {"S0", "S1", "S2"};
  int n_out = 0;
  for (int i = 0; i < 3; ++i) {
    if (!outs[i]) continue;
    ++n_out;
    NPDE_TRY(check_shape(NPDE_OP_ACTIVATION, names[i], outs[i], Z->rows, Z->cols, Z->dtype));
  }
  (void)n_out;
  for (int i = 0; i < 3; ++i)
    for (int j = i + 1; j < 3; ++j)
      if (outs[i] && outs[j] && outs[i]->data == outs[j]->data)
        return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_activation: %s and %s are the same buffer", names[i],
                          names[j]);
  return OPS(be)->activation(be, act, Z, S0, S1, S2);
}

npde_status npde_backend_mul_blocks(npde_backend *be, const npde_mat *S, const npde_mat *X, npde_mat *Y, int64_t m) {
  NPDE_TRY(check_mat(NPDE_OP_MUL_BLOCKS, "S", S));
  NPDE_TRY(need(be, NPDE_OP_MUL_BLOCKS, S->dtype));
  NPDE_TRY(check_blocks(NPDE_OP_MUL_BLOCKS, m));
  NPDE_TRY(check_shape(NPDE_OP_MUL_BLOCKS, "X", X, m * S->rows, S->cols, S->dtype));
  NPDE_TRY(check_shape(NPDE_OP_MUL_BLOCKS, "Y", Y, m * S->rows, S->cols, S->dtype));
  return OPS(be)->mul_blocks(be, S, X, Y, m);
}

npde_status npde_backend_jet2(npde_backend *be, const npde_mat *S1, const npde_mat *S2, const npde_mat *Xa,
                              const npde_mat *Xb, const npde_mat *Xdd, npde_mat *Y, int64_t m) {
  NPDE_TRY(check_mat(NPDE_OP_JET2, "S1", S1));
  NPDE_TRY(need(be, NPDE_OP_JET2, S1->dtype));
  NPDE_TRY(check_blocks(NPDE_OP_JET2, m));
  NPDE_TRY(check_shape(NPDE_OP_JET2, "S2", S2, S1->rows, S1->cols, S1->dtype));
  const npde_mat *stacks[4] = {Xa, Xb, Xdd, Y};
  static const char *const names[4] = {"Xa", "Xb", "Xdd", "Y"};
  for (int i = 0; i < 4; ++i)
    NPDE_TRY(check_shape(NPDE_OP_JET2, names[i], stacks[i], m * S1->rows, S1->cols, S1->dtype));
  return OPS(be)->jet2(be, S1, S2, Xa, Xb, Xdd, Y, m);
}

npde_status npde_backend_sinusoidal(npde_backend *be, const npde_mat *X, int64_t nfreq, double alpha, double amp,
                                    int order, int64_t dir, npde_mat *Y) {
  NPDE_TRY(check_mat(NPDE_OP_SINUSOIDAL, "X", X));
  NPDE_TRY(need(be, NPDE_OP_SINUSOIDAL, X->dtype));
  if (nfreq < 1 || order < 0 || order > 2)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_sinusoidal: need nfreq >= 1 and order 0, 1 or 2 "
                      "(got %lld, %d)", (long long)nfreq, order);
  NPDE_TRY(check_shape(NPDE_OP_SINUSOIDAL, "Y", Y, X->rows, 2 * nfreq * X->cols, X->dtype));
  if (dir < -1 || dir >= X->cols)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_sinusoidal: dir = %lld is not -1 or a coordinate in "
                      "[0, %lld)", (long long)dir, (long long)X->cols);
  return OPS(be)->sinusoidal(be, X, nfreq, alpha, amp, order, dir, Y);
}

npde_status npde_backend_row_scale(npde_backend *be, const npde_mat *s, const npde_mat *X, npde_mat *Y, int64_t m) {
  NPDE_TRY(check_mat(NPDE_OP_ROW_SCALE, "X", X));
  NPDE_TRY(need(be, NPDE_OP_ROW_SCALE, X->dtype));
  NPDE_TRY(check_blocks(NPDE_OP_ROW_SCALE, m));
  if (X->rows % m)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_row_scale: X has %lld rows, not a multiple of m = %lld",
                      (long long)X->rows, (long long)m);
  NPDE_TRY(check_vector(NPDE_OP_ROW_SCALE, "s", s, X->rows / m, X->dtype));
  NPDE_TRY(check_shape(NPDE_OP_ROW_SCALE, "Y", Y, X->rows, X->cols, X->dtype));
  return OPS(be)->row_scale(be, s, X, Y, m);
}

npde_status npde_backend_col_sums(npde_backend *be, double alpha, const npde_mat *X, double beta, npde_mat *y) {
  NPDE_TRY(check_mat(NPDE_OP_COL_SUMS, "X", X));
  NPDE_TRY(need(be, NPDE_OP_COL_SUMS, X->dtype));
  NPDE_TRY(check_vector(NPDE_OP_COL_SUMS, "y", y, X->cols, X->dtype));
  return OPS(be)->col_sums(be, alpha, X, beta, y);
}

npde_status npde_backend_add_row(npde_backend *be, double alpha, const npde_mat *b, npde_mat *X) {
  NPDE_TRY(check_mat(NPDE_OP_ADD_ROW, "X", X));
  NPDE_TRY(need(be, NPDE_OP_ADD_ROW, X->dtype));
  NPDE_TRY(check_vector(NPDE_OP_ADD_ROW, "b", b, X->cols, X->dtype));
  return OPS(be)->add_row(be, alpha, b, X);
}

npde_status npde_backend_transpose(npde_backend *be, const npde_mat *A, npde_mat *B) {
  NPDE_TRY(check_mat(NPDE_OP_TRANSPOSE, "A", A));
  NPDE_TRY(need(be, NPDE_OP_TRANSPOSE, A->dtype));
  NPDE_TRY(check_shape(NPDE_OP_TRANSPOSE, "B", B, A->cols, A->rows, A->dtype));
  if (A->data == B->data && A->rows * A->cols > 1)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_transpose: B aliases A");
  return OPS(be)->transpose(be, A, B);
}

npde_status npde_backend_csrmm(npde_backend *be, npde_trans ta, double alpha, const npde_csr *A, const npde_mat *X,
                               double beta, npde_mat *Y) {
  if (!A) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_csrmm: A is NULL");
  NPDE_TRY(need(be, NPDE_OP_CSRMM, A->dtype));
  if (A->rows < 0 || A->cols < 0 || A->nnz < 0 || (A->dtype != NPDE_F64 && A->dtype != NPDE_F32) ||
      (ta != NPDE_NO_TRANS && ta != NPDE_TRANS) || !A->rowptr || (A->nnz > 0 && (!A->colind || !A->values)))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_csrmm: A is not a valid CSR matrix (%lld x %lld, %lld entries)",
                      (long long)A->rows, (long long)A->cols, (long long)A->nnz);
  NPDE_TRY(check_mat(NPDE_OP_CSRMM, "X", X));
  const int64_t out_rows = ta == NPDE_TRANS ? A->cols : A->rows, in_rows = ta == NPDE_TRANS ? A->rows : A->cols;
  NPDE_TRY(check_shape(NPDE_OP_CSRMM, "X", X, in_rows, X->cols, A->dtype));
  NPDE_TRY(check_shape(NPDE_OP_CSRMM, "Y", Y, out_rows, X->cols, A->dtype));
  if (X->data == Y->data && X->rows * X->cols > 0)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_csrmm: Y aliases X");
  return OPS(be)->csrmm(be, ta, alpha, A, X, beta, Y);
}

npde_status npde_backend_adam(npde_backend *be, npde_mat *theta, const npde_mat *g, npde_mat *m, npde_mat *v,
                              double lr, double b1, double b2, double eps, int64_t step) {
  NPDE_TRY(check_mat(NPDE_OP_ADAM, "theta", theta));
  NPDE_TRY(need(be, NPDE_OP_ADAM, theta->dtype));
  NPDE_TRY(check_shape(NPDE_OP_ADAM, "g", g, theta->rows, theta->cols, theta->dtype));
  NPDE_TRY(check_shape(NPDE_OP_ADAM, "m", m, theta->rows, theta->cols, theta->dtype));
  NPDE_TRY(check_shape(NPDE_OP_ADAM, "v", v, theta->rows, theta->cols, theta->dtype));
  if (step < 1 || !(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1) || !(eps >= 0) || !isfinite(lr))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_adam: need step >= 1, 0 <= b1, b2 < 1, eps >= 0, "
                      "finite lr (got %lld, %g, %g, %g, %g)", (long long)step, b1, b2, eps, lr);
  return OPS(be)->adam(be, theta, g, m, v, lr, b1, b2, eps, step);
}

/* ------------------------------------------------------------------- RNG */

npde_status npde_backend_rng_uniform(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t counter, double lo,
                                     double hi, npde_mat *out) {
  NPDE_TRY(check_mat(NPDE_OP_RNG_UNIFORM, "out", out));
  NPDE_TRY(need(be, NPDE_OP_RNG_UNIFORM, out->dtype));
  if (!(hi >= lo)) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_rng_uniform: need lo <= hi");
  return OPS(be)->rng_uniform(be, seed, stream, counter, lo, hi, out);
}

npde_status npde_backend_rng_normal(npde_backend *be, uint64_t seed, uint64_t stream, uint64_t counter, double mean,
                                    double std, npde_mat *out) {
  NPDE_TRY(check_mat(NPDE_OP_RNG_NORMAL, "out", out));
  NPDE_TRY(need(be, NPDE_OP_RNG_NORMAL, out->dtype));
  if (!(std >= 0)) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_backend_rng_normal: need std >= 0");
  return OPS(be)->rng_normal(be, seed, stream, counter, mean, std, out);
}
