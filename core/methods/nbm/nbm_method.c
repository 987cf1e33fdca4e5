/* The NBM method: its train stage, and what the run engine asks about the
 * interface PDEs it claims (one network output per side, its eval, and the
 * model's value as the output of the side a point lies on). */
#include <stdlib.h>

#include "nbm_impl.h"
#include "npde/npde_methods.h"

static bool claims(const npde_pde_info *info) { return info->sides > 0; }
static int64_t network_outputs(const npde_pde_info *info) { return info->sides; }
static int64_t model_outputs(int64_t K) {
  (void)K;
  return 1;
}

/* u(x) is the output of the side phi(x) selects (phi >= 0: outside, the second output). */
static npde_status model_value(const npde_pde *pde, const double *x, int64_t n, int64_t K, int64_t d,
                               const double *uk, const double *gk, double *u, double *grad) {
  double *phi = malloc((size_t)n * sizeof *phi);
  if (!phi) return NPDE_ERROR(NPDE_ERR_NOMEM, "npde_model_eval: out of memory");
  npde_status st = npde_pde_level_set(pde, x, n, phi);
  for (int64_t i = 0; st == NPDE_OK && i < n; ++i) {
    const int64_t side = phi[i] >= 0.0;
    u[i] = uk[i * K + side];
    if (grad)
      for (int64_t j = 0; j < d; ++j) grad[i * d + j] = gk[(i * K + side) * d + j];
  }
  free(phi);
  return st;
}

static const npde_run_method nbm = {
    .name = "nbm",
    .claims = claims,
    .network_outputs = network_outputs,
    .outputs_noun = "sides (one network each)",
    .eval = npde__eval_discrete,
    .model_outputs = model_outputs,
    .model_value = model_value,
};

npde_status npde_nbm_register(void) {
  NPDE_TRY(npde_run_register_stage(&npde__stage_train));
  return npde_run_register_method(&nbm);
}
