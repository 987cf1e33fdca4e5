/* The Butcher tableaux of rk_tableaux.def as a table, and id <-> name. */
#include <string.h>

#include "rk_tableau.h"

#define RK_METHOD(ID, NAME, S, P, PE, SUMMARY, C, A, B, BH)                                     \
  [RK_ID_##ID] = {.name = NAME, .summary = SUMMARY, .stages = S, .order = P, .embedded_order = PE, \
                  .c = C, .a = A, .b = B, .b_hat = BH},
const rk_tableau rk_tableaux[RK_N_METHODS] = {
#include "rk_tableaux.def"
};
#undef RK_METHOD

/* Rows fit the fixed-size arrays, and the exponent q = embedded_order + 1 is meaningful. */
#define RK_METHOD(ID, NAME, S, P, PE, SUMMARY, C, A, B, BH)                                        \
  _Static_assert((S) >= 1 && (S) <= RK_MAX_STAGES, NAME ": stage count out of range");             \
  _Static_assert((P) >= 1 && (PE) >= 0 && (PE) < (P), NAME ": embedded order must be below the order");
#include "rk_tableaux.def"
#undef RK_METHOD

const rk_tableau *rk_tableau_find(const char *name) {
  for (int i = 0; name && i < RK_N_METHODS; ++i)
    if (strcmp(rk_tableaux[i].name, name) == 0) return &rk_tableaux[i];
  return NULL;
}

const char *rk_method_name(int id) { return id >= 0 && id < RK_N_METHODS ? rk_tableaux[id].name : "?"; }
