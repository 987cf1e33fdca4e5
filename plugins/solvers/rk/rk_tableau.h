/* Explicit Runge-Kutta tableaux as data: the table built from rk_tableaux.def.
 * Plain C with no npde calls, so tests compile it as well. */
#ifndef NPDE_RK_TABLEAU_H
#define NPDE_RK_TABLEAU_H

#define RK_MAX_STAGES 7

/* RK_ID_EULER, RK_ID_HEUN, ... in .def order; RK_N_METHODS rows. */
typedef enum rk_method_id {
#define RK_METHOD(ID, name, s, p, pe, summary, c, A, b, bh) RK_ID_##ID,
#include "rk_tableaux.def"
#undef RK_METHOD
  RK_N_METHODS
} rk_method_id;

/* One method: y_{n+1} = y_n + h sum_j b_j k_j with
 * k_i = f(t_n + c_i h, y_n + h sum_{j<i} a_ij k_j). The embedded solution uses
 * b_hat; embedded_order == 0 means there is none (fixed-step method). */
typedef struct rk_tableau {
  const char *name;
  const char *summary;
  int stages, order, embedded_order;
  double c[RK_MAX_STAGES];
  double a[RK_MAX_STAGES][RK_MAX_STAGES];
  double b[RK_MAX_STAGES];
  double b_hat[RK_MAX_STAGES];
} rk_tableau;

/* Every row of rk_tableaux.def, indexed by rk_method_id. */
extern const rk_tableau rk_tableaux[RK_N_METHODS];

/* The method called name, or NULL. */
const rk_tableau *rk_tableau_find(const char *name);

/* Name of a method id; "?" when out of range. */
const char *rk_method_name(int id);

#endif
