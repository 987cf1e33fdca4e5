/* Cut-cell geometry of the nbm-interface kernel (docs/methods/nbm.md §7.1): planar cuts
 * against closed-form half-space clipping, all corner sign patterns, and
 * the sphere totals of §2.9. */
#include <math.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "benchmarks.h"
#include "nbm.h"

static double uniform(double lo, double hi) { return lo + (hi - lo) * ((double)rand() / (double)RAND_MAX); }

static void cell_corners(const double c[3], const double h[3], double corner[8][3]) {
  for (int k = 0; k < 8; ++k) {
    const int bits[3] = {(k >> 2) & 1, (k >> 1) & 1, k & 1};
    for (int a = 0; a < 3; ++a) corner[k][a] = c[a] + ((double)bits[a] - 0.5) * h[a];
  }
}

/* Measure of {y in [0, h_1] x .. x [0, h_dim] : m . y < c} for m > 0, by
 * inclusion-exclusion over the box corners: sum_v (-1)^|v| max(0, c - m.v)^dim / (dim! prod m). */
static double halfspace_measure(int dim, const double *m, const double *h, double c, int power) {
  double sum = 0.0, prod = 1.0, fact = 1.0;
  for (int a = 0; a < dim; ++a) prod *= m[a];
  for (int k = 2; k <= power; ++k) fact *= k;
  for (int v = 0; v < (1 << dim); ++v) {
    double s = c;
    int bits = 0;
    for (int a = 0; a < dim; ++a)
      if (v >> a & 1) s -= m[a] * h[a], bits++;
    if (s > 0) sum += (bits % 2 ? -1.0 : 1.0) * pow(s, power);
  }
  return sum / (fact * prod);
}

/* phi = n.x - c on the cell [x0, x0 + h]: the exact V-, A-_f and interface area. */
static void planar_exact(const double n[3], double c, const double x0[3], const double h[3], double *vneg,
                         double aneg[6], double *iface) {
  /* shift to y in [0, h] with positive slopes: x_a = x0_a + y_a (n_a > 0), x0_a + h_a - y_a (n_a < 0) */
  double m[3], cc = c;
  for (int a = 0; a < 3; ++a) {
    m[a] = fabs(n[a]);
    cc -= n[a] * x0[a] + (n[a] < 0 ? n[a] * h[a] : 0.0);
  }
  *vneg = halfspace_measure(3, m, h, cc, 3);
  const double nn = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
  *iface = nn * halfspace_measure(3, m, h, cc, 2); /* |n| dV/dc, dV/dc = sum (.)^2 / (2 prod m) */
  for (int f = 0; f < 6; ++f) {
    const int a = f / 2, hi = f % 2;
    /* the face x_a = x0_a + hi h_a is y_a = hi h_a (n_a > 0) or (1 - hi) h_a (n_a < 0) */
    const double ya = (n[a] > 0) == (hi == 1) ? h[a] : 0.0;
    double m2[2], h2[2];
    int k = 0;
    for (int b = 0; b < 3; ++b)
      if (b != a) m2[k] = m[b], h2[k] = h[b], k++;
    aneg[f] = halfspace_measure(2, m2, h2, cc - m[a] * ya, 2);
  }
}

Test(nbm_geometry, planar_cuts_match_halfspace_clipping) {
  srand(7);
  const double h[3] = {0.1, 0.13, 0.08};
  const double centre[3] = {0.2, -0.3, 0.05};
  double corner[8][3];
  cell_corners(centre, h, corner);
  const double x0[3] = {corner[0][0], corner[0][1], corner[0][2]};
  for (int trial = 0; trial < 400; ++trial) {
    double n[3];
    for (int a = 0; a < 3; ++a) {
      n[a] = uniform(0.1, 1.0) * (rand() % 2 ? 1 : -1);
    }
    /* a plane through the cell; every 10th through a corner exactly (phi = 0 there) */
    double c = n[0] * centre[0] + n[1] * centre[1] + n[2] * centre[2] + uniform(-0.06, 0.06);
    double phi[8];
    if (trial % 10 == 0) c = n[0] * corner[trial % 8][0] + n[1] * corner[trial % 8][1] + n[2] * corner[trial % 8][2];
    for (int k = 0; k < 8; ++k) phi[k] = n[0] * corner[k][0] + n[1] * corner[k][1] + n[2] * corner[k][2] - c;
    nbm_cell cell;
    nbm_cell_geometry(phi, (const double(*)[3])corner, h, &cell);
    double vneg, aneg[6], iface;
    planar_exact(n, c, x0, h, &vneg, aneg, &iface);
    const double V = h[0] * h[1] * h[2];
    cr_expect(fabs(cell.vol[0] - vneg) <= 1e-13 * V, "trial %d: V- = %.15g, exact %.15g", trial, cell.vol[0], vneg);
    cr_expect(fabs(cell.vol[0] + cell.vol[1] - V) <= 1e-13 * V, "trial %d: V- + V+ != h^3", trial);
    for (int f = 0; f < 6; ++f) {
      const double A = h[(f / 2 + 1) % 3] * h[(f / 2 + 2) % 3];
      cr_expect(fabs(cell.area[0][f] - aneg[f]) <= 1e-12 * A, "trial %d face %d: A- = %.15g, exact %.15g", trial, f,
                cell.area[0][f], aneg[f]);
      cr_expect(fabs(cell.area[0][f] + cell.area[1][f] - A) <= 1e-12 * A, "trial %d face %d: A- + A+ != A", trial, f);
    }
    if (cell.region == 0) {
      double one_area = 0.0;
      for (int t = 0; t < cell.n_tri; ++t) {
        const double *a = cell.tri[t][0], *b = cell.tri[t][1], *d = cell.tri[t][2];
        const double u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, w[3] = {d[0] - a[0], d[1] - a[1], d[2] - a[2]};
        const double cx = u[1] * w[2] - u[2] * w[1], cy = u[2] * w[0] - u[0] * w[2], cz = u[0] * w[1] - u[1] * w[0];
        one_area += 0.5 * sqrt(cx * cx + cy * cy + cz * cz);
      }
      cr_expect(fabs(one_area - iface) <= 1e-12 * h[0] * h[1], "trial %d: |Gamma| = %.15g, exact %.15g", trial,
                one_area, iface);
    }
  }
}

Test(nbm_geometry, axis_aligned_plane) {
  const double h[3] = {1, 1, 1}, c[3] = {0.5, 0.5, 0.5};
  double corner[8][3], phi[8];
  cell_corners(c, h, corner);
  for (int k = 0; k < 8; ++k) phi[k] = corner[k][0] - 0.3; /* x < 0.3 is inside */
  nbm_cell cell;
  nbm_cell_geometry(phi, (const double(*)[3])corner, h, &cell);
  cr_expect(fabs(cell.vol[0] - 0.3) < 1e-15);
  cr_expect(fabs(cell.area[0][0] - 1.0) < 1e-15 && cell.area[0][1] == 0.0, "x faces: %g %g", cell.area[0][0],
            cell.area[0][1]);
  for (int f = 2; f < 6; ++f) cr_expect(fabs(cell.area[0][f] - 0.3) < 1e-15, "face %d: %g", f, cell.area[0][f]);
}

Test(nbm_geometry, every_sign_pattern) {
  srand(11);
  const double h[3] = {0.2, 0.2, 0.2}, c[3] = {0, 0, 0};
  double corner[8][3];
  cell_corners(c, h, corner);
  const double V = 0.008;
  for (int pattern = 0; pattern < 256; ++pattern) {
    double phi[8], flipped[8];
    for (int k = 0; k < 8; ++k) {
      phi[k] = uniform(0.01, 1.0) * (pattern >> k & 1 ? -1.0 : 1.0);
      flipped[k] = -phi[k];
    }
    nbm_cell a, b;
    nbm_cell_geometry(phi, (const double(*)[3])corner, h, &a);
    nbm_cell_geometry(flipped, (const double(*)[3])corner, h, &b);
    cr_expect(a.vol[0] >= 0.0 && a.vol[0] <= V * (1 + 1e-14), "pattern %d: V- = %g", pattern, a.vol[0]);
    cr_expect(fabs(a.vol[0] - b.vol[1]) <= 1e-14 && fabs(a.vol[1] - b.vol[0]) <= 1e-14,
              "pattern %d: flipping every sign must swap V- and V+", pattern);
    for (int f = 0; f < 6; ++f)
      cr_expect(fabs(a.area[0][f] - b.area[1][f]) <= 1e-14, "pattern %d face %d: areas must swap", pattern, f);
    /* lowering one corner value can only grow the inside */
    for (int k = 0; k < 8; ++k) {
      double lower[8];
      for (int j = 0; j < 8; ++j) lower[j] = phi[j];
      lower[k] -= 0.3;
      nbm_cell l;
      nbm_cell_geometry(lower, (const double(*)[3])corner, h, &l);
      cr_expect(l.vol[0] >= a.vol[0] - 1e-15, "pattern %d corner %d: V- fell from %g to %g", pattern, k, a.vol[0],
                l.vol[0]);
    }
    cr_expect_eq(a.region, pattern == 0 ? 1 : pattern == 255 ? -1 : 0, "pattern %d: region %d", pattern, a.region);
  }
}

static double one(const double x[3], const void *u) {
  (void)x;
  (void)u;
  return 1.0;
}

/* docs/methods/nbm.md §2.9: cells centred at linspace(-1, 1, N) nodes around |x| = 0.5. */
Test(nbm_geometry, sphere_totals) {
  const nbm_setup setup = {.id = NBM_SPHERE};
  nbm_problem pb;
  nbm_benchmark(&setup, &pb);
  const int Ns[3] = {8, 16, 32};
  const int crossed_want[3] = {56, 272, 1112};
  const double vol_want[3] = {0.439665, 0.504901, 0.519229}, area_want[3] = {2.863661, 3.081479, 3.127724};
  for (int t = 0; t < 3; ++t) {
    const int N = Ns[t];
    const double hh = 2.0 / (N - 1), h[3] = {hh, hh, hh};
    int crossed = 0;
    double vol = 0.0, area = 0.0;
    for (int i = 0; i < N; ++i)
      for (int j = 0; j < N; ++j)
        for (int k = 0; k < N; ++k) {
          const double c[3] = {-1 + i * hh, -1 + j * hh, -1 + k * hh};
          nbm_cell cell;
          nbm_cell_at(&pb, c, h, &cell);
          crossed += cell.region == 0;
          vol += cell.vol[0];
          area += nbm_interface_integral(&cell, one, NULL);
        }
    cr_expect_eq(crossed, crossed_want[t], "N = %d: %d crossed cells, expected %d", N, crossed, crossed_want[t]);
    cr_expect(fabs(vol - vol_want[t]) < 1e-6, "N = %d: sum V- = %.7f, expected %.6f", N, vol, vol_want[t]);
    cr_expect(fabs(area - area_want[t]) < 1e-6, "N = %d: sum |Gamma| = %.7f, expected %.6f", N, area, area_want[t]);
  }
}
