/* Cut-cell geometry of one control cell (docs/methods/nbm.md §2.4-2.9): the interface is
 * the zero set of the piecewise-linear interpolant of the 8 corner values
 * on the middle-cut decomposition into 5 tetrahedra, so neighbouring cells
 * cut their shared faces identically (the cut points lie on tet edges only). */
#include <math.h>
#include <string.h>

#include "nbm.h"

/* Corner k = 4a + 2b + c is P_abc. */
enum { P000 = 0, P001 = 1, P010 = 2, P011 = 3, P100 = 4, P101 = 5, P110 = 6, P111 = 7 };

static const int tets[5][4] = {
    {P000, P100, P010, P001}, {P110, P100, P010, P111}, {P101, P100, P111, P001},
    {P011, P111, P010, P001}, {P111, P100, P010, P001},
};

/* Each face as two triangles cut by the diagonal joining its odd corners. */
static const int face_tris[6][2][3] = {
    {{P000, P010, P001}, {P011, P010, P001}}, {{P110, P100, P111}, {P101, P100, P111}},
    {{P000, P100, P001}, {P101, P100, P001}}, {{P110, P010, P111}, {P011, P111, P010}},
    {{P000, P100, P010}, {P110, P100, P010}}, {{P101, P111, P001}, {P011, P111, P001}},
};

static void sub3(const double *a, const double *b, double *out) {
  for (int i = 0; i < 3; ++i) out[i] = a[i] - b[i];
}

static double tet_volume(const double *a, const double *b, const double *c, const double *d) {
  double u[3], v[3], w[3];
  sub3(b, a, u);
  sub3(c, a, v);
  sub3(d, a, w);
  const double det = u[0] * (v[1] * w[2] - v[2] * w[1]) - u[1] * (v[0] * w[2] - v[2] * w[0]) +
                     u[2] * (v[0] * w[1] - v[1] * w[0]);
  return fabs(det) / 6.0;
}

/* The root of the linear interpolant on edge (A, B), phi_A phi_B < 0 or one of them zero. */
static void crossing(const double *A, double pa, const double *B, double pb, double *Q) {
  for (int i = 0; i < 3; ++i) Q[i] = (pa * B[i] - pb * A[i]) / (pa - pb);
}

static void add_triangle(nbm_cell *cell, const double *a, const double *b, const double *c) {
  if (cell->n_tri >= NBM_MAX_TRIANGLES) return; /* cannot happen: at most 2 per tet */
  memcpy(cell->tri[cell->n_tri][0], a, 3 * sizeof *a);
  memcpy(cell->tri[cell->n_tri][1], b, 3 * sizeof *b);
  memcpy(cell->tri[cell->n_tri][2], c, 3 * sizeof *c);
  cell->n_tri++;
}

/* The phi < 0 volume of one tetrahedron and its interface triangles (§2.7). */
static double tet_negative(const double phi[8], const double corner[8][3], const int *t, nbm_cell *cell) {
  int o[4] = {t[0], t[1], t[2], t[3]};
  for (int i = 1; i < 4; ++i) /* sort by phi ascending (insertion sort of 4) */
    for (int j = i; j > 0 && phi[o[j]] < phi[o[j - 1]]; --j) {
      const int s = o[j];
      o[j] = o[j - 1];
      o[j - 1] = s;
    }
  const double *P[4] = {corner[o[0]], corner[o[1]], corner[o[2]], corner[o[3]]};
  const double f[4] = {phi[o[0]], phi[o[1]], phi[o[2]], phi[o[3]]};
  int eta = 0;
  for (int i = 0; i < 4; ++i) eta += f[i] < 0.0;
  double Q[4][4][3]; /* Q[i][j]: crossing on edge (i, j), i negative, j not */
  for (int i = 0; i < eta; ++i)
    for (int j = eta; j < 4; ++j) crossing(P[i], f[i], P[j], f[j], Q[i][j]);
  switch (eta) {
  case 0: return 0.0;
  case 1:
    add_triangle(cell, Q[0][1], Q[0][2], Q[0][3]);
    return tet_volume(P[0], Q[0][1], Q[0][2], Q[0][3]);
  case 2:
    add_triangle(cell, Q[0][2], Q[0][3], Q[1][3]);
    add_triangle(cell, Q[0][2], Q[1][2], Q[1][3]);
    return tet_volume(P[0], P[1], Q[0][2], Q[1][3]) + tet_volume(Q[1][2], P[1], Q[0][2], Q[1][3]) +
           tet_volume(P[0], Q[0][3], Q[0][2], Q[1][3]);
  case 3:
    add_triangle(cell, Q[0][3], Q[1][3], Q[2][3]);
    return tet_volume(P[0], P[1], P[2], P[3]) - tet_volume(P[3], Q[0][3], Q[1][3], Q[2][3]);
  default: return tet_volume(P[0], P[1], P[2], P[3]);
  }
}

/* The phi < 0 area of a triangle of area T under the linear interpolant of its vertex values (§2.8). */
static double triangle_negative(double a, double b, double c, double T) {
  double f[3] = {a, b, c};
  for (int i = 1; i < 3; ++i)
    for (int j = i; j > 0 && f[j] < f[j - 1]; --j) {
      const double s = f[j];
      f[j] = f[j - 1];
      f[j - 1] = s;
    }
  const int neg = (f[0] < 0.0) + (f[1] < 0.0) + (f[2] < 0.0);
  switch (neg) {
  case 0: return 0.0;
  case 1: return T * (f[0] / (f[0] - f[1])) * (f[0] / (f[0] - f[2]));
  case 2: return T - T * (f[2] / (f[2] - f[0])) * (f[2] / (f[2] - f[1]));
  default: return T;
  }
}

void nbm_cell_geometry(const double phi[8], const double corner[8][3], const double h[3], nbm_cell *cell) {
  const double V = h[0] * h[1] * h[2];
  const double face_area[6] = {h[1] * h[2], h[1] * h[2], h[0] * h[2], h[0] * h[2], h[0] * h[1], h[0] * h[1]};
  int negative = 0;
  for (int k = 0; k < 8; ++k) negative += phi[k] < 0.0;
  cell->n_tri = 0;
  if (negative == 8 || negative == 0) {
    const int s = negative == 8 ? NBM_MINUS : NBM_PLUS;
    cell->region = negative == 8 ? -1 : 1;
    cell->vol[s] = V;
    cell->vol[1 - s] = 0.0;
    for (int f = 0; f < 6; ++f) {
      cell->area[s][f] = face_area[f];
      cell->area[1 - s][f] = 0.0;
    }
    return;
  }
  cell->region = 0;
  double vneg = 0.0;
  for (int t = 0; t < 5; ++t) vneg += tet_negative(phi, corner, tets[t], cell);
  cell->vol[NBM_MINUS] = vneg;
  cell->vol[NBM_PLUS] = fmax(0.0, V - vneg);
  for (int f = 0; f < 6; ++f) {
    double aneg = 0.0;
    for (int t = 0; t < 2; ++t) {
      const int *v = face_tris[f][t];
      aneg += triangle_negative(phi[v[0]], phi[v[1]], phi[v[2]], 0.5 * face_area[f]);
    }
    cell->area[NBM_MINUS][f] = aneg;
    cell->area[NBM_PLUS][f] = fmax(0.0, face_area[f] - aneg);
  }
}

void nbm_cell_at(const nbm_problem *pb, const double c[3], const double h[3], nbm_cell *cell) {
  double corner[8][3], phi[8];
  for (int k = 0; k < 8; ++k) {
    const int bits[3] = {(k >> 2) & 1, (k >> 1) & 1, k & 1};
    for (int a = 0; a < 3; ++a) corner[k][a] = c[a] + ((double)bits[a] - 0.5) * h[a];
    phi[k] = pb->phi(corner[k], pb->user);
  }
  nbm_cell_geometry(phi, (const double(*)[3])corner, h, cell);
}

double nbm_interface_integral(const nbm_cell *cell, nbm_scalar_fn fn, const void *user) {
  double sum = 0.0;
  for (int t = 0; t < cell->n_tri; ++t) {
    const double(*v)[3] = cell->tri[t];
    double u[3], w[3];
    sub3(v[1], v[0], u);
    sub3(v[2], v[0], w);
    const double cx = u[1] * w[2] - u[2] * w[1], cy = u[2] * w[0] - u[0] * w[2], cz = u[0] * w[1] - u[1] * w[0];
    const double area = 0.5 * sqrt(cx * cx + cy * cy + cz * cz);
    if (area == 0.0) continue;
    sum += area * (fn(v[0], user) + fn(v[1], user) + fn(v[2], user)) / 3.0;
  }
  return sum;
}
