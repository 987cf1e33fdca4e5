/* Linear operators: block application with a column-by-column fallback. */
#include "npde/npde_linop.h"

npde_status npde_linop_apply_block(const npde_linop *A, const npde_mat *X, npde_mat *Y) {
  if (!A || !X || !Y || !A->matvec)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linop_apply_block: NULL operator, block or matvec");
  if (X->rows != A->n || Y->rows != A->n || X->cols != Y->cols)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linop_apply_block: operator is %lld x %lld, X is %lld x %lld, "
                      "Y is %lld x %lld", (long long)A->n, (long long)A->n, (long long)X->rows, (long long)X->cols,
                      (long long)Y->rows, (long long)Y->cols);
  if (A->matmat) return A->matmat(A->ctx, X, Y);
  for (int64_t j = 0; j < X->cols; ++j) {
    npde_mat x = npde_mat_sub(*X, 0, j, X->rows, 1), y = npde_mat_sub(*Y, 0, j, Y->rows, 1);
    NPDE_TRY(A->matvec(A->ctx, &x, &y));
  }
  return NPDE_OK;
}
