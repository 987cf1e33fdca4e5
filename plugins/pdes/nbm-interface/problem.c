/* Jump and boundary data derived from a manufactured solution (docs/methods/nbm.md §1.2). */
#include <math.h>

#include "nbm.h"

static void normal_at(const nbm_problem *pb, const double x[3], double n[3]) {
  if (pb->grad_phi) {
    pb->grad_phi(x, pb->user, n);
  } else { /* central differences, step well above round-off for O(1) level sets */
    const double e = 1e-6;
    for (int a = 0; a < 3; ++a) {
      double xp[3] = {x[0], x[1], x[2]}, xm[3] = {x[0], x[1], x[2]};
      xp[a] += e;
      xm[a] -= e;
      n[a] = (pb->phi(xp, pb->user) - pb->phi(xm, pb->user)) / (2.0 * e);
    }
  }
  const double len = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
  for (int a = 0; a < 3; ++a) n[a] = len > 0.0 ? n[a] / len : 0.0;
}

double nbm_alpha(const nbm_problem *pb, const double x[3]) {
  if (pb->alpha) return pb->alpha(x, pb->user);
  return pb->u[NBM_PLUS](x, pb->user) - pb->u[NBM_MINUS](x, pb->user);
}

double nbm_beta(const nbm_problem *pb, const double x[3]) {
  if (pb->beta) return pb->beta(x, pb->user);
  double n[3], gm[3], gp[3];
  normal_at(pb, x, n);
  pb->grad_u[NBM_MINUS](x, pb->user, gm);
  pb->grad_u[NBM_PLUS](x, pb->user, gp);
  const double dm = gm[0] * n[0] + gm[1] * n[1] + gm[2] * n[2], dp = gp[0] * n[0] + gp[1] * n[1] + gp[2] * n[2];
  return pb->mu[NBM_PLUS](x, pb->user) * dp - pb->mu[NBM_MINUS](x, pb->user) * dm;
}

double nbm_boundary_value(const nbm_problem *pb, const double x[3]) {
  if (pb->g) return pb->g(x, pb->user);
  return pb->u[nbm_side_of(pb->phi(x, pb->user))](x, pb->user);
}

double nbm_exact(const nbm_problem *pb, const double x[3]) {
  const int s = nbm_side_of(pb->phi(x, pb->user));
  return pb->u[s] ? pb->u[s](x, pb->user) : NAN;
}
