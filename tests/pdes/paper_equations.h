/* Vlasov and wave maps written as equation PDEs (docs/problems.md), in their plugins' order of operations so
 * that the rhs agrees bit for bit; shared by tests/pdes/test_pde_equation.c and tests/stages/test_equation_evolve.c.
 * Each is the start of a pde: map, to be closed with the initial condition and "}". The NBM sphere and star
 * presets as problem: expressions (shared with tests/stages/test_train.c). */
#ifndef NPDE_TEST_PAPER_EQUATIONS_H
#define NPDE_TEST_PAPER_EQUATIONS_H

#define VLASOV_E(j) "(-2*exp(-(x1*x1 + x2*x2 + x3*x3)))*x" #j
#define VLASOV_EQ                                                                                                \
  "{type: equation, dim: 6, boundary: dirichlet, rhs: ['-(((x4*u_x1 + " VLASOV_E(1) "*u_x4) + (x5*u_x2 + "          \
  VLASOV_E(2) "*u_x5)) + (x6*u_x3 + " VLASOV_E(3) "*u_x6))']"
#define WM_R2 "(((x - cx)*(x - cx) + y*y) + z*z)"
#define WM_K "rs/(" WM_R2 "*sqrt(" WM_R2 "))"
#define WM_YHY                                                                                                   \
  "((((((((((x - cx)*phi_xx)*(x - cx) + ((x - cx)*phi_xy)*y) + ((x - cx)*phi_xz)*z) + (y*phi_xy)*(x - cx))"        \
  " + (y*phi_yy)*y) + (y*phi_yz)*z) + (z*phi_xz)*(x - cx)) + (z*phi_yz)*y) + (z*phi_zz)*z)"
#define WM_YG "((((x - cx)*phi_x + y*phi_y) + z*phi_z))"
#define WAVE_MAPS_EQ                                                                                             \
  "{type: equation, dim: 3, boundary: dirichlet, fields: [phi, v], params: {rs: 1, cx: -2}, rhs: [v, '(1 - rs/"    \
  "sqrt(" WM_R2 "))*((lap_phi - " WM_K "*" WM_YHY ") - " WM_K "*" WM_YG ")']"

#define SPHERE_YAML                                                                                              \
  "{type: nbm-interface, problem: expressions, level_set: 'sqrt(x^2 + y^2 + z^2) - 0.5',"                        \
  " mu: ['y^2*log(x + 2) + 4', 'exp(-z)'], exact: ['exp(z)', 'cos(x)*sin(y)'],"                                  \
  " f: ['-(y^2*log(x + 2) + 4)*exp(z)', '2*exp(-z)*cos(x)*sin(y)']}"
#define STAR_YAML                                                                                                \
  "{type: nbm-interface, problem: expressions, params: {r0: 0.483},"                                             \
  " level_set: 'x^2 + y^2 + z^2 > 0 ? sqrt(x^2 + y^2 + z^2) - r0*(1 + ((x^2 + y^2)/(x^2 + y^2 + z^2))^2*"        \
  "(0.1*cos(3*(atan2(y, x) - 0.5)) - 0.1*cos(4*(atan2(y, x) - 1.8)) + 0.15*cos(7*atan2(y, x)))) : -r0',"         \
  " mu: ['10*(1 + 0.2*cos(2*pi*(x + y))*sin(2*pi*(x - y))*cos(z))', '1'],"                                       \
  " exact: ['sin(2*x)*cos(2*y)*exp(z)',"                                                                          \
  "         '(16*((y - x)/3)^5 - 20*((y - x)/3)^3 + 5*(y - x)/3)*log(x + y + 3)*cos(z)']}"

#endif
