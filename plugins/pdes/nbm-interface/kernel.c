/* The finite-volume kernel at one collocation point (docs/methods/nbm.md §3): the
 * Jacobi-scaled residual as an affine function of network samples (§3.8).
 *
 * Every quantity the residual needs (the pair (u-_q, u+_q) at the 7 stencil
 * points, ghosts included) is built as an affine form over sample slots,
 * a slot being (offset from p in cells, side). Offsets are small integers,
 * so positions are always p + offset * h computed the same way, and
 * samples shared by several stencil points merge exactly. */
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "nbm.h"

#define SPAN NBM_OFFSET_SPAN
#define HALF (SPAN / 2)

typedef struct form {
  double w[NBM_SLOTS];
  double c;
} form;

static int slot_of(const int o[3], int side) {
  return side * SPAN * SPAN * SPAN + ((o[0] + HALF) * SPAN + (o[1] + HALF)) * SPAN + (o[2] + HALF);
}

static void form_zero(form *f) { memset(f, 0, sizeof *f); }
/* f += a g */
static void form_axpy(form *f, double a, const form *g) {
  if (a == 0.0) return;
  for (int i = 0; i < NBM_SLOTS; ++i) f->w[i] += a * g->w[i];
  f->c += a * g->c;
}
static void form_scale(form *f, double a) {
  for (int i = 0; i < NBM_SLOTS; ++i) f->w[i] *= a;
  f->c *= a;
}

typedef struct ctx {
  const nbm_problem *pb;
  const nbm_options *opt;
  const double *p, *h;
} ctx;

static void position(const ctx *c, const int o[3], double x[3]) {
  for (int a = 0; a < 3; ++a) x[a] = c->p[a] + (double)o[a] * c->h[a];
}

/* The form of one network sample: the value at p + o h of the network of its own side. */
static void sample_form(const ctx *c, const int o[3], form *f) {
  double x[3];
  position(c, o, x);
  form_zero(f);
  f->w[slot_of(o, nbm_side_of(c->pb->phi(x, c->pb->user)))] = 1.0;
}

/* G+ = pseudo-inverse of the symmetric 3x3 G (relative cutoff 1e-10; empty G gives 0). */
static void pinv3(const double G[9], double out[9]) {
  double A[9], lam[3];
  memcpy(A, G, sizeof A);
  memset(out, 0, 9 * sizeof *out);
  if (LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', 3, A, 3, lam) != 0) return;
  const double top = fmax(fabs(lam[0]), fabs(lam[2]));
  if (!(top > 0.0)) return;
  for (int k = 0; k < 3; ++k) {
    if (fabs(lam[k]) <= 1e-10 * top) continue;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) out[i * 3 + j] += A[i * 3 + k] * A[j * 3 + k] / lam[k];
  }
}

/* The pair (u-_q, u+_q) at q = p + o h (§3.4-3.6); known: the cell of q if the caller has it, else NULL. */
static void pair_at(const ctx *c, const int o[3], const nbm_cell *known, form *um, form *up) {
  const nbm_problem *pb = c->pb;
  const void *user = pb->user;
  double q[3];
  position(c, o, q);
  nbm_cell cell;
  if (known) cell = *known;
  else nbm_cell_at(pb, q, c->h, &cell);
  form vq;
  sample_form(c, o, &vq);
  form_zero(um);
  form_zero(up);
  if (cell.region != 0) { /* the other side's value is never multiplied by a nonzero coefficient */
    *(cell.region < 0 ? um : up) = vq;
    return;
  }
  /* normal by central differences with the current h, signed distance, projection */
  const double phq = pb->phi(q, user);
  double n[3], gn = 0.0;
  for (int a = 0; a < 3; ++a) {
    double xp[3] = {q[0], q[1], q[2]}, xm[3] = {q[0], q[1], q[2]};
    xp[a] += c->h[a];
    xm[a] -= c->h[a];
    n[a] = (pb->phi(xp, user) - pb->phi(xm, user)) / (2.0 * c->h[a]);
    gn += n[a] * n[a];
  }
  gn = sqrt(gn);
  for (int a = 0; a < 3; ++a) n[a] = gn > 0.0 ? n[a] / gn : 0.0;
  const double delta = c->opt->delta_normalised && gn > 0.0 ? phq / gn : phq;
  double xg[3];
  for (int a = 0; a < 3; ++a) xg[a] = q[a] - delta * n[a];

  /* least-squares normal derivative on the bias side (the larger mu, decided at q) */
  const double mum = pb->mu[NBM_MINUS](q, user), mup = pb->mu[NBM_PLUS](q, user);
  const bool bias_minus = mum > mup;
  int member[26][3], n_member = 0;
  double d[26][3], G[9] = {0};
  for (int i = -1; i <= 1; ++i)
    for (int j = -1; j <= 1; ++j)
      for (int k = -1; k <= 1; ++k) {
        if (!i && !j && !k) continue;
        const int om[3] = {o[0] + i, o[1] + j, o[2] + k};
        double xm[3];
        position(c, om, xm);
        const double pm = pb->phi(xm, user);
        if (bias_minus ? !(pm < 0.0) : !(pm > 0.0)) continue;
        const double dm[3] = {i * c->h[0], j * c->h[1], k * c->h[2]};
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b) G[a * 3 + b] += dm[a] * dm[b];
        memcpy(member[n_member], om, sizeof om);
        memcpy(d[n_member], dm, sizeof dm);
        n_member++;
      }
  double Gp[9], Gn[3];
  pinv3(G, Gp);
  for (int a = 0; a < 3; ++a) Gn[a] = Gp[a * 3] * n[0] + Gp[a * 3 + 1] * n[1] + Gp[a * 3 + 2] * n[2];
  const double kappa = bias_minus ? (mup - mum) / mup : (mup - mum) / mum;
  /* sum_m zeta_m v_m and Z = sum_m zeta_m, zeta_m = kappa delta c_m, c_m = n^T G+ d_m */
  form zv;
  form_zero(&zv);
  double Z = 0.0;
  for (int m = 0; m < n_member; ++m) {
    const double zeta = kappa * delta * (Gn[0] * d[m][0] + Gn[1] * d[m][1] + Gn[2] * d[m][2]);
    form vm;
    sample_form(c, member[m], &vm);
    form_axpy(&zv, zeta, &vm);
    Z += zeta;
  }
  /* jump data at the projection; b / mu at x_Gamma or (option) at q */
  const double ja = nbm_alpha(pb, xg), jb = nbm_beta(pb, xg);
  const double *xmu = c->opt->jump_mu_at_point ? q : xg;
  const bool native_plus = phq > 0.0;
  const bool faithful = c->opt->variant == NBM_FAITHFUL;
  form *native = native_plus ? up : um, *ghost = native_plus ? um : up;
  *native = vq;
  form_zero(ghost);
  if (bias_minus) {
    const double jump = faithful ? ja - delta * jb / pb->mu[NBM_PLUS](xmu, user)  /* JAX-DIPS gets -beta */
                                 : ja + delta * jb / pb->mu[NBM_PLUS](xmu, user);
    if (!native_plus) { /* A1: u+ = v_q - sum zeta_m (v_m - v_q) + jump (both variants) */
      form_axpy(ghost, 1.0 + Z, &vq);
      form_axpy(ghost, -1.0, &zv);
      ghost->c += jump;
    } else if (!faithful) { /* A2: u- = [v_q + sum zeta_m v_m - jump] / (1 + Z) */
      form_axpy(ghost, 1.0, &vq);
      form_axpy(ghost, 1.0, &zv);
      ghost->c -= jump;
      form_scale(ghost, 1.0 / (1.0 + Z));
    } else { /* A2 as JAX-DIPS: v_q - sum gamma_m (v_m - v_q) - (1 + 2Z)/(1 + Z) jump, gamma = zeta / (1 + Z) */
      form_axpy(ghost, 1.0 + Z / (1.0 + Z), &vq);
      form_axpy(ghost, -1.0 / (1.0 + Z), &zv);
      ghost->c -= (1.0 + 2.0 * Z) / (1.0 + Z) * jump;
    }
  } else {
    const double jump = faithful ? ja - delta * jb / pb->mu[NBM_MINUS](xmu, user)
                                 : ja + delta * jb / pb->mu[NBM_MINUS](xmu, user);
    if (native_plus) { /* B1: u- = v_q +- sum zeta_m (v_m - v_q) - jump (JAX-DIPS has the minus sign) */
      const double s = faithful ? -1.0 : 1.0;
      form_axpy(ghost, 1.0 - s * Z, &vq);
      form_axpy(ghost, s, &zv);
      ghost->c -= jump;
    } else { /* B2: u+ = [v_q - sum zeta_m v_m + jump] / (1 - Z) (both variants) */
      form_axpy(ghost, 1.0, &vq);
      form_axpy(ghost, -1.0, &zv);
      ghost->c += jump;
      form_scale(ghost, 1.0 / (1.0 - Z));
    }
  }
}

static bool on_box(const nbm_problem *pb, const double p[3], const double h[3]) {
  for (int a = 0; a < 3; ++a)
    if (fabs(p[a] - pb->lo[a]) < 1e-6 * h[a] || fabs(p[a] - pb->hi[a]) < 1e-6 * h[a]) return true;
  return false;
}

static double beta_at(const double x[3], const void *user) { return nbm_beta(user, x); }

/* Scratch of the residual's forms; large, so callers of nbm_stencil_at keep it off their own frames. */
typedef struct work {
  form lhs, pair[7][2];
} work;

static int assemble(const ctx *c, work *wk, nbm_stencil *st) {
  const nbm_problem *pb = c->pb;
  const void *user = pb->user;
  const double *p = c->p, *h = c->h;
  nbm_cell cell;
  nbm_cell_at(pb, p, h, &cell);
  st->crossed = cell.region == 0;
  double coef[6][2], diag = 0.0;
  for (int f = 0; f < 6; ++f) {
    const int a = f / 2;
    double xf[3] = {p[0], p[1], p[2]};
    xf[a] += (f % 2 ? 0.5 : -0.5) * h[a];
    for (int s = 0; s < 2; ++s) {
      coef[f][s] = cell.area[s][f] > 0.0 ? pb->mu[s](xf, user) * cell.area[s][f] / h[a] : 0.0;
      diag += coef[f][s];
    }
  }
  double kp[2], rhs = 0.0;
  for (int s = 0; s < 2; ++s) {
    kp[s] = cell.vol[s] > 0.0 ? pb->k[s](p, user) * cell.vol[s] : 0.0;
    diag += kp[s];
    if (cell.vol[s] > 0.0) rhs += pb->f[s](p, user) * cell.vol[s];
  }
  rhs -= nbm_interface_integral(&cell, beta_at, pb);
  if (!(diag > 0.0) || !isfinite(diag)) return -1;

  const int zero[3] = {0, 0, 0};
  pair_at(c, zero, &cell, &wk->pair[0][0], &wk->pair[0][1]);
  form *lhs = &wk->lhs;
  form_zero(lhs);
  for (int s = 0; s < 2; ++s) form_axpy(lhs, kp[s], &wk->pair[0][s]);
  for (int f = 0; f < 6; ++f) {
    if (coef[f][0] == 0.0 && coef[f][1] == 0.0) continue;
    int o[3] = {0, 0, 0};
    o[f / 2] = f % 2 ? 1 : -1;
    pair_at(c, o, NULL, &wk->pair[1 + f][0], &wk->pair[1 + f][1]);
    for (int s = 0; s < 2; ++s) {
      form_axpy(lhs, coef[f][s], &wk->pair[0][s]);
      form_axpy(lhs, -coef[f][s], &wk->pair[1 + f][s]);
    }
  }
  lhs->c -= rhs;
  form_scale(lhs, 1.0 / diag);
  st->diag = diag;
  st->w0 = lhs->c;
  st->n = 0;
  for (int side = 0; side < 2; ++side)
    for (int i = 0; i < SPAN; ++i)
      for (int j = 0; j < SPAN; ++j)
        for (int k = 0; k < SPAN; ++k) {
          const int o[3] = {i - HALF, j - HALF, k - HALF};
          const double w = lhs->w[slot_of(o, side)];
          if (w == 0.0) continue;
          nbm_sample *smp = &st->s[st->n++];
          for (int a = 0; a < 3; ++a) smp->offset[a] = (int8_t)o[a];
          smp->side = (int8_t)side;
          position(c, o, smp->x);
          smp->weight = w;
        }
  return 0;
}

int nbm_stencil_at(const nbm_problem *pb, const nbm_options *opt, const double p[3], const double h[3],
                   nbm_stencil *st) {
  const ctx c = {pb, opt, p, h};
  st->crossed = false;
  st->boundary = on_box(pb, p, h);
  if (st->boundary) { /* weak Dirichlet: r = v(p) - g(p) */
    const int zero[3] = {0, 0, 0};
    nbm_sample *smp = &st->s[0];
    memset(smp, 0, sizeof *smp);
    smp->side = (int8_t)nbm_side_of(pb->phi(p, pb->user));
    position(&c, zero, smp->x);
    smp->weight = 1.0;
    st->n = 1;
    st->w0 = -nbm_boundary_value(pb, p);
    st->diag = 1.0;
    return 0;
  }
  static _Thread_local work wk; /* 15 forms of 2 kB: not on the caller's stack */
  return assemble(&c, &wk, st);
}
