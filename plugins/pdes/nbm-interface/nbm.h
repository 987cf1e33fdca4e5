/* Private to the nbm-interface plugin and its tests: the level-set
 * interface problem (docs/methods/nbm.md §1), the cut-cell geometry (§2) and the
 * finite-volume kernel at one collocation point (§3). Plain C on doubles,
 * no core calls, so the tests link it directly. */
#ifndef NBM_H
#define NBM_H

#include <stdbool.h>
#include <stdint.h>

/* Sides of the interface: MINUS is phi < 0 (inside), PLUS is phi >= 0. */
enum { NBM_MINUS = 0, NBM_PLUS = 1 };

typedef double (*nbm_scalar_fn)(const double x[3], const void *user);
typedef void (*nbm_vector_fn)(const double x[3], const void *user, double out[3]);

/* The problem k u - div(mu grad u) = f on each side, [u] = alpha,
 * [mu du/dn] = beta (paper sign), u = g on the box (docs/methods/nbm.md §1.1). Each
 * per-side function must be defined (smoothly extended) everywhere. */
typedef struct nbm_problem {
  nbm_scalar_fn phi;            /* level set */
  nbm_vector_fn grad_phi;       /* its gradient (for beta's normal); NULL: central differences */
  nbm_scalar_fn mu[2], k[2], f[2];
  nbm_scalar_fn u[2];           /* exact solution per side (manufactured data); NULL if unknown */
  nbm_vector_fn grad_u[2];
  nbm_scalar_fn alpha, beta, g; /* NULL: derived from u and grad_u (docs/methods/nbm.md §1.2) */
  const void *user;             /* passed to every function */
  double lo[3], hi[3];          /* the box */
} nbm_problem;

double nbm_alpha(const nbm_problem *pb, const double x[3]);
double nbm_beta(const nbm_problem *pb, const double x[3]);
double nbm_boundary_value(const nbm_problem *pb, const double x[3]);
/* The exact solution of the side phi(x) selects (NaN without one). */
double nbm_exact(const nbm_problem *pb, const double x[3]);
static inline int nbm_side_of(double phi) { return phi >= 0.0 ? NBM_PLUS : NBM_MINUS; }

/* ---- geometry (docs/methods/nbm.md §2.4-2.9) ---- */

#define NBM_MAX_TRIANGLES 10

/* A control cell centred at c with sides h: corner k = 4a + 2b + c' is
 * c + ((a - 1/2) hx, (b - 1/2) hy, (c' - 1/2) hz). Faces in the order
 * -x, +x, -y, +y, -z, +z. */
typedef struct nbm_cell {
  int region;                 /* -1 all phi < 0, +1 all phi >= 0, 0 crossed */
  double vol[2];              /* V-, V+ */
  double area[2][6];          /* A-_f, A+_f */
  int n_tri;                  /* interface triangles (crossed cells) */
  double tri[NBM_MAX_TRIANGLES][3][3];
} nbm_cell;

/* Geometry from the 8 corner values and corner positions (corner[k][axis]). */
void nbm_cell_geometry(const double phi[8], const double corner[8][3], const double h[3], nbm_cell *cell);
/* The same, sampling phi at the corners of the cell centred at c. */
void nbm_cell_at(const nbm_problem *pb, const double c[3], const double h[3], nbm_cell *cell);
/* The area-weighted sum of fn over the cell's interface triangles (vertex means). */
double nbm_interface_integral(const nbm_cell *cell, nbm_scalar_fn fn, const void *user);

/* ---- the kernel (docs/methods/nbm.md §3) ---- */

typedef enum nbm_variant {
  NBM_CORRECTED = 0, /* ghost formulas exact for linear u across planar interfaces (§3.5) */
  NBM_FAITHFUL = 1   /* JAX-DIPS as published (§3.6), to reproduce its numbers */
} nbm_variant;

typedef struct nbm_options {
  nbm_variant variant;
  bool jump_mu_at_point; /* b / mu at q rather than at the projection x_Gamma (§6.5) */
  bool delta_normalised; /* delta = phi / |grad_h phi| instead of phi (§2.3; for non-SDF level sets) */
} nbm_options;

/* Offsets of stencil samples from p, in cells, lie in [-2, 2]^3; a sample
 * is (offset, side). */
#define NBM_OFFSET_SPAN 5
#define NBM_SLOTS (2 * NBM_OFFSET_SPAN * NBM_OFFSET_SPAN * NBM_OFFSET_SPAN)
#define NBM_MAX_SAMPLES (NBM_OFFSET_SPAN * NBM_OFFSET_SPAN * NBM_OFFSET_SPAN) /* one side per point; <= 81 used */

typedef struct nbm_sample {
  int8_t offset[3]; /* x = p + offset * h, componentwise */
  int8_t side;
  double x[3];
  double weight;    /* d r / d v */
} nbm_sample;

/* The residual at p as an affine function of network samples:
 * r = sum_j weight_j v_j + w0, v_j the value at x_j of the network of side_j. */
typedef struct nbm_stencil {
  int n;
  nbm_sample s[NBM_MAX_SAMPLES];
  double w0;
  double diag;     /* the nominal diagonal a_p the residual was divided by (1 on boundary rows) */
  bool crossed;    /* some stencil cell is crossed by the interface */
  bool boundary;   /* p is on the box: r = v(p) - g(p) */
} nbm_stencil;

/* The Jacobi-scaled finite-volume residual at p for cell size h. Returns 0,
 * or -1 if the geometry degenerates (a zero diagonal). */
int nbm_stencil_at(const nbm_problem *pb, const nbm_options *opt, const double p[3], const double h[3],
                   nbm_stencil *st);

#endif
